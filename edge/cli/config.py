"""`edge config check|schema|show`: the installer's tools."""

from __future__ import annotations

import argparse
import json
import sys

from edge.cli._common import load_or_report


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="check, show or export the schema of the YAML config")
    cs = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = cs.add_parser("check", help="validate a config file; one line per problem")
    check.add_argument("path")
    check.set_defaults(handler=_check)
    schema = cs.add_parser("schema", help="print the JSON Schema (for editors)")
    schema.set_defaults(handler=_schema)
    show = cs.add_parser("show", help="print the effective config, secrets redacted")
    show.add_argument("path")
    show.set_defaults(handler=_show)


def _check(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.path)
    if isinstance(cfg, int):
        return cfg
    print(
        f"{args.path}: ok ({len(cfg.devices)} devices, {len(cfg.cameras)} cameras, "
        f"{len(cfg.uplinks)} uplinks)"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    from edge.config.schema import json_schema

    sys.stdout.write(json_schema() + "\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    from edge.config.loader import redacted

    cfg = load_or_report(args.path)
    if isinstance(cfg, int):
        return cfg
    print(json.dumps(redacted(cfg), ensure_ascii=False, indent=2))
    return 0
