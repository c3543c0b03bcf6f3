"""The `edge` command.

Each command group lives in its own module under `edge.cli` and exposes
`register(subparsers)`; the registry (`edge.registry`) lists them, so new groups
plug in without editing this file and the field tools stay next to their code.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from edge import __version__
from edge.cli._common import CliError, fail
from edge.registry import registry


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """All command groups, or with `only` just that module's (so `edge run` does not import
    the camera and vision tools' numpy/OpenCV/PyAV stacks: ~75 MB resident for nothing)."""
    parser = argparse.ArgumentParser(
        prog="edge",
        description="compound-edge: the residential-compound gateway daemon and its field tools.",
    )
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, group in registry().cli.items():
        if only is None or name == only:
            group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # A command whose module has its name (run, status, config, ...) needs only that module.
    only = argv[0] if argv and argv[0] in registry().cli else None
    parser = build_parser(only)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except CliError as exc:
        return fail(args, f"edge {args.command}: {exc}", exc.code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the contract: a sentence, never a traceback (EDGE_DEBUG=1 shows it)
        if os.environ.get("EDGE_DEBUG"):
            traceback.print_exc()
        return fail(
            args,
            f"edge {args.command}: unexpected {type(exc).__name__}: {_first_line(exc)}; "
            "run again with EDGE_DEBUG=1 for the details and report them",
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else "no message"


if __name__ == "__main__":
    sys.exit(main())
