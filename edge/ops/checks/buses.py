"""Doctor checks of the field side: serial ports present and openable by the service user,
and every device answering (from the running daemon's health)."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
from pathlib import Path

from edge.ops.checks.base import FAIL, OK, WARN, Context, Finding


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
