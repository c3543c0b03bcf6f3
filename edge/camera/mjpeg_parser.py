"""multipart/x-mixed-replace, as cameras really send it.

The RFC shape is `--boundary CRLF headers CRLF CRLF body CRLF --boundary ...`, but
cameras disagree: some declare `boundary=--foo` and write `--foo`, some omit
Content-Length, some use bare LF. The parser uses Content-Length when a part has one
(robust against boundary bytes inside a JPEG) and otherwise looks for the next
boundary. No I/O: fed bytes, returns part bodies.
"""

from __future__ import annotations

import re

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length\s*:\s*(\d+)\s*$")


class MjpegParseError(ValueError):
    pass


class MjpegParser:
    def __init__(self, boundary: str, *, max_part_bytes: int = 16 * 1024 * 1024) -> None:
        boundary = boundary.strip().strip('"')
        if not boundary:
            raise MjpegParseError("empty multipart boundary")
        # Accept both `boundary=foo` + `--foo` and `boundary=--foo` + `--foo`.
        core = boundary[2:] if boundary.startswith("--") else boundary
        self._marker = b"--" + core.encode("latin-1")
        self._max = max_part_bytes
        self._buf = bytearray()
        self._length: int | None = None
        self._in_body = False
        self.parts_skipped = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every complete JPEG part found so far."""
        self._buf += data
        out: list[bytes] = []
        while True:
            part = self._next()
            if part is None:
                break
            if part[:2] == b"\xff\xd8":
                out.append(part)
            else:
                self.parts_skipped += 1
        if len(self._buf) > self._max:
            raise MjpegParseError(f"no part boundary within {self._max} bytes")
        return out

    def _next(self) -> bytes | None:
        if not self._in_body:
            start = self._buf.find(self._marker)
            if start < 0:
                # Keep a tail in case the marker is split across reads.
                del self._buf[: max(0, len(self._buf) - len(self._marker))]
                return None
            m = _HEADER_END.search(self._buf, start + len(self._marker))
            if m is None:
                return None
            headers = bytes(self._buf[start : m.start()])
            length = _CONTENT_LENGTH.search(headers)
            self._length = int(length.group(1)) if length else None
            del self._buf[: m.end()]
            self._in_body = True
        if self._length is not None:
            if len(self._buf) < self._length:
                return None
            body = bytes(self._buf[: self._length])
            del self._buf[: self._length]
        else:
            end = self._buf.find(self._marker)
            if end < 0:
                return None
            body = bytes(self._buf[:end]).rstrip(b"\r\n")
            del self._buf[:end]
        self._in_body = False
        return body
