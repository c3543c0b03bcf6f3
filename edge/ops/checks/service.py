"""Doctor checks of the service: the systemd watchdog armed, the daemon's own health."""

from __future__ import annotations

import re
import shutil
import subprocess

from edge.ops.checks.base import FAIL, OK, WARN, Context, Finding


def check_watchdog(ctx: Context) -> list[Finding]:
    """Armed means the running daemon got a WatchdogSec from systemd (its health says so);
    with the daemon down, that the unit sets one."""
    if ctx.health is not None and "watchdog_s" in ctx.health:
        given = ctx.health["watchdog_s"]
        if isinstance(given, int | float) and given > 0:
            return [
                Finding(OK, "watchdog", f"armed: the daemon pets systemd every {given / 2:g} s")
            ]
        return [
            Finding(
                FAIL,
                "watchdog",
                "the running daemon has no systemd watchdog (started by hand, or the unit "
                "sets no WatchdogSec)",
                "run it as the service: systemctl restart edge (WatchdogSec=30s in the unit)",
            )
        ]
    if shutil.which("systemctl"):
        try:
            shown = subprocess.run(
                ["systemctl", "show", "edge", "-p", "WatchdogUSec", "-p", "LoadState"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            shown = ""
        if "LoadState=loaded" in shown:
            m = re.search(r"^WatchdogUSec=(\S+)", shown, re.M)
            if m and m.group(1) not in ("0", "infinity", ""):
                return [Finding(OK, "watchdog", f"armed (WatchdogUSec={m.group(1)})")]
            return [
                Finding(
                    FAIL,
                    "watchdog",
                    "the edge unit has no watchdog",
                    "set WatchdogSec=30s in the unit and systemctl daemon-reload",
                )
            ]
    try:
        text = ctx.unit_file.read_text(encoding="utf-8")
    except OSError:
        return [
            Finding(
                WARN,
                "watchdog",
                f"no unit file at {ctx.unit_file}",
                "install the service with scripts/install",
            )
        ]
    m = re.search(r"^WatchdogSec=(\S+)", text, re.M)
    if m and m.group(1) not in ("0", "infinity"):
        return [Finding(OK, "watchdog", f"unit {ctx.unit_file.name} sets WatchdogSec={m.group(1)}")]
    return [
        Finding(
            FAIL,
            "watchdog",
            f"{ctx.unit_file} sets no WatchdogSec",
            "add WatchdogSec=30s under [Service] (see systemd/edge.service)",
        )
    ]


def check_daemon(ctx: Context) -> list[Finding]:
    if ctx.health is None:
        return [
            Finding(
                FAIL,
                "daemon",
                f"not answering at {ctx.api}",
                "systemctl start edge; then journalctl -u edge -e (or `edge logs`)",
            )
        ]
    doc = ctx.health
    if doc.get("status") == "ok":
        return [
            Finding(
                OK, "daemon", f"healthy, v{doc.get('version')}, up {doc.get('uptime_s', 0):.0f} s"
            )
        ]
    problems = doc.get("problems") or [doc.get("status", "?")]
    return [
        Finding(
            FAIL,
            "daemon",
            f"{doc.get('status')}: {'; '.join(map(str, problems[:3]))}",
            "see `edge status` and `edge logs` for the failing part",
        )
    ]
