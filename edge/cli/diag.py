"""`edge diag bundle`: one archive for support, without secrets or faces (edge/ops/bundle.py)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

from edge.cli._common import (
    CliError,
    add_json,
    api_token,
    api_url,
    get_json,
    load_or_raise,
    print_json,
)
from edge.cli.doctor import DEFAULT_CONFIG
from edge.cli.logs import daemon_log_file


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("diag", help="diagnostics for support")
    ds = p.add_subparsers(dest="diag_command", metavar="ACTION", required=True)
    b = ds.add_parser("bundle", help="logs, redacted config, health, store stats, versions")
    b.add_argument("--config", "-c", help=f"config file (default: EDGE_CONFIG, {DEFAULT_CONFIG})")
    b.add_argument("--output", "-o", type=Path, help="archive path (default: ./edge-diag-*.tgz)")
    b.add_argument("--days", type=int, default=3, help="days of logs (3)")
    b.add_argument(
        "--log-file",
        type=Path,
        help="read the log from this file (default: where the running daemon's stderr goes, "
        "else the journal)",
    )
    b.add_argument("--url", help="daemon API (default: the config's web.listen)")
    b.add_argument("--no-doctor", action="store_true", help="skip running edge doctor")
    add_json(b)
    b.set_defaults(handler=_bundle)


def _bundle(args: argparse.Namespace) -> int:
    """JSON: {"path", "members": [name], "bytes"}."""
    from edge.config.loader import redacted
    from edge.ops import bundle, doctor

    path = args.config or os.environ.get("EDGE_CONFIG") or DEFAULT_CONFIG
    cfg = load_or_raise(path)
    args.config = path
    secrets = bundle.config_secrets(cfg) + bundle.env_secrets(dict(os.environ))
    try:
        api = api_url(args)
        _code, health = get_json(api + "/api/health", 5)
        _code, devices = get_json(api + "/api/devices", 5, token=api_token(args) or "")
    except (OSError, ValueError, CliError) as exc:
        health, devices = None, {"error": f"daemon not reachable: {exc}"}
    print("collecting logs ...", file=sys.stderr, flush=True)
    members = {
        "logs.txt": bundle.logs(args.days, args.log_file or daemon_log_file(args)),
        "config.json": bundle.dump(redacted(cfg), secrets),
        "health.json": bundle.dump(health or {"error": "daemon not reachable"}, secrets),
        "devices.json": bundle.dump(devices, secrets),
        "store.json": bundle.dump(bundle.store_stats(Path(cfg.storage.data_dir), health), secrets),
        "versions.json": bundle.dump(
            bundle.versions(Path(os.environ.get("EDGE_MODELS_DIR") or cfg.vision.models_dir)),
            secrets,
        ),
        "environment.txt": "".join(
            f"{k}={'***' if bundle.SECRET_ENV.search(k) else v}\n"
            for k, v in sorted(os.environ.items())
            if k.startswith("EDGE_")
        ),
    }
    if not args.no_doctor:
        print("running edge doctor ...", file=sys.stderr, flush=True)
        ctx = doctor.Context(path, api=api_url(args) if health else "")
        with contextlib.redirect_stdout(io.StringIO()):
            findings = doctor.run(ctx)
        members["doctor.txt"] = "".join(f.line() + "\n" for f in findings)
    output = args.output or Path(f"edge-diag-{time.strftime('%Y%m%d-%H%M%S')}.tgz")
    try:
        bundle.build(output, members, secrets)
    except OSError as exc:
        raise CliError(
            f"cannot write {output}: {exc.strerror}; choose --output elsewhere"
        ) from None
    size = output.stat().st_size
    if args.json:
        print_json({"path": str(output), "members": sorted(members), "bytes": size})
    else:
        print(f"wrote {output} ({size} bytes, {len(members)} files); no secrets or images in it")
    return 0
