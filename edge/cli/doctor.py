"""`edge doctor`: one line per check, OK / WARN / FAIL with the fix (edge/ops/doctor.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from edge.cli._common import CliError, add_json, api_url, print_json

DEFAULT_CONFIG = "/etc/edge/edge.yaml"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check everything a maintainer checks first (exit 1: FAIL)")
    p.add_argument("--config", "-c", help=f"config file (default: EDGE_CONFIG, {DEFAULT_CONFIG})")
    p.add_argument("--url", help="daemon API (default: the config's web.listen)")
    p.add_argument("--user", default="edge", help="the service user (for serial permissions)")
    p.add_argument("--unit", type=Path, help="unit file to check when systemctl is absent")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per network check (5)")
    add_json(p)
    p.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    """JSON: {"ok": bool, "findings": [{"status", "check", "message", "fix"}]}."""
    from edge.ops import doctor

    path = args.config or os.environ.get("EDGE_CONFIG") or DEFAULT_CONFIG
    if not Path(path).exists():
        raise CliError(f"no config at {path}; give one with --config")
    args.config = path
    try:
        api = api_url(args)
    except CliError:
        api = ""
    ctx = doctor.Context(path, api=api, service_user=args.user, timeout_s=args.timeout)
    if args.unit:
        ctx.unit_file = args.unit

    def progress(name: str) -> None:
        print(f"checking {name} ...", file=sys.stderr, flush=True)

    findings = doctor.run(ctx, progress)
    if args.json:
        print_json({"ok": doctor.exit_code(findings) == 0,
                    "findings": [f.as_dict() for f in findings]})  # fmt: skip
    else:
        for f in findings:
            print(f.line())
    return doctor.exit_code(findings)
