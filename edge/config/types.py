"""Shared field types for the YAML: durations, sizes, 20-digit IDs, addresses, polygons, secrets.

Field names carry units (`poll_interval_s`); values may still be written the way
installers think (`5m`, `2GB`), and are normalised to the unit in the name.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

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


# The longest wait any setting needs (a retention pass, a poll of a quarterly meter) is well
# under a year; past it a typo (`99999999999999999999999999d`) overflows the event loop's clock.
MAX_SECONDS = 366 * 86400.0
# SQLite stores sizes as signed 64-bit integers.
MAX_BYTES = 2**62


def _parse_seconds(value: Any) -> Any:
    seconds = _to_seconds(value)
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ValueError(f"a duration must be finite, got {value!r}")
    if isinstance(seconds, float) and seconds > MAX_SECONDS:
        raise ValueError(f"a duration is at most 366d, got {value!r}")
    return seconds


def _to_seconds(value: Any) -> Any:
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


Seconds = Annotated[float, BeforeValidator(_parse_seconds), Field(ge=0, le=MAX_SECONDS)]
PositiveSeconds = Annotated[float, BeforeValidator(_parse_seconds), Field(gt=0, le=MAX_SECONDS)]
Bytes = Annotated[int, BeforeValidator(_parse_bytes), Field(ge=0, le=MAX_BYTES)]


# --- addresses ---------------------------------------------------------------------------

_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")


def _host_port(value: str) -> str:
    if not _HOST_PORT.match(value):
        raise ValueError(f"{value!r} is not host:port")
    port = int(value.rsplit(":", 1)[1])
    if port > 65535:
        raise ValueError(f"port {port} is out of range")
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]
"""`name:port` or `IPv4:port` (port 0-65535): a device's or a listener's address."""


def UrlOf(*schemes: str, expected: str, empty: bool = False) -> Any:
    """A URL with one of `schemes` and a host (and, if given, a valid port), stripped of
    surrounding blanks; `expected` shows the installer the shape, e.g. "http://host:port".
    `empty=True`: "" is kept (the destination is configured but does not connect)."""

    def check(value: str) -> str:
        text = value.strip()
        if empty and not text:
            return text
        parts = urlsplit(text)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"expected {expected}, got {value!r}")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in {value!r}") from exc
        return text

    return Annotated[str, AfterValidator(check)]


HttpUrl = UrlOf("http", "https", expected="http://host:port")
"""An http(s) URL kept as the text written (pydantic's HttpUrl would rewrite it)."""

MqttUrl = UrlOf("mqtt", "mqtts", expected="mqtt://host:port or mqtts://host:port", empty=True)
"""A broker URL, or "" for a destination that queues without connecting."""


def check_value(tp: Any, value: Any) -> Any:
    """`value` validated as a field of type `tp` outside a model (a CLI flag overriding a
    setting): the first problem raised as a ValueError with the sentence the loader shows."""
    try:
        return TypeAdapter(tp).validate_python(value)
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


# --- polygons ----------------------------------------------------------------------------

Points = list[tuple[float, float]]


def _in_pixels(points: Points) -> Points:
    for x, y in points:
        if x < 0 or y < 0:
            raise ValueError(f"point ({x}, {y}) is outside the frame: pixels start at 0")
    return points


def _in_fractions(points: Points) -> Points:
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the frame: use fractions 0..1")
    return points


PixelPolygon = Annotated[Points, Field(min_length=3), AfterValidator(_in_pixels)]
"""At least three [x, y] vertices in pixels of the full frame (read off a snapshot)."""

FractionPolygon = Annotated[Points, Field(min_length=3), AfterValidator(_in_fractions)]
"""At least three [x, y] vertices in fractions 0..1 of the frame (survives a resolution
change)."""


class YamlInt(int):
    """An integer the YAML file wrote in a form other than plain decimal (`0x161`, `1_61`).

    The loader hands these to validation instead of a bare `int` so a digit-string field
    can tell the installer that the number was not read as the digits they typed.
    """

    yaml_text: str

    def __new__(cls, value: int, yaml_text: str) -> YamlInt:
        obj = super().__new__(cls, value)
        obj.yaml_text = yaml_text
        return obj


def refuse_yaml_number(value: Any, what: str) -> None:
    """Raise when `value` is a number YAML read from other text than its digits (`0x161`)."""
    if isinstance(value, YamlInt):
        raise ValueError(
            f"unquoted {value.yaml_text} is read by YAML as the number {int(value)}, "
            f'not as the digits of a {what}; quote it: "{value.yaml_text}"'
        )


def _digits(value: Any, what: str) -> str:
    """The digits of an ID: a string, or an unquoted decimal number read back unchanged."""
    refuse_yaml_number(value, what)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"a {what} is a string of digits; quote it")
    text = str(value) if isinstance(value, int) else value.strip()
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"a {what} holds only the digits 0-9, got {value!r}")
    return text


def DigitString(
    length: int | None = None,
    *,
    min_length: int = 1,
    max_length: int | None = None,
    what: str = "numeric ID",
) -> Any:
    """A field holding an ID made of digits (meter address, serial, device code).

    IDs are text: `000000000161` unquoted is the YAML 1.1 octal number 113, which the
    loader already refuses with the file and line; an unquoted decimal without leading
    zeros is read back exactly; anything else is refused with a request to quote it.
    """
    low, high = (length, length) if length is not None else (min_length, max_length)

    def check(value: Any) -> str:
        text = _digits(value, what)
        if len(text) < low or (high is not None and len(text) > high):
            want = f"{low}" if low == high else f"{low}..{high if high is not None else ''}"
            raise ValueError(f"a {what} has {want} digits, got {len(text)} ({text!r})")
        return text

    pattern = rf"^\d{{{low},{high if high is not None else ''}}}$"
    return Annotated[str, BeforeValidator(check), Field(json_schema_extra={"pattern": pattern})]


# GB/T 28181-2016 Annex D: digits 11-13 of a 20-digit code name the device or platform
# type (111-130 front-end devices, 131-199 peripherals such as 131 camera and 132 IPC,
# 200-299 platform services such as 200 SIP server, 300-499 users, 500-999 extensions).
# GA/T 1400 acquisition-equipment (APE) codes follow the same layout.
GB_TYPE_CODES = range(111, 1000)


def _gb_check(value: Any, types: tuple[range, ...], what: str) -> str:
    text = _digits(value, what)
    if len(text) != 20:
        raise ValueError(f"a {what} has 20 digits, got {len(text)} ({text!r})")
    code = int(text[10:13])
    if not any(code in r for r in types):
        allowed = ", ".join(
            str(r.start) if len(r) == 1 else f"{r.start}-{r.stop - 1}" for r in types
        )
        raise ValueError(
            f"digits 11-13 of a {what} are its type code ({allowed}), got {text[10:13]} in {text}"
        )
    return text


def GbIdOf(*types: int | range, what: str = "GB/T 28181 code") -> Any:
    """A 20-digit GB/T 28181 / GA/T 1400 code whose type code (digits 11-13) is one of
    `types`, e.g. `GbIdOf(131, 132, what="camera channel code")`, `GbIdOf(200)`."""
    ranges = tuple(range(t, t + 1) if isinstance(t, int) else t for t in types) or (GB_TYPE_CODES,)
    return Annotated[
        str,
        BeforeValidator(lambda v: _gb_check(v, ranges, what)),
        Field(json_schema_extra={"pattern": r"^\d{20}$"}),
    ]


GbId = GbIdOf(GB_TYPE_CODES)
"""Any 20-digit GB/T 28181 code: digits only, type code 111-999 in digits 11-13."""


Key = tuple[str | int, ...]


class KeyProblems(ValueError):
    """Problems a validator found in other keys than the one it runs on (cross-field
    checks), each with its key path relative to the model raising it.

    The loader reports each at that key's own line and column; a plain ValueError from
    a model validator could only point at the section.
    """

    def __init__(self, problems: list[tuple[Key, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class AtKey(KeyProblems):
    """One cross-field problem at `key` (a field name or a path such as `("devices", 2, "bus")`)."""

    def __init__(self, key: str | int | Key, message: str) -> None:
        super().__init__([(key if isinstance(key, tuple) else (key,), message)])


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
                    raise AtKey(file_key, f"give either {name} or {file_key}, not both")
                path = Path(str(data[file_key]))
                try:
                    data = {**data, name: path.read_text(encoding="utf-8").strip()}
                except OSError as exc:
                    raise AtKey(file_key, f"cannot read {path}: {exc.strerror}") from None
                data.pop(file_key)
        return data


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return SecretStr in getattr(annotation, "__args__", ())
