"""What every CLI verb shares: the one contract (issue 14).

- `--json` prints one JSON document on stdout (shapes in docs/cli.md); text goes to stdout,
  errors and progress to stderr.
- Exit codes: 0 ok, 1 a check failed, 2 bad usage or the daemon/device unreachable.
- Errors are one sentence saying what to do: a verb raises `CliError(sentence, code)` and
  `edge.cli.main` prints it; no traceback or pydantic text reaches the user.
- The daemon is found by --url, else `EDGE_WEB_PORT`, else the config's `web.listen`
  (--config, else `EDGE_CONFIG`), else 127.0.0.1:8080.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from edge.config import EdgeConfig

DEFAULT_URL = "http://127.0.0.1:8080"
# Where the daemon writes the local API token when the config keeps the default data dir.
DEFAULT_TOKEN_FILE = "/var/lib/edge/api.token"
OK, FAILED, USAGE = 0, 1, 2


class CliError(Exception):
    """A sentence for the user and the exit code (1 failed check, 2 usage/unreachable)."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def api_url(args: Any) -> str:
    """The daemon's API: --url, EDGE_WEB_PORT, the config's web.listen, or the default."""
    if getattr(args, "url", None):
        return str(args.url).rstrip("/")
    port = os.environ.get("EDGE_WEB_PORT", "").strip()
    if port:
        if not port.isdigit():
            raise CliError(f"EDGE_WEB_PORT={port!r} is not a port number; set it to e.g. 8080")
        return f"http://127.0.0.1:{port}"
    path = getattr(args, "config", None) or os.environ.get("EDGE_CONFIG")
    if path:
        cfg = load_or_raise(path)
        host = cfg.web.host if cfg.web.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{cfg.web.port}"
    return DEFAULT_URL


def token_file(args: Any) -> Path:
    """The daemon's local API token file: --token-file, else the config's (web.token_file or
    <data_dir>/api.token), else $EDGE_TOKEN_FILE, else /var/lib/edge/api.token."""
    if getattr(args, "token_file", None):
        return Path(args.token_file)
    path = getattr(args, "config", None) or os.environ.get("EDGE_CONFIG")
    if path:
        from edge.web.auth.token import token_path

        cfg = load_or_raise(path)
        return token_path(cfg.web, cfg.storage.data_dir)
    return Path(os.environ.get("EDGE_TOKEN_FILE") or DEFAULT_TOKEN_FILE)


def api_token(args: Any) -> str | None:
    """The local token, or None when this user may not read it (the API then answers 401 and
    the command says to run as root or the service user)."""
    try:
        return token_file(args).read_text().strip() or None
    except OSError:
        return None


def request_json(
    url: str,
    *,
    token: str | None = None,
    body: dict[str, Any] | None = None,
    timeout_s: float = 5.0,
) -> tuple[int, Any]:
    """GET (or POST when `body` is given) a JSON document with the local token; returns
    (status, body). Raises OSError when unreachable."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        if exc.code == 401:
            return exc.code, {
                "error": "not allowed: run as root or the edge service user "
                "(the local API token is readable only by them), or --token-file"
            }
        try:
            return exc.code, json.loads(raw)
        except json.JSONDecodeError:
            return exc.code, {"error": raw.decode(errors="replace")}


def get_json(url: str, timeout_s: float = 5.0, token: str | None = None) -> tuple[int, Any]:
    """GET a JSON document; returns (status, body). Raises OSError when unreachable."""
    if token is not None:
        return request_json(url, token=token, timeout_s=timeout_s)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except json.JSONDecodeError:
            return exc.code, {"error": body.decode(errors="replace")}


def fetch(args: Any, path: str, timeout_s: float = 5.0) -> tuple[int, Any]:
    """GET from the daemon; an unreachable daemon is a `CliError` (exit 2) saying how to fix."""
    base = api_url(args)
    try:
        return request_json(base + path, token=api_token(args), timeout_s=timeout_s)
    except (OSError, json.JSONDecodeError) as exc:
        why = getattr(exc, "reason", exc)
        raise CliError(
            f"the daemon does not answer at {base} ({why}); start it (systemctl start edge) "
            "or point at it with --url, --config or EDGE_WEB_PORT"
        ) from None


def add_api_args(p: Any) -> None:
    p.add_argument(
        "--url", help=f"daemon API base URL (default: EDGE_WEB_PORT, the config, {DEFAULT_URL})"
    )
    p.add_argument("--config", "-c", help="read the API address (web.listen) from this config file")
    p.add_argument("--token-file", help="the daemon's local API token (default: from the config)")


def add_json(p: Any) -> None:
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def print_json(doc: Any) -> None:
    print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))


def fail(args: Any, message: str, code: int = FAILED) -> int:
    """A failed verb: the sentence on stderr and, with --json, {"ok": false, "error"} on stdout
    so a script always gets a document."""
    if getattr(args, "json", False):
        print_json({"ok": False, "error": message})
    err(message)
    return code


def needs_models(handler: Callable[[Any], int]) -> Callable[[Any], int]:
    """A verb that loads models: a missing or altered model file is a setup problem with a
    fix (`scripts/fetch-models`), exit 2, not an unexpected error."""

    def run(args: Any) -> int:
        from edge.vision.models import ModelFileError

        try:
            return handler(args)
        except ModelFileError as exc:
            raise CliError(str(exc)) from None

    return run


def os_reason(exc: BaseException) -> str:
    """An OSError as a maintainer reads it (`/x/y: No such file or directory`), not Python's
    `[Errno 2] No such file or directory: '/x/y'`; anything else as its own text."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def err(msg: str) -> None:
    print(msg, file=sys.stderr)


def load_or_raise(path: str) -> EdgeConfig:
    """The config, or a `CliError` naming the file and its first problems."""
    from edge.config import ConfigError, ConfigUnreadable, load_config

    try:
        return load_config(path)
    except ConfigUnreadable as exc:
        raise CliError(f"cannot read the config {exc}; give the right file") from None
    except ConfigError as exc:
        shown = "; ".join(str(p) for p in exc.problems[:3])
        raise CliError(
            f"the config {path} has {len(exc.problems)} problem(s): {shown}; "
            f"run `edge config check {path}` and fix them"
        ) from None


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
