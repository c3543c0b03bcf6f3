"""SIP over UDP or one TCP connection, with the transaction layer a device needs.

Client transactions (our REGISTER, MESSAGE, BYE) are matched to responses by
the Via branch; over UDP a request is retransmitted at 0.5 s, doubling to 4 s
(RFC 3261 timers A/E), until a final answer or `timeout_s`. Provisional
answers (1xx) are skipped. Server transactions (the platform's MESSAGE,
INVITE, BYE): a retransmitted request (same branch and method) gets the
cached answer again instead of being handled twice.

Over TCP everything travels on one connection framed by Content-Length; when
it closes `closed` is set and the agent reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Literal

from edge.codecs import sip
from edge.codecs.errors import ProtocolError

log = logging.getLogger(__name__)

T1_S = 0.5
T2_S = 4.0
SERVER_CACHE = 256  # answered requests remembered for retransmissions

RequestHandler = Callable[[sip.SipMessage], Awaitable[sip.SipMessage | None]]
Trace = Callable[[str, sip.SipMessage], None]
"""Called with "out"/"in" and each message (the CLI's step-by-step view)."""


class TransportClosed(ConnectionError):
    """The TCP connection to the platform closed."""


class SipTimeout(TimeoutError):
    """No final answer to a request in time."""


def route_address(host: str, port: int) -> str:
    """The local address the OS would use to reach `host` (nothing is sent)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        return str(s.getsockname()[0])


class SipTransport:
    def __init__(
        self,
        kind: Literal["udp", "tcp"],
        server: tuple[str, int],
        *,
        local_host: str | None,
        local_port: int,
        on_request: RequestHandler,
    ) -> None:
        self.kind = kind
        self.server = server
        self.local_host = local_host or route_address(*server)
        self.local_port = local_port
        self.on_request = on_request
        self.closed = asyncio.Event()
        self._pending: dict[str, asyncio.Future[sip.SipMessage]] = {}
        self._answered: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.bad_messages = 0
        self.trace: Trace | None = None

    @property
    def via_transport(self) -> str:
        return self.kind.upper()

    async def open(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        if self.kind == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self),
                local_addr=(self.local_host, self.local_port),
                remote_addr=self.server,
            )
            self._udp = transport
            self.local_port = transport.get_extra_info("sockname")[1]
        else:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    *self.server, local_addr=(self.local_host, self.local_port)
                ),
                timeout_s,
            )
            self._writer = writer
            self.local_port = writer.get_extra_info("sockname")[1]
            self._reader_task = asyncio.create_task(self._read_tcp(reader), name="gb28181.tcp")

    async def close(self) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(TransportClosed("transport closed"))
        self._pending.clear()
        for task in list(self._handlers):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        self.closed.set()

    def send(self, msg: sip.SipMessage) -> None:
        if self.trace is not None:
            self.trace("out", msg)
        self._send_raw(msg.encode())

    async def request(self, msg: sip.SipMessage, timeout_s: float) -> sip.SipMessage:
        """Send and wait for the final answer (retransmitting over UDP)."""
        branch = sip.parse_via(msg.require("Via")).branch or ""
        fut: asyncio.Future[sip.SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[branch] = fut
        deadline = time.monotonic() + timeout_s
        interval = T1_S
        try:
            self.send(msg)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SipTimeout(f"no answer to {msg.method} in {timeout_s:.1f} s")
                wait = min(left, interval) if self.kind == "udp" else left
                done, _ = await asyncio.wait({fut}, timeout=wait)
                if done:
                    return fut.result()
                if self.kind == "udp":
                    self.send(msg)
                    interval = min(interval * 2, T2_S)
        finally:
            self._pending.pop(branch, None)

    # --- incoming ------------------------------------------------------------------

    def _received(self, msg: sip.SipMessage) -> None:
        if self.trace is not None:
            self.trace("in", msg)
        if not msg.is_request:
            if msg.status is not None and msg.status < 200:
                return
            vias = msg.get_all("Via")
            branch = sip.parse_via(vias[0]).branch if vias else None
            fut = self._pending.get(branch or "")
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        key = (sip.parse_via(msg.require("Via")).branch or msg.call_id, msg.method or "")
        if msg.method == "ACK":
            key = ("", "")  # ACKs have no answer to cache
        elif key in self._answered:
            with contextlib.suppress(TransportClosed):
                self._send_raw(self._answered[key])
            return
        task = asyncio.create_task(self._handle(msg, key), name=f"gb28181.{msg.method}")
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, msg: sip.SipMessage, key: tuple[str, str]) -> None:
        try:
            answer = await self.on_request(msg)
        except Exception:
            log.exception("handling %s failed", msg.summary())
            answer = sip.response_to(msg, 500)
        if answer is None:
            return
        data = answer.encode()
        if key != ("", ""):
            self._answered[key] = data
            while len(self._answered) > SERVER_CACHE:
                self._answered.popitem(last=False)
        with contextlib.suppress(TransportClosed):
            self._send_raw(data)

    def _send_raw(self, data: bytes) -> None:
        if self.closed.is_set():
            raise TransportClosed("the connection to the platform is closed")
        if self._udp is not None:
            self._udp.sendto(data)
        elif self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)
        else:
            raise TransportClosed("not connected")

    def _datagram(self, data: bytes) -> None:
        if not data.strip():
            return  # CRLF keep-alive ping
        try:
            msg = sip.parse(data)
        except ProtocolError as exc:
            self.bad_messages += 1
            log.debug("dropped a malformed datagram: %s", exc)
            return
        self._received(msg)

    async def _read_tcp(self, reader: asyncio.StreamReader) -> None:
        framer = sip.StreamFramer()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    for msg in framer.feed(data):
                        self._received(msg)
                except ProtocolError as exc:
                    # The stream cannot be resynchronised after a framing error.
                    log.warning("SIP stream from the platform broken: %s", exc)
                    break
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(TransportClosed("the platform closed the connection"))


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.owner._datagram(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a platform that is down: the request times out
        # (and is retransmitted) like a lost datagram.
        log.debug("UDP error from the platform: %s", exc)
