"""Packed BCD, least significant byte first, as DL/T 645 and CJ/T 188 put numbers on the wire.

A nibble above 9 is a vendor quirk or line noise: decoding raises `BcdError` so a poller can
count it instead of reading a wrong number. A field filled with FF means "not supported".
"""

from __future__ import annotations

from edge.codecs.errors import BcdError


def is_bcd(b: int) -> bool:
    return (b >> 4) <= 9 and (b & 0x0F) <= 9


def is_unsupported(raw: bytes) -> bool:
    """Whether the meter filled the field with FF (it does not support the value)."""
    return raw == b"\xff" * len(raw)


def to_digits(raw: bytes) -> str:
    """Little-endian BCD bytes as a most-significant-first digit string."""
    out = []
    for b in reversed(raw):
        if not is_bcd(b):
            raise BcdError(f"byte {b:02X} is not BCD")
        out.append(f"{b:02X}")
    return "".join(out)


def from_digits(digits: str) -> bytes:
    """Little-endian bytes of a most-significant-first string of digit pairs.

    The caller has checked the pairs (``AA`` passes through, for wildcard addresses).
    """
    return bytes(int(digits[i : i + 2], 16) for i in range(len(digits) - 2, -1, -2))


def from_int(number: int, size: int) -> bytes:
    """``size`` little-endian BCD bytes holding ``number``."""
    digits = f"{number:0{size * 2}d}"
    if number < 0 or len(digits) > size * 2:
        raise ValueError(f"{number} does not fit {size} BCD bytes")
    return from_digits(digits)


__all__ = ["from_digits", "from_int", "is_bcd", "is_unsupported", "to_digits"]
