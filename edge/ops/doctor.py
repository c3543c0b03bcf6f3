"""`edge doctor`: every check a maintainer runs first, one line each with the fix.

Each check returns `Finding`s (OK / WARN / FAIL + what to do). The checks reuse the code the
daemon and the other verbs use (config loader, model manifest, camera kinds, `uplink test`
steps, the daemon's health document), so doctor cannot pass where the daemon would fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import grp
import io
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.config import EdgeConfig

OK, WARN, FAIL = "OK", "WARN", "FAIL"
MIN_FREE_BYTES = 1 << 30
CLOCK_WARN_S, CLOCK_FAIL_S = 2.0, 30.0
# Installed unit first; from a checkout, the repo's (when systemctl is absent, e.g. a container).
UNIT_FILE = next(
    (
        p
        for p in (
            Path("/etc/systemd/system/edge.service"),
            Path(__file__).resolve().parents[2] / "systemd" / "edge.service",
        )
        if p.exists()
    ),
    Path("/etc/systemd/system/edge.service"),
)


@dataclass(frozen=True)
class Finding:
    status: str
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.check}: {self.message}"
        return text + (f" -> {self.fix}" if self.fix and self.status != OK else "")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Context:
    """What the checks share: the config, the daemon's health document (None when down)."""

    config_path: str
    config: EdgeConfig | None = None
    health: dict[str, Any] | None = None
    api: str = ""
    service_user: str = "edge"
    unit_file: Path = UNIT_FILE
    timeout_s: float = 5.0


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


def _user_groups(user: str) -> set[int] | None:
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    return {pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}


def _unit_groups(unit_file: Path) -> set[int]:
    """The unit's SupplementaryGroups=: the service has them even if the user is not a member."""
    try:
        text = unit_file.read_text(encoding="utf-8")
    except OSError:
        return set()
    gids = set()
    for names in re.findall(r"^SupplementaryGroups=(.*)$", text, re.M):
        for name in names.split():
            with contextlib.suppress(KeyError):
                gids.add(grp.getgrnam(name).gr_gid)
    return gids


def _may_open(st: os.stat_result, user: str, gids: set[int]) -> bool:
    """Read and write, by the permission bits the kernel checks first (owner, group, other)."""
    if user == "root":
        return True
    with contextlib.suppress(KeyError):
        if st.st_uid == pwd.getpwnam(user).pw_uid:
            return st.st_mode & 0o600 == 0o600
    if st.st_gid in gids:
        return st.st_mode & 0o060 == 0o060
    return st.st_mode & 0o006 == 0o006


def check_serial(ctx: Context) -> list[Finding]:
    assert ctx.config is not None
    out = []
    groups = _user_groups(ctx.service_user)
    service_gids = None if groups is None else groups | _unit_groups(ctx.unit_file)
    for bus in ctx.config.buses:
        port = getattr(bus, "port", None)
        if getattr(bus, "type", "") != "serial" or not isinstance(port, str):
            continue
        name = f"serial {bus.id}"
        if "://" in port:
            out.append(Finding(OK, name, f"{port} (network converter, checked with the devices)"))
            continue
        path = Path(port)
        if not path.exists():
            out.append(
                Finding(
                    FAIL,
                    name,
                    f"{port} is missing",
                    "plug in the RS-485 adapter or fix buses[].port (ls -l /dev/serial/by-id/)",
                )
            )
            continue
        st = path.stat()
        if service_gids is None:
            ok = os.access(path, os.R_OK | os.W_OK)
            who = "this user"
        else:
            ok = _may_open(st, ctx.service_user, service_gids)
            who = f"user {ctx.service_user}"
        if ok:
            out.append(Finding(OK, name, f"{port} present, {who} may use it"))
            continue
        group = grp.getgrgid(st.st_gid).gr_name
        fix = (
            f'chmod g+rw {port} (and a udev rule with MODE="0660" to keep it)'
            if service_gids and st.st_gid in service_gids
            else f"usermod -aG {group} {ctx.service_user}"
        )
        out.append(Finding(FAIL, name, f"{port} present but {who} may not open it", fix))
    return out


def check_models(ctx: Context) -> list[Finding]:
    assert ctx.config is not None
    from edge.vision.models import load_manifest, sha256_file

    vision = ctx.config.vision
    manifest = Path(vision.manifest)
    models_dir = Path(os.environ.get("EDGE_MODELS_DIR") or vision.models_dir)
    needed = any(getattr(c, "pipelines", None) for c in ctx.config.cameras)
    if not manifest.is_file():
        status = FAIL if needed else WARN
        return [
            Finding(
                status,
                "models",
                f"no manifest at {manifest}",
                "run scripts/fetch-models --dest " + str(models_dir),
            )
        ]
    try:
        specs = load_manifest(manifest).models
    except (OSError, ValueError) as exc:
        return [Finding(FAIL, "models", f"manifest unreadable: {exc}", "re-fetch the models")]
    bad = []
    for spec in specs:
        path = models_dir / spec.file
        if not path.is_file():
            bad.append(f"{spec.file} missing")
        elif sha256_file(path) != spec.sha256:
            bad.append(f"{spec.file} checksum differs")
    if bad:
        return [
            Finding(FAIL, "models", "; ".join(bad), f"run scripts/fetch-models --dest {models_dir}")
        ]
    return [Finding(OK, "models", f"{len(specs)} present, checksums match")]


async def _probe_camera(cam: Any, timeout_s: float) -> Finding:
    from contextlib import aclosing

    from edge.camera.errors import CameraError
    from edge.camera.kinds import camera_kind
    from edge.camera.source import SourceTiming

    name = f"camera {cam.id}"
    timing = SourceTiming(open_timeout_s=timeout_s, read_timeout_s=timeout_s, reconnect_min_s=1)
    frames = 0
    try:
        source = camera_kind(cam.kind).from_config(cam, timing, None)
        async with asyncio.timeout(timeout_s * 2), aclosing(source.single_session()) as s:
            async for _frame in s:
                frames += 1
                if frames >= 3:
                    break
    except (CameraError, OSError, TimeoutError, ValueError) as exc:
        return Finding(
            FAIL,
            name,
            f"no picture: {exc or 'timed out'}",
            "check the camera's address, credentials and network (edge camera probe URL)",
        )
    st = source.state
    if not frames:
        return Finding(FAIL, name, "connected but sent no frame", "check the stream settings")
    fps = st.fps_nominal or st.fps_received
    return Finding(OK, name, f"{st.codec or '?'} {st.width}x{st.height} {fps or 0:.1f} fps")


def check_cameras(ctx: Context) -> list[Finding]:
    assert ctx.config is not None
    cams = [c for c in ctx.config.cameras if getattr(c, "enabled", True)]

    async def all_() -> list[Finding]:
        return list(await asyncio.gather(*(_probe_camera(c, ctx.timeout_s) for c in cams)))

    return asyncio.run(all_()) if cams else []


def check_devices(ctx: Context) -> list[Finding]:
    if ctx.health is None:
        return [
            Finding(
                WARN,
                "devices",
                "daemon not running: buses and devices not checked",
                "start the daemon, or read one device with `edge meter read`",
            )
        ]
    out = []
    for d in ctx.health.get("devices", []):
        name = f"device {d['device']}"
        if d.get("available") is False:
            out.append(
                Finding(
                    FAIL,
                    name,
                    f"not answering: {d.get('last_error') or '?'}",
                    "check its address, wiring and the bus settings "
                    "(edge meter read / edge modbus read)",
                )
            )
        elif d.get("available") is None:
            out.append(Finding(WARN, name, "not polled yet", "wait one poll interval"))
        else:
            out.append(Finding(OK, name, "answering"))
    return out


def check_uplinks(ctx: Context) -> list[Finding]:
    """The `edge uplink test` steps per destination (connect, authenticate, round trip)."""
    assert ctx.config is not None
    from edge.cli.uplink import run_test, steps_doc

    out = []
    for name, up in ctx.config.uplinks.items():
        kind = getattr(up, "type", "")
        if not getattr(up, "enabled", True) or kind not in ("mqtt", "gat1400", "gb28181"):
            continue
        if kind == "mqtt" and not getattr(up, "url", ""):
            out.append(
                Finding(
                    WARN,
                    f"uplink {name}",
                    "no url: events queue, nothing is sent",
                    "set the broker url (or EDGE_MQTT_URL)",
                )
            )
            continue
        args = argparse.Namespace(
            type=kind, config=ctx.config_path, name=name, url=None, timeout=ctx.timeout_s, json=True
        )
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                code = run_test(args)
            except Exception as exc:  # a check must report, not stop doctor
                code = 1
                print(f"  FAIL  test: {exc}")
        doc = steps_doc(kind, code, buf.getvalue())
        failed = [s["text"] for s in doc["steps"] if s["status"] == "FAIL"]
        if code == 0:
            out.append(Finding(OK, f"uplink {name}", f"{kind}: {len(doc['steps'])} steps passed"))
        else:
            out.append(
                Finding(
                    FAIL,
                    f"uplink {name}",
                    f"{kind}: {failed[0] if failed else 'failed'}",
                    f"edge uplink test {kind} --config {ctx.config_path} --name {name}",
                )
            )
    return out


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


CHECKS: list[Callable[[Context], list[Finding]]] = [
    check_config,
    check_data_dir,
    check_clock,
    check_serial,
    check_models,
    check_cameras,
    check_devices,
    check_uplinks,
    check_watchdog,
    check_daemon,
]


def fetch_health(api: str, timeout_s: float) -> dict[str, Any] | None:
    from edge.cli._common import get_json

    try:
        _code, doc = get_json(api + "/api/health", timeout_s)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def run(ctx: Context, progress: Callable[[str], None] | None = None) -> list[Finding]:
    findings = check_config(ctx)
    if ctx.config is None:
        return findings
    ctx.health = fetch_health(ctx.api, ctx.timeout_s) if ctx.api else None
    for check in CHECKS[1:]:
        if progress:
            progress(check.__name__.removeprefix("check_"))
        try:
            findings += check(ctx)
        except Exception as exc:  # one broken check must not hide the others
            name = check.__name__.removeprefix("check_")
            findings.append(
                Finding(
                    FAIL,
                    name,
                    f"the check itself failed: {exc}",
                    "report this with `edge diag bundle`",
                )
            )
    return findings


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.status == FAIL for f in findings) else 0
