"""`edge run --config PATH`: the daemon."""

from __future__ import annotations

import argparse
import asyncio
import sys

from edge.cli._common import load_or_report


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the daemon")
    p.add_argument("--config", "-c", required=True, help="YAML config file")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from edge import log
    from edge.app import Daemon

    cfg = load_or_report(args.config, problems_to=sys.stderr)
    if isinstance(cfg, int):
        return cfg
    log.setup(cfg.logging.format, cfg.logging.level, dict(cfg.logging.levels))
    asyncio.run(Daemon(cfg).run_until_stopped())
    return 0
