"""Meter addresses of DL/T 645 (12 digits) and CJ/T 188 (14 digits).

Both send the address as BCD, low byte first, and let any byte be the wildcard ``AA`` so a
master can reach a meter whose address it does not know. In code an address is the
upper-case digit string as printed on the meter.
"""

from __future__ import annotations

import re

from edge.codecs import bcd
from edge.codecs.errors import BcdError

WILDCARD_BYTE = 0xAA

_ADDRESS_RE = re.compile(r"^(?:[0-9]{2}|AA)+$")


def normalize(address: str | int, width: int) -> str:
    """Canonical address string: ``width`` digits, upper case, left-padded with zeros.

    Each byte (two characters) is two decimal digits or the wildcard ``AA``.
    """
    text = f"{address:0{width}d}" if isinstance(address, int) else address.strip().upper()
    text = text.replace(" ", "").zfill(width)
    if len(text) != width or not _ADDRESS_RE.match(text):
        raise ValueError(f"address must be {width} BCD digits or AA bytes, got {address!r}")
    return text


def matches(pattern: str, address: str) -> bool:
    """Whether a meter at ``address`` is addressed by ``pattern`` (``AA`` bytes match any)."""
    if len(pattern) != len(address):
        return False
    return all(pattern[i : i + 2] in ("AA", address[i : i + 2]) for i in range(0, len(pattern), 2))


def is_address_byte(b: int) -> bool:
    return b == WILDCARD_BYTE or bcd.is_bcd(b)


def to_wire(address: str, width: int) -> bytes:
    return bcd.from_digits(normalize(address, width))


def from_wire(raw: bytes) -> str:
    for b in raw:
        if not is_address_byte(b):
            raise BcdError(f"address byte {b:02X} is neither BCD nor the wildcard AA")
    return "".join(f"{b:02X}" for b in reversed(raw))


__all__ = ["WILDCARD_BYTE", "from_wire", "is_address_byte", "matches", "normalize", "to_wire"]
