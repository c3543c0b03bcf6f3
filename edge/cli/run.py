"""`edge run --config PATH`: the daemon."""

from __future__ import annotations

import argparse
import asyncio

from edge.cli._common import err


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the daemon")
    p.add_argument("--config", "-c", required=True, help="YAML config file")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from edge import log
    from edge.app import Daemon
    from edge.config import ConfigError, ConfigUnreadable, load_config

    try:
        cfg = load_config(args.config)
    except ConfigUnreadable as exc:
        err(f"cannot read config: {exc}")
        return 2
    except ConfigError as exc:
        for problem in exc.problems:
            err(str(problem))
        return 1
    log.setup(cfg.logging.format, cfg.logging.level, dict(cfg.logging.levels))
    asyncio.run(Daemon(cfg).run_until_stopped())
    return 0
