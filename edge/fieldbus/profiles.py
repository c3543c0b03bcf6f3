"""Sensor profiles: a register map and default thresholds an installer names with `profile:`.

Looked up in `$EDGE_PROFILES_DIR` (path list) first, then the built-ins in
`edge/fieldbus/builtin_profiles/`, so a site can add or override a profile without touching
the code. The built-ins are package data: an installed venv has no source tree beside it.
A device's own `registers:` or `thresholds:` replace the profile's wholesale:
merging two lists point by point would hide which one is in force.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from edge.config.types import Section
from edge.fieldbus.registers import RegisterPoint
from edge.rules.config import ThresholdRule

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_profiles"


class Profile(Section):
    """One profile file (a built-in or one in `$EDGE_PROFILES_DIR`)."""

    title: str = Field(default="", title="Title")
    description: str = Field(default="", title="Description")
    registers: list[RegisterPoint] = Field(min_length=1, title="Register map")
    thresholds: list[ThresholdRule] = Field(default_factory=list, title="Default thresholds")
    simulate: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        title="Simulation",
        description="How edge.sim.modbus animates each point (ignored by the daemon).",
    )


def profile_dirs() -> list[Path]:
    extra = os.environ.get("EDGE_PROFILES_DIR", "")
    dirs = [Path(p) for p in extra.split(os.pathsep) if p]
    return [*dirs, BUILTIN_DIR]


def available() -> list[str]:
    names: set[str] = set()
    for d in profile_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def load_profile(name: str) -> Profile:
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"invalid profile name {name!r}")
    for d in profile_dirs():
        path = d / f"{name}.yaml"
        if path.is_file():
            return _load(str(path), path.stat().st_mtime_ns)
    raise ValueError(f"unknown profile {name!r} (known: {', '.join(available()) or 'none'})")


@functools.lru_cache(maxsize=64)
def _load(path: str, _mtime: int) -> Profile:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"profile {path}: {exc}") from None
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"profile {path} is invalid: {exc}") from None
