"""The console's users: `web.users` from the config plus the users file `edge user` keeps.

The file is re-read when its modification time changes, so `edge user passwd` takes effect at
the next login without a restart (and a removed user's sessions end at their next request).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edge.config.web import USER_NAME, Role, WebConfig, WebUser


class UsersFileError(ValueError):
    """The users file cannot be read or holds something that is not a user."""


def users_path(web: WebConfig, data_dir: Path) -> Path:
    return web.users_file or data_dir / "users.yaml"


def read_users_file(path: Path) -> dict[str, WebUser]:
    """The users in the file; {} when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsersFileError(f"{path}: {exc.strerror}") from exc
    try:
        raw: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UsersFileError(f"{path}: not YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise UsersFileError(f"{path}: expected a mapping of user name to user")
    users: dict[str, WebUser] = {}
    for name, entry in raw.items():
        if not isinstance(name, str) or not USER_NAME.fullmatch(name):
            raise UsersFileError(f"{path}: bad user name {name!r}")
        try:
            users[name] = WebUser.model_validate(entry)
        except ValidationError as exc:
            raise UsersFileError(f"{path}: user {name}: {exc.errors()[0]['msg']}") from exc
    return users


def write_users_file(path: Path, users: dict[str, WebUser]) -> None:
    """Atomically, mode 0600 from the first byte (the hashes are still worth protecting)."""
    doc = {name: u.model_dump(mode="json", exclude_defaults=True) for name, u in users.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# console users, kept by `edge user`: argon2id hashes, never passwords\n")
            yaml.safe_dump(doc, f, allow_unicode=True, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    display_name: str
    password_hash: str


class Users:
    """Looks users up by name, re-reading the users file when it changed."""

    def __init__(self, web: WebConfig, data_dir: Path) -> None:
        self.configured = dict(web.users)
        self.path = users_path(web, data_dir)
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}
        self.error: str | None = None
        self.refresh()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def refresh(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp and self._users:
            return
        self._stamp = stamp
        try:
            from_file = read_users_file(self.path)
            self.error = None
        except UsersFileError as exc:
            from_file, self.error = {}, str(exc)
        merged = {**from_file, **self.configured}  # the config wins a clash
        self._users = {
            n: User(n, Role(u.role), u.display_name or n, u.password_hash)
            for n, u in merged.items()
        }

    def get(self, name: str) -> User | None:
        self.refresh()
        return self._users.get(name)

    def __len__(self) -> int:
        self.refresh()
        return len(self._users)
