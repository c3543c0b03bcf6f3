"""The local API token: how `edge status/events/queue/alarm/gate` on the box authenticate.

The daemon writes a random token to a file only its own user (and root) can read, and keeps
it across restarts (a command running during a restart still gets in); delete the file and
restart to rotate it. Whoever can read it is already trusted with the box, so the token carries the
maintainer role; the CLI still says who runs it (`by`), audited as `cli:<name>`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from edge.config.web import WebConfig


def token_path(web: WebConfig, data_dir: Path) -> Path:
    return web.token_file or data_dir / "api.token"


def ensure_token(path: Path) -> str:
    """The token in the file if it is private (mode 0600 or stricter), else a new one."""
    try:
        if path.stat().st_mode & 0o077 == 0:
            token = read_token(path)
            if len(token) >= 32:
                return token
    except OSError:
        pass
    return write_token(path)


def write_token(path: Path) -> str:
    """A new token, written atomically with mode 0600 from the first byte."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".api.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return token


def read_token(path: Path) -> str:
    """The token in the file; OSError when missing or not readable by this user."""
    return path.read_text().strip()
