"""`config_version` upgrades: each step turns version N's file into N+1's; steps chain.

An upgrade that changes the config's shape adds one function to `STEPS` and bumps
`CURRENT` (and the model's `config_version`). `edge config migrate` and `edge run` apply
the chain to an older file, keeping the original beside it (`edge.yaml.v1.bak`), so the
installer can compare or roll back. A file newer than this build is refused with what to
do: a downgrade must never silently drop settings it does not understand.
Comments in a migrated file are not carried over (the kept original still has them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CURRENT = 1
Step = Callable[[dict[str, Any]], dict[str, Any]]
STEPS: dict[int, Step] = {}  # from-version -> function making the next version


class ConfigVersionError(ValueError):
    """The file cannot be brought to this build's version (newer, or no path to it)."""


@dataclass(frozen=True)
class Migrated:
    path: Path
    from_version: int
    to_version: int
    backup: Path | None


def version_of(data: Mapping[str, Any]) -> int:
    v = data.get("config_version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ConfigVersionError(f"config_version must be a whole number >= 1, got {v!r}")
    return v


def migrate_data(
    data: dict[str, Any], *, steps: Mapping[int, Step] | None = None, current: int = CURRENT
) -> tuple[dict[str, Any], int]:
    """The document brought to `current`, and the version it started at."""
    chain = STEPS if steps is None else steps
    start = version = version_of(data)
    if version > current:
        raise ConfigVersionError(
            f"this config is config_version {version}, written for a newer compound-edge; this "
            f"build reads up to {current}: install the newer version again, or restore the "
            f"copy the upgrade kept (edge.yaml.v{current}.bak)"
        )
    while version < current:
        step = chain.get(version)
        if step is None:
            raise ConfigVersionError(f"no migration from config_version {version}")
        data = step(dict(data))
        version += 1
        data["config_version"] = version
    return data, start


def migrate_file(
    path: Path,
    *,
    steps: Mapping[int, Step] | None = None,
    current: int = CURRENT,
    dry_run: bool = False,
) -> Migrated:
    """Migrate `path` in place, keeping the original as `<name>.v<old>.bak` beside it."""
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ConfigVersionError(f"{path} is not a YAML mapping")
    data, start = migrate_data(raw, steps=steps, current=current)
    if start == current:
        return Migrated(path, start, current, None)
    backup = path.with_name(f"{path.name}.v{start}.bak")
    if not dry_run:
        if not backup.exists():
            backup.write_text(text, encoding="utf-8")
            backup.chmod(path.stat().st_mode & 0o777)
        tmp = path.with_name(f".{path.name}.migrating")
        tmp.write_text(
            f"# migrated from config_version {start} to {current}; the original is {backup.name}\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        tmp.chmod(path.stat().st_mode & 0o777)
        tmp.replace(path)
    return Migrated(path, start, current, backup)
