"""The ``[FE x n] 68 … L DATA CS 16`` envelope that DL/T 645 and CJ/T 188 share.

Both put 0..n ``FE`` before a frame, start it with ``68``, end the header with the DATA length
``L``, and close with a byte-sum checksum and ``16``. Meters prefix replies with ``FE`` and
serial converters add junk on open, so the scanner resynchronises on every ``68`` rather than
trusting the first byte it sees, and holds back bytes that may still become a frame. A codec
describes its header with a `Layout` and keeps its own fields (``build``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from edge.codecs import addresses
from edge.codecs.errors import ChecksumError, FrameError, ProtocolError

START = 0x68
END = 0x16
PREAMBLE_BYTE = 0xFE

# Control byte, the same in both standards: D7 direction (1 = meter to master), D6 abnormal
# reply; the function code takes the low bits (DL/T 645 keeps D5 for "more frames follow").
REPLY_BIT = 0x80
ERROR_BIT = 0x40

F = TypeVar("F")


class ControlByte:
    """What a frame's control byte says, for frame dataclasses that set ``function_mask``."""

    __slots__ = ()
    control: int
    function_mask: ClassVar[int]

    @property
    def function(self) -> int:
        return self.control & self.function_mask

    @property
    def is_reply(self) -> bool:
        return bool(self.control & REPLY_BIT)

    @property
    def is_error(self) -> bool:
        return self.is_reply and bool(self.control & ERROR_BIT)


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def wrap(body: bytes, preamble: int) -> bytes:
    """Wire bytes for ``body`` (first 68 through DATA): ``preamble`` FE before, CS and 16 after."""
    return bytes([PREAMBLE_BYTE]) * preamble + body + bytes([checksum(body), END])


@dataclass(frozen=True, slots=True)
class Layout(Generic[F]):
    """Where one protocol's header fields sit, counted from the first 68."""

    header_len: int  # 68 through L; L is the header's last byte
    address_at: int
    address_len: int
    build: Callable[[bytes, int], F]  # (68 through DATA, FE count) -> frame; CS already checked
    second_start: int | None = None  # offset of a repeated 68 (DL/T 645 has one after the address)

    @property
    def min_len(self) -> int:
        """Header, CS and 16: a frame with L = 0."""
        return self.header_len + 2

    def parse(self, frame: bytes) -> F:
        """Parse exactly one frame: any number of FE first, nothing after the 16."""
        raw = bytes(frame)
        start = 0
        while start < len(raw) and raw[start] == PREAMBLE_BYTE:
            start += 1
        if len(raw) - start < self.min_len:
            raise FrameError(f"frame truncated: {len(raw) - start} bytes after the preamble")
        if raw[start] != START:
            raise FrameError(f"frame starts with {raw[start]:02X}, not 68")
        total = self.min_len + raw[start + self.header_len - 1]
        if len(raw) - start != total:
            raise FrameError(f"frame length {len(raw) - start} does not match L (expected {total})")
        return self._parse_at(raw, start, start)

    def scan(self, buf: bytes) -> tuple[F | None, int, list[ProtocolError]]:
        """Like `find`, also returning why well-shaped candidates were rejected."""
        frame, _, consumed, rejected = self.scan_span(buf)
        return frame, consumed, rejected

    def find(self, buf: bytes) -> tuple[F | None, int]:
        """Extract the first valid frame from a receive buffer.

        Returns ``(frame, consumed)``: drop ``buf[:consumed]`` either way. With ``frame`` None
        the dropped bytes are junk and the caller must read more; bytes that may start a frame
        are kept. Never raises on any input.
        """
        frame, consumed, _ = self.scan(buf)
        return frame, consumed

    def scan_span(self, buf: bytes) -> tuple[F | None, int, int, list[ProtocolError]]:
        """Like `scan`, with where the frame (FE included) starts: the junk before it."""
        data = bytes(buf)
        rejected: list[ProtocolError] = []
        first_incomplete: int | None = None
        i = data.find(START)
        while i != -1:
            frame, end, preamble, error, need_more = self._try_at(data, i)
            if frame is not None:
                return frame, i - preamble, end, rejected
            if error is not None:
                rejected.append(error)
            if need_more and first_incomplete is None:
                first_incomplete = i
            i = data.find(START, i + 1)
        if first_incomplete is None:
            return None, len(data), len(data), rejected
        keep = first_incomplete
        while keep > 0 and data[keep - 1] == PREAMBLE_BYTE:
            keep -= 1
        return None, keep, keep, rejected

    def _parse_at(self, buf: bytes, start: int, preamble: int) -> F:
        """Parse the frame whose first 68 is at ``start``; the caller checked the length."""
        end = start + self.min_len + buf[start + self.header_len - 1]
        cs_at = end - 2
        second = self.second_start
        if buf[start] != START or (second is not None and buf[start + second] != START):
            if second is None:
                raise FrameError("frame does not start with 68")
            raise FrameError(f"frame does not have 68 at offsets 0 and {second}")
        if buf[end - 1] != END:
            raise FrameError(f"frame does not end with 16 (got {buf[end - 1]:02X})")
        expected = checksum(buf[start:cs_at])
        if expected != buf[cs_at]:
            raise ChecksumError(expected, buf[cs_at])
        return self.build(buf[start:cs_at], preamble)

    def _try_at(self, buf: bytes, i: int) -> tuple[F | None, int, int, ProtocolError | None, bool]:
        """(frame, end, preamble, error, need_more) for a candidate 68 at ``i``."""
        n = len(buf)
        second = self.second_start
        if second is not None and n > i + second and buf[i + second] != START:
            return None, 0, 0, None, False
        first = i + self.address_at  # reject impossible address bytes early
        for k in range(first, min(n, first + self.address_len)):
            if not addresses.is_address_byte(buf[k]):
                return None, 0, 0, None, False
        if n < i + self.header_len:
            return None, 0, 0, None, True
        end = i + self.min_len + buf[i + self.header_len - 1]
        if n < end:
            return None, 0, 0, None, True
        if buf[end - 1] != END:
            return None, 0, 0, None, False
        preamble = 0
        while i - preamble - 1 >= 0 and buf[i - preamble - 1] == PREAMBLE_BYTE:
            preamble += 1
        try:
            return self._parse_at(buf, i, preamble), end, preamble, None, False
        except ProtocolError as exc:
            return None, 0, 0, exc, False


class FrameReader(Generic[F]):
    """Accumulates serial bytes and yields frames, with counters for what it threw away.

    The buffer is bounded (``max_buffer``); on overflow the oldest bytes are dropped and counted,
    because a babbling device must not grow the gateway's memory.
    """

    def __init__(self, layout: Layout[F], max_buffer: int = 1024) -> None:
        self._layout = layout
        self._buf = bytearray()
        self.max_buffer = max_buffer
        self.junk_bytes = 0
        self.overflow_bytes = 0
        self.rejected_frames = 0
        self.last_error: ProtocolError | None = None

    def feed(self, data: bytes) -> list[F]:
        self._buf += data
        if len(self._buf) > self.max_buffer:
            drop = len(self._buf) - self.max_buffer
            del self._buf[:drop]
            self.overflow_bytes += drop
        frames: list[F] = []
        while self._buf:
            frame, junk, consumed, rejected = self._layout.scan_span(bytes(self._buf))
            if rejected:
                self.rejected_frames += len(rejected)
                self.last_error = rejected[-1]
            self.junk_bytes += junk
            del self._buf[:consumed]
            if frame is None:
                break
            frames.append(frame)
        return frames

    @property
    def pending(self) -> int:
        """Bytes held back because they may be the start of a frame."""
        return len(self._buf)

    def clear(self) -> None:
        self._buf.clear()


__all__ = [
    "END",
    "ERROR_BIT",
    "PREAMBLE_BYTE",
    "REPLY_BIT",
    "START",
    "ControlByte",
    "FrameReader",
    "Layout",
    "checksum",
    "wrap",
]
