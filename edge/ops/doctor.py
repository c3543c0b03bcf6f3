"""`edge doctor`: every check a maintainer runs first, one line each with the fix.

Each check returns `Finding`s (OK / WARN / FAIL + what to do). The checks reuse the code the
daemon and the other verbs use (config loader, model manifest, camera kinds, `uplink test`
steps, the daemon's health document), so doctor cannot pass where the daemon would fail.

The checks live in `edge.ops.checks`, one module per area (host, buses, cameras, uplinks,
service); this module runs them in order and turns findings into an exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge.ops.checks.base import FAIL, Context, Finding
from edge.ops.checks.buses import check_devices, check_serial
from edge.ops.checks.cameras import check_cameras, check_models
from edge.ops.checks.host import check_clock, check_config, check_data_dir
from edge.ops.checks.service import check_daemon, check_watchdog
from edge.ops.checks.uplinks import check_uplinks

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


__all__ = ["CHECKS", "Context", "Finding", "exit_code", "fetch_health", "run"]
