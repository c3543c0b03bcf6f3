"""Helpers shared by CLI commands."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from edge.config import EdgeConfig

DEFAULT_URL = "http://127.0.0.1:8080"


def api_url(args: Any) -> str:
    """The daemon's API: --url, else the config's web.listen, else the default."""
    if getattr(args, "url", None):
        return str(args.url).rstrip("/")
    path = getattr(args, "config", None)
    if path:
        from edge.config import load_config

        cfg = load_config(path)
        host = cfg.web.host if cfg.web.host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{cfg.web.port}"
    return DEFAULT_URL


def get_json(url: str, timeout_s: float = 5.0) -> tuple[int, Any]:
    """GET a JSON document; returns (status, body). Raises OSError when unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except json.JSONDecodeError:
            return exc.code, {"error": body.decode(errors="replace")}


def add_api_args(p: Any) -> None:
    p.add_argument("--url", help=f"daemon API base URL (default {DEFAULT_URL})")
    p.add_argument("--config", "-c", help="read the API address from this config file")


def err(msg: str) -> None:
    print(msg, file=sys.stderr)


def load_or_report(path: str, problems_to: TextIO | None = None) -> EdgeConfig | int:
    """The config, or the exit code after printing why not: 2 unreadable, 1 invalid
    (one `FILE:LINE:COL: key: message` line per problem, to `problems_to`)."""
    from edge.config import ConfigError, ConfigUnreadable, load_config

    out = problems_to or sys.stdout
    try:
        return load_config(path)
    except ConfigUnreadable as exc:
        err(f"cannot read config: {exc}")
        return 2
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        out.flush()
        err(f"{len(exc.problems)} problem(s) in {path}")
        return 1
