"""Shared by tests that call the local API: the CLI's local token, or a console login."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

MINIMAL = """\
config_version: 1
site:
  name: 测试小区
  site_id: "32010600002160000001"
  gateway_id: "32010600001180000001"
storage:
  data_dir: {data_dir}
web:
  listen: "127.0.0.1:0"
"""

PASSWORDS = {"zhang": "门岗值班2026", "li": "installer-pass-1", "wang": "maint-pass-22"}
ROLES = {"zhang": "guard", "li": "installer", "wang": "maintainer"}
_BLOCK: list[str] = []


def users_yaml() -> str:
    """A `users:` block (indented for `web:`) with a guard, an installer and a maintainer;
    hashed once per test run (argon2id is deliberately slow)."""
    if not _BLOCK:
        from edge.web.auth.passwords import hash_password

        lines = ["  users:"]
        for name, role in ROLES.items():
            lines += [
                f"    {name}:",
                f"      role: {role}",
                f"      password_hash: '{hash_password(PASSWORDS[name])}'",
            ]
        _BLOCK.append("\n".join(lines))
    return _BLOCK[0]


def with_users(config_yaml: str) -> str:
    """A test config (with `listen: "127.0.0.1:0"`) plus the console users."""
    return config_yaml.replace('listen: "127.0.0.1:0"', 'listen: "127.0.0.1:0"\n' + users_yaml(), 1)


def token_headers(data_dir: Path | str, token_file: Path | None = None) -> dict[str, str]:
    """The header the CLI on the box sends: the daemon's local token."""
    path = token_file or Path(data_dir) / "api.token"
    return {"Authorization": f"Bearer {path.read_text().strip()}"}


def daemon_headers(d: Any) -> dict[str, str]:
    """For an in-process `edge.app.Daemon` after start."""
    return token_headers(d.store.data_dir, d.web.token_file)


async def login(http: aiohttp.ClientSession, url: str, user: str, password: str) -> str:
    """Logs `http` in (its cookie jar keeps the session); returns the CSRF token."""
    async with http.post(f"{url}/api/auth/login", json={"user": user, "password": password}) as r:
        doc = await r.json()
        assert r.status == 200, doc
    return str(doc["csrf"])


def browser_like(**kw: Any) -> aiohttp.ClientSession:
    """A client session that keeps cookies for 127.0.0.1 as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **kw)
