"""Errors shared by every field-bus codec.

Callers (pollers, the CLI, the simulator) catch ``ProtocolError`` alone: a codec never lets an
``IndexError``, ``struct.error`` or a bare ``ValueError`` escape on hostile bytes, so one noisy
meter on a shared RS-485 bus cannot crash the task polling the others. The subclasses exist so a
poller can count *why* frames were rejected (a bad checksum points at wiring or baud rate, a
non-BCD digit at a vendor quirk).
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """Bytes that do not form a valid message of the protocol."""


class FrameError(ProtocolError):
    """Start/end markers, length or overall layout are wrong (includes truncated frames)."""


class ChecksumError(FrameError):
    """The frame is laid out correctly but its checksum does not match its content."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"checksum mismatch: frame has {actual:02X}, computed {expected:02X}")
        self.expected = expected
        self.actual = actual


class BcdError(ProtocolError):
    """A field that must be BCD holds a nibble above 9 (a vendor quirk or line noise)."""


class UnknownDataIdError(ProtocolError):
    """The data identifier is not in the codec's table, so its payload cannot be typed."""

    def __init__(self, di: int, message: str | None = None) -> None:
        super().__init__(message or f"unknown data identifier {di:X}")
        self.di = di


__all__ = [
    "BcdError",
    "ChecksumError",
    "FrameError",
    "ProtocolError",
    "UnknownDataIdError",
]
