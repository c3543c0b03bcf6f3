"""The installer's config check: the daemon's own config file validated again, as
`edge config check` does, so an installer who edited it on the box sees every problem (key
and file:line) before restarting, and whether the file still matches what is running.

`GET /api/installer/config` (installers and maintainers) answers a `ConfigCheck`.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, Field

from edge.config import ConfigError, ConfigUnreadable, EdgeConfig, load_config
from edge.config.migrate import CURRENT
from edge.web.api import RT, _json
from edge.web.auth.policy import STAFF, add

# The top-level `config_version: N` line, read without parsing the whole file: an invalid
# file still says which version it was written for.
_VERSION_LINE = re.compile(rb"^config_version:\s*['\"]?(\d{1,6})['\"]?\s*(?:#.*)?$", re.M)
_VERSION_SCAN_BYTES = 256 * 1024


class ConfigProblem(BaseModel):
    """One problem, where `edge config check` prints `file:line:col: key: message`."""

    file: str
    line: int
    column: int
    key: str = Field(description="Dotted key path; empty for the file as a whole.")
    message: str


class ConfigCheck(BaseModel):
    """The answer of `GET /api/installer/config`."""

    path: str | None = Field(description="The file the daemon was started with.")
    checked: bool = Field(description="False when the daemon runs a config built in memory.")
    ok: bool
    problems: list[ConfigProblem]
    running_version: int = Field(description="config_version of the running config.")
    file_version: int | None = Field(description="config_version written in the file now.")
    supported_version: int = Field(description="The newest config_version this build reads.")
    restart_needed: bool = Field(
        description="The file is valid but differs from the running config."
    )


def check(path: Path | None, running: EdgeConfig) -> ConfigCheck:
    """Blocking (reads and validates the file): run it in a thread."""
    base = {
        "running_version": running.config_version,
        "supported_version": CURRENT,
        "path": str(path) if path else None,
    }
    if path is None:
        return ConfigCheck(
            checked=False, ok=True, problems=[], file_version=None, restart_needed=False, **base
        )
    try:
        loaded = load_config(path)
    except ConfigUnreadable as exc:
        problem = ConfigProblem(file=str(path), line=0, column=0, key="", message=str(exc))
        return ConfigCheck(
            checked=True, ok=False, problems=[problem], file_version=None, restart_needed=False,
            **base,
        )  # fmt: skip
    except ConfigError as exc:
        problems = [
            ConfigProblem(file=p.file, line=p.line, column=p.column, key=p.key, message=p.message)
            for p in exc.problems
        ]
        return ConfigCheck(
            checked=True, ok=False, problems=problems, file_version=_file_version(path),
            restart_needed=False, **base,
        )  # fmt: skip
    return ConfigCheck(
        checked=True, ok=True, problems=[], file_version=loaded.config_version,
        restart_needed=loaded != running, **base,
    )  # fmt: skip


def _file_version(path: Path) -> int | None:
    try:
        with path.open("rb") as f:
            head = f.read(_VERSION_SCAN_BYTES)
    except OSError:
        return None
    found = _VERSION_LINE.search(head)
    return int(found.group(1)) if found else None


async def config_check(request: web.Request) -> web.Response:
    rt = request.app[RT]
    result = await asyncio.to_thread(check, rt.config_path, rt.config)
    return _json(result.model_dump(mode="json"))


def routes(app: web.Application) -> None:
    add(app, "GET", "/api/installer/config", config_check, STAFF)
