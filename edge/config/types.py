"""Shared field types for the YAML: durations, sizes, 20-digit IDs, secrets.

Field names carry units (`poll_interval_s`); values may still be written the way
installers think (`5m`, `2GB`), and are normalised to the unit in the name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def _parse_seconds(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or like 500ms, 30s, 5m, 2h, 7d")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(
                f"invalid duration {value!r}: use a number of seconds or 500ms, 30s, 5m, 2h, 7d"
            )
        return float(m.group(1)) * _DURATION_UNITS[m.group(2) or "s"]
    return value


def _parse_bytes(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a size must be a number of bytes or like 500MB, 2GB")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = _SIZE.match(value)
        if not m:
            raise ValueError(f"invalid size {value!r}: use a number of bytes or 500MB, 2GB, 1GiB")
        return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    return value


Seconds = Annotated[float, BeforeValidator(_parse_seconds), Field(ge=0)]
PositiveSeconds = Annotated[float, BeforeValidator(_parse_seconds), Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(_parse_bytes), Field(ge=0)]


def _gb_id(value: Any) -> Any:
    text = str(value) if isinstance(value, int) else value
    if not isinstance(text, str) or not re.fullmatch(r"\d{20}", text):
        raise ValueError(f"must be a 20-digit GB/T 28181 code, got {value!r}")
    return text


GbId = Annotated[
    str,
    BeforeValidator(_gb_id),
    Field(description="A 20-digit GB/T 28181 code.", json_schema_extra={"pattern": r"^\d{20}$"}),
]


class Section(BaseModel):
    """Base for every config model: unknown keys are errors, and a secret field
    `password` may instead be given as `password_file` (read here, trimmed)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, info in cls.model_fields.items():
            file_key = f"{name}_file"
            if file_key in data and file_key not in cls.model_fields:
                if not _is_secret(info.annotation):
                    continue
                if data.get(name) is not None:
                    raise ValueError(f"give either {name} or {file_key}, not both")
                path = Path(str(data[file_key]))
                try:
                    data = {**data, name: path.read_text(encoding="utf-8").strip()}
                except OSError as exc:
                    raise ValueError(f"{file_key}: cannot read {path}: {exc.strerror}") from None
                data.pop(file_key)
        return data


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return SecretStr in getattr(annotation, "__args__", ())
