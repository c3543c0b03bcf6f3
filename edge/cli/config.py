"""`edge config check|schema|show`: the installer's tools."""

from __future__ import annotations

import argparse
import sys

from edge.cli._common import add_json, load_or_report, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="check, show or export the schema of the YAML config")
    cs = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = cs.add_parser("check", help="validate a config file; one line per problem")
    check.add_argument("path")
    add_json(check)
    check.set_defaults(handler=_check)
    schema = cs.add_parser("schema", help="print the JSON Schema (for editors; always JSON)")
    add_json(schema)
    schema.set_defaults(handler=_schema)
    show = cs.add_parser("show", help="print the effective config, secrets redacted (JSON)")
    show.add_argument("path")
    add_json(show)
    show.set_defaults(handler=_show)


def _check(args: argparse.Namespace) -> int:
    """JSON: {"path", "ok", "problems": [str], "devices", "cameras", "uplinks"}."""
    if args.json:
        from edge.config import ConfigError, ConfigUnreadable, load_config

        try:
            cfg = load_config(args.path)
        except ConfigUnreadable as exc:
            print_json({"path": args.path, "ok": False, "problems": [f"cannot read: {exc}"]})
            return 2
        except ConfigError as exc:
            print_json({"path": args.path, "ok": False, "problems": [str(p) for p in exc.problems]})
            return 1
        print_json(
            {
                "path": args.path,
                "ok": True,
                "problems": [],
                "devices": len(cfg.devices),
                "cameras": len(cfg.cameras),
                "uplinks": len(cfg.uplinks),
            }
        )
        return 0
    loaded = load_or_report(args.path)
    if isinstance(loaded, int):
        return loaded
    print(
        f"{args.path}: ok ({len(loaded.devices)} devices, {len(loaded.cameras)} cameras, "
        f"{len(loaded.uplinks)} uplinks)"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    from edge.config.schema import json_schema

    sys.stdout.write(json_schema() + "\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    from edge.config.loader import redacted

    cfg = load_or_report(args.path, problems_to=sys.stderr)
    if isinstance(cfg, int):
        return cfg
    print_json(redacted(cfg))
    return 0
