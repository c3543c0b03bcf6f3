"""The `edge` command.

Each command group lives in its own module under `edge.cli` and exposes
`register(subparsers)`; new groups plug in without editing this file, so the
field tools (bus scan, meter read, vision eval, ...) stay next to their code.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import edge.cli


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """All command groups, or with `only` just that module's (so `edge run` does not import
    the camera and vision tools' numpy/OpenCV/PyAV stacks: ~75 MB resident for nothing)."""
    parser = argparse.ArgumentParser(
        prog="edge",
        description="compound-edge: the residential-compound gateway daemon and its field tools.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(edge.cli.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "main":
            continue
        if only is not None and info.name != only:
            continue
        module = importlib.import_module(f"edge.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def _has_module(name: str) -> bool:
    return any(info.name == name for info in pkgutil.iter_modules(edge.cli.__path__))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # A command whose module has its name (run, status, config, ...) needs only that module.
    only = argv[0] if argv and argv[0].isidentifier() and argv[0] != "main" else None
    if only is not None and not _has_module(only):
        only = None
    # The config's device and uplink unions are built when edge.config is first imported,
    # by importing every plugin; a command module that imports a plugin first would leave
    # that plugin out of the union (a circular import). The full parser imports config.py
    # early by its sorted order; a single-module parser must do it on purpose.
    importlib.import_module("edge.config")
    parser = build_parser(only)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
