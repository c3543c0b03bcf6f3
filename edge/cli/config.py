"""`edge config check|schema|show`: the installer's tools."""

from __future__ import annotations

import argparse
import sys

from edge.cli._common import CliError, add_json, load_or_raise, load_or_report, print_json


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
    mig = cs.add_parser(
        "migrate", help="bring an older config_version up to this build's (original kept)"
    )
    mig.add_argument("path")
    mig.add_argument("--dry-run", action="store_true", help="say what would change")
    add_json(mig)
    mig.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    """JSON: {"path", "from_version", "to_version", "backup"}."""
    from pathlib import Path

    from edge.config.migrate import ConfigVersionError, migrate_file

    try:
        done = migrate_file(Path(args.path), dry_run=args.dry_run)
    except OSError as exc:
        raise CliError(f"cannot read or write {args.path}: {exc.strerror}") from None
    except ConfigVersionError as exc:
        raise CliError(str(exc), 1) from None
    except Exception as exc:  # yaml.YAMLError: the line and column are in its text
        raise CliError(f"{args.path} is not readable YAML: {exc}".replace("\n", " ")) from None
    doc = {
        "path": str(done.path),
        "from_version": done.from_version,
        "to_version": done.to_version,
        "backup": str(done.backup) if done.backup else None,
    }
    if args.json:
        print_json(doc)
    elif done.backup is None:
        print(f"{args.path}: already config_version {done.to_version}")
    else:
        verb = "would migrate" if args.dry_run else "migrated"
        print(f"{args.path}: {verb} config_version {done.from_version} -> {done.to_version}, "
              f"original kept as {done.backup}")  # fmt: skip
    return 0


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

    print_json(redacted(load_or_raise(args.path)))
    return 0
