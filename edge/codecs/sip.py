"""SIP messages (RFC 3261) as GB/T 28181 devices and platforms exchange them.

Pure bytes ↔ `SipMessage`. The parser accepts what real gear sends: compact
header names (`v`, `f`, `t`, `i`, `m`, `l`, `c`), any case, extra spaces after
the colon (`Content-Length:   180` in a Dahua capture), bare LF line ends, and
headers repeated or comma-joined. The serialiser writes canonical names, CRLF,
and always a `Content-Length` (GB/T 28181 over TCP frames messages by it, and
platforms such as wvp reject a TCP message without one).

Over TCP `StreamFramer` cuts a byte stream into messages by `Content-Length`
and skips the CRLF keep-alive pings (RFC 5626) between them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from edge.codecs.errors import FrameError, ProtocolError

VERSION = "SIP/2.0"
MAX_MESSAGE_BYTES = 256 * 1024  # a catalog page is a few kB; anything this big is hostile

COMPACT = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "e": "Content-Encoding",
    "k": "Supported",
    "s": "Subject",
    "o": "Event",
}

_CANONICAL = {
    name.lower(): name
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Expires",
        "Max-Forwards",
        "User-Agent",
        "Server",
        "Content-Type",
        "Content-Length",
        "Content-Encoding",
        "WWW-Authenticate",
        "Authorization",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Route",
        "Record-Route",
        "Subject",
        "Supported",
        "Allow",
        "Date",
        "Event",
        "Subscription-State",
    )
}

# Headers whose values may be comma-joined lists of several entries (RFC 3261 §7.3.1).
_LIST_HEADERS = {"via", "contact", "route", "record-route"}

REASONS = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class SipError(ProtocolError):
    """Bytes that are not a SIP message we can act on."""


def canonical(name: str) -> str:
    """The one spelling used for a header name (compact forms expanded)."""
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return _CANONICAL.get(low, "-".join(part.capitalize() for part in low.split("-")))


@dataclass
class SipMessage:
    """A request (`method` set) or a response (`status` set), headers in wire order."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of a header (compact or full name, any case)."""
        want = canonical(name)
        for key, value in self.headers:
            if key == want:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        want = canonical(name)
        return [value for key, value in self.headers if key == want]

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SipError(f"missing {canonical(name)} header")
        return value

    def set(self, name: str, value: str) -> None:
        """Replace every value of a header with one (appended when absent)."""
        want = canonical(name)
        kept = [(k, v) for k, v in self.headers if k != want]
        at = next((i for i, (k, _) in enumerate(self.headers) if k == want), len(kept))
        kept.insert(min(at, len(kept)), (want, value))
        self.headers = kept

    def add(self, name: str, value: str) -> None:
        self.headers.append((canonical(name), value))

    def remove(self, name: str) -> None:
        want = canonical(name)
        self.headers = [(k, v) for k, v in self.headers if k != want]

    @property
    def call_id(self) -> str:
        return self.require("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.require("CSeq"))

    @property
    def content_length(self) -> int:
        return len(self.body)

    def encode(self) -> bytes:
        return serialise(self)

    def summary(self) -> str:
        """One line for logs: the start line and CSeq."""
        head = f"{self.method} {self.uri}" if self.is_request else f"{self.status} {self.reason}"
        return f"{head} (CSeq {self.get('CSeq', '?')})"


def parse(data: bytes) -> SipMessage:
    """One whole SIP message (a UDP datagram or a frame cut by `StreamFramer`)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    head, body = _split_head(data)
    if head is None:
        raise FrameError("no blank line ends the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("gbk", errors="replace")
    lines = _unfold(text.replace("\r\n", "\n").split("\n"))
    while lines and not lines[0].strip():
        lines.pop(0)  # stray CRLF keep-alives before the start line
    if not lines:
        raise FrameError("empty message")
    msg = _start_line(lines[0])
    for line in lines[1:]:
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            raise SipError(f"malformed header line {line[:60]!r}")
        key = canonical(name)
        value = value.strip()
        if key.lower() in _LIST_HEADERS:
            for part in split_list(value):
                msg.headers.append((key, part))
        else:
            msg.headers.append((key, value))
    length_text = msg.get("Content-Length")
    if length_text is not None:
        try:
            length = int(length_text)
        except ValueError:
            raise SipError(f"Content-Length {length_text!r} is not a number") from None
        if length < 0 or length > len(body):
            raise FrameError(f"Content-Length {length} but {len(body)} body bytes arrived")
        body = body[:length]
    msg.body = body
    return msg


def _split_head(data: bytes) -> tuple[bytes | None, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = data.find(sep)
        if at >= 0:
            return data[:at], data[at + len(sep) :]
    return None, b""


def _unfold(lines: list[str]) -> list[str]:
    """Join header continuation lines (leading whitespace) to the previous line."""
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and out and out[-1].strip():
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def _start_line(line: str) -> SipMessage:
    parts = line.strip().split(" ", 2)
    if len(parts) < 2:
        raise SipError(f"malformed start line {line[:60]!r}")
    if parts[0].upper() == VERSION:
        try:
            status = int(parts[1])
        except ValueError:
            raise SipError(f"bad status code in {line[:60]!r}") from None
        if not 100 <= status <= 699:
            raise SipError(f"status {status} out of range")
        return SipMessage(status=status, reason=parts[2] if len(parts) > 2 else "")
    if len(parts) != 3 or parts[2].upper() != VERSION:
        raise SipError(f"not a SIP/2.0 request line: {line[:60]!r}")
    if not re.fullmatch(r"[A-Za-z]+", parts[0]):
        raise SipError(f"bad method {parts[0]!r}")
    return SipMessage(method=parts[0].upper(), uri=parts[1])


def serialise(msg: SipMessage) -> bytes:
    """Wire bytes; `Content-Length` is always written from the body."""
    if msg.is_request:
        lines = [f"{msg.method} {msg.uri} {VERSION}"]
    else:
        status = msg.status or 500
        lines = [f"{VERSION} {status} {msg.reason or REASONS.get(status, '')}"]
    for key, value in msg.headers:
        if key == "Content-Length":
            continue
        lines.append(f"{key}: {value}")
    lines.append(f"Content-Length: {len(msg.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + msg.body


def split_list(value: str) -> list[str]:
    """Split a comma-joined header value, respecting quotes and <...>."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(value):
        if ch == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


# --- header values ----------------------------------------------------------------


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not _digits(parts[0]):
        raise SipError(f"bad CSeq {value!r}")
    number = int(parts[0])
    if number >= 2**31:
        raise SipError(f"CSeq {number} too large")
    return number, parts[1].upper()


def parse_params(text: str) -> dict[str, str]:
    """`;a=1;b;c="x"` → {"a": "1", "b": "", "c": "x"} (names lower-cased)."""
    params: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return params


@dataclass(frozen=True)
class NameAddr:
    """`"Name" <sip:user@host:port;transport=tcp>;tag=abc` in From/To/Contact."""

    uri: str
    display: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def user(self) -> str:
        return parse_uri(self.uri).user

    def encode(self) -> str:
        head = f'"{self.display}" ' if self.display else ""
        tail = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"{head}<{self.uri}>{tail}"


def parse_name_addr(value: str) -> NameAddr:
    value = value.strip()
    if "<" in value:
        lt = value.index("<")
        gt = value.find(">", lt)
        if gt < 0:
            raise SipError(f"unclosed < in {value[:60]!r}")
        display = value[:lt].strip().strip('"')
        return NameAddr(value[lt + 1 : gt], display, parse_params(value[gt + 1 :]))
    uri, _, params = value.partition(";")
    return NameAddr(uri.strip(), "", parse_params(params))


@dataclass(frozen=True)
class SipUri:
    user: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)

    def encode(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        tail = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"sip:{user}{self.host}{port}{tail}"


def parse_uri(uri: str) -> SipUri:
    uri = uri.strip()
    if not uri.lower().startswith(("sip:", "sips:")):
        raise SipError(f"not a sip: URI {uri[:60]!r}")
    rest = uri.split(":", 1)[1]
    rest, _, params = rest.partition(";")
    rest = rest.split("?", 1)[0]
    user, at, hostport = rest.rpartition("@")
    if not at:
        user, hostport = "", rest
    host, colon, port = hostport.partition(":")
    if colon and not _digits(port):
        raise SipError(f"bad port in {uri[:60]!r}")
    return SipUri(user, host, int(port) if colon else None, parse_params(params))


@dataclass(frozen=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def encode(self) -> str:
        port = f":{self.port}" if self.port else ""
        tail = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"SIP/2.0/{self.transport} {self.host}{port}{tail}"


def parse_via(value: str) -> Via:
    proto, _, rest = value.strip().partition(" ")
    bits = proto.split("/")
    if len(bits) != 3 or bits[0].upper() != "SIP":
        raise SipError(f"bad Via {value[:60]!r}")
    sent_by, _, params = rest.strip().partition(";")
    host, colon, port = sent_by.strip().partition(":")
    if colon and not _digits(port):
        raise SipError(f"bad Via port in {value[:60]!r}")
    return Via(bits[2].upper(), host, int(port) if colon else None, parse_params(params))


def response_to(
    request: SipMessage,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipMessage:
    """A response echoing Via, From, To (tagged), Call-ID and CSeq (RFC 3261 §8.2.6)."""
    if not request.is_request:
        raise SipError("can only answer a request")
    headers: list[tuple[str, str]] = [("Via", v) for v in request.get_all("Via")]
    headers.append(("From", request.require("From")))
    to = request.require("To")
    if to_tag and "tag=" not in to:
        to = f"{to};tag={to_tag}"
    headers.append(("To", to))
    headers.append(("Call-ID", request.require("Call-ID")))
    headers.append(("CSeq", request.require("CSeq")))
    headers.extend((canonical(k), v) for k, v in extra)
    return SipMessage(
        status=status, reason=reason or REASONS.get(status, ""), headers=headers, body=body
    )


class StreamFramer:
    """Messages out of a TCP byte stream, cut at `Content-Length`.

    Over TCP the header is mandatory (RFC 3261 §18.3); a message without it is
    taken to have an empty body. CRLF pings between messages are skipped.
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_bytes

    def feed(self, data: bytes) -> Iterator[SipMessage]:
        self._buf += data
        while True:
            while self._buf[:2] == b"\r\n" or self._buf[:1] == b"\n":
                del self._buf[: 2 if self._buf[:2] == b"\r\n" else 1]
            end = self._buf.find(b"\r\n\r\n")
            sep = 4
            if end < 0:
                end, sep = self._buf.find(b"\n\n"), 2
            if end < 0:
                if len(self._buf) > self._max:
                    raise FrameError("headers exceed the size limit without an end")
                return
            head = bytes(self._buf[:end])
            length = _content_length(head)
            total = end + sep + length
            if total > self._max:
                raise FrameError(f"message of {total} bytes exceeds {self._max}")
            if len(self._buf) < total:
                return
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            yield parse(frame)


_CL = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)", re.IGNORECASE | re.MULTILINE)


def _content_length(head: bytes) -> int:
    m = _CL.search(head)
    if not m:
        return 0
    try:
        value = int(m.group(1))
    except ValueError:
        raise SipError(f"Content-Length {m.group(1)!r} is not a number") from None
    if value < 0:
        raise SipError("negative Content-Length")
    return value


def _digits(text: str) -> bool:
    """ASCII digits only (`str.isdigit` accepts "²", which `int` refuses)."""
    return text.isascii() and text.isdigit()
