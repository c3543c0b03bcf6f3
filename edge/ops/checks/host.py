"""Doctor checks of the box itself: the config loads, the data dir is writable with room,
the clock is synchronised (NTP, and each platform's offset from the daemon's health)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from edge.ops.checks.base import FAIL, OK, WARN, Context, Finding

MIN_FREE_BYTES = 1 << 30


CLOCK_WARN_S, CLOCK_FAIL_S = 2.0, 30.0


def check_config(ctx: Context) -> list[Finding]:
    from edge.config import ConfigError, ConfigUnreadable, load_config

    try:
        ctx.config = load_config(ctx.config_path)
    except ConfigUnreadable as exc:
        return [
            Finding(
                FAIL,
                "config",
                f"cannot read {ctx.config_path}: {exc}",
                "give the right file with --config (installed: /etc/edge/edge.yaml)",
            )
        ]
    except ConfigError as exc:
        first = str(exc.problems[0]) if exc.problems else "invalid"
        return [
            Finding(
                FAIL,
                "config",
                f"{len(exc.problems)} problem(s), first: {first}",
                f"run `edge config check {ctx.config_path}` and fix each line",
            )
        ]
    c = ctx.config
    return [
        Finding(
            OK,
            "config",
            f"valid ({len(c.devices)} devices, {len(c.cameras)} cameras, {len(c.uplinks)} uplinks)",
        )
    ]


def check_data_dir(ctx: Context) -> list[Finding]:
    assert ctx.config is not None
    data = Path(ctx.config.storage.data_dir)
    if not data.exists():
        parent = next((p for p in data.parents if p.exists()), Path("/"))
        if not os.access(parent, os.W_OK):
            return [
                Finding(
                    FAIL,
                    "data dir",
                    f"{data} does not exist and {parent} is not writable",
                    f"create it: install -d -o edge -g edge {data}",
                )
            ]
        return [
            Finding(
                WARN,
                "data dir",
                f"{data} does not exist yet",
                "the daemon creates it at start; or run scripts/install",
            )
        ]
    if not data.is_dir():
        return [
            Finding(
                FAIL, "data dir", f"{data} is not a folder", "point storage.data_dir at a folder"
            )
        ]
    try:
        with tempfile.NamedTemporaryFile(dir=data, prefix=".doctor-"):
            pass
    except OSError as exc:
        return [
            Finding(
                FAIL,
                "data dir",
                f"{data} is not writable ({exc.strerror})",
                f"chown -R edge:edge {data}",
            )
        ]
    free = shutil.disk_usage(data).free
    if free < MIN_FREE_BYTES:
        return [
            Finding(
                WARN,
                "data dir",
                f"{data} writable, only {free >> 20} MB free",
                "free space or lower storage.max_bytes",
            )
        ]
    return [Finding(OK, "data dir", f"{data} writable, {free >> 30} GB free")]


def check_clock(ctx: Context) -> list[Finding]:
    """NTP via timedatectl when present; else the 视图库/GB platform's offset from health."""
    offsets = []
    for key, section in (ctx.health or {}).items():
        if key.startswith("uplink.") and isinstance(section, dict):
            off = section.get("time_offset_s")
            if isinstance(off, int | float):
                offsets.append((key.removeprefix("uplink."), float(off)))
    out: list[Finding] = []
    for name, off in offsets:
        status = FAIL if abs(off) >= CLOCK_FAIL_S else WARN if abs(off) >= CLOCK_WARN_S else OK
        out.append(
            Finding(
                status,
                "clock",
                f"{off:+.1f} s against {name}'s time",
                "enable NTP (timedatectl set-ntp true) or set the time",
            )
        )
    if shutil.which("timedatectl"):
        try:
            shown = subprocess.run(
                ["timedatectl", "show"], capture_output=True, text=True, timeout=5, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            shown = ""
        synced = re.search(r"^NTPSynchronized=(\w+)", shown, re.M)
        if synced and synced.group(1) == "yes":
            out.append(Finding(OK, "clock", "synchronised by NTP"))
        elif synced:
            out.append(
                Finding(
                    WARN,
                    "clock",
                    "not synchronised by NTP",
                    "timedatectl set-ntp true; check the NTP server is reachable",
                )
            )
    if not out:
        out.append(
            Finding(
                WARN,
                "clock",
                "no NTP status and no platform offset to compare",
                "install systemd-timesyncd or chrony",
            )
        )
    return out
