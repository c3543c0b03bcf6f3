"""`edge run --config PATH`: the daemon."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from edge.cli._common import CliError, load_or_report


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the daemon")
    p.add_argument("--config", "-c", required=True, help="YAML config file")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from edge import log
    from edge.app import Daemon

    _migrate_first(Path(args.config))
    cfg = load_or_report(args.config, problems_to=sys.stderr)
    if isinstance(cfg, int):
        return cfg
    log.setup(cfg.logging.format, cfg.logging.level, dict(cfg.logging.levels))
    try:
        asyncio.run(Daemon(cfg, Path(args.config)).run_until_stopped())
    except RuntimeError as exc:
        if "newer than this build" not in str(exc):
            raise
        raise CliError(
            f"{exc}. A downgrade cannot read it: install the newer compound-edge again, or "
            "restore the database backup kept beside it (edge.db.pre-v*.bak) to run this one"
        ) from None
    return 0


def _migrate_first(path: Path) -> None:
    """An upgrade's older config is migrated (original kept beside); a newer one refused."""
    from edge.config.migrate import ConfigVersionError, migrate_file

    try:
        done = migrate_file(path)
    except OSError:
        return  # load_or_report says what is wrong with the file
    except ConfigVersionError as exc:
        raise CliError(str(exc)) from None
    except Exception:  # not YAML, not a mapping: load_or_report reports it with line numbers
        return
    if done.backup is not None:
        print(f"migrated {path} from config_version {done.from_version} to "
              f"{done.to_version}; the original is {done.backup}", file=sys.stderr)  # fmt: skip
