"""A strict GB/T 28181 platform for the tests, written from the standard and wvp's behaviour.

It listens on UDP or TCP (127.0.0.1, ephemeral port) and checks what a real
platform relies on, recording every breach in `violations` (tests assert it
stays empty):

- every request: Via with a `z9hG4bK` branch, the right transport and an
  address we can answer (never 0.0.0.0), From with a tag, To, Call-ID, CSeq
  naming the method, Max-Forwards, a Content-Length equal to the body;
- REGISTER: From and To users are the device, a Contact and Expires; a 401
  digest challenge; the digest proves the password (else 403); the same
  Call-ID on every refresh of a registration and CSeq increasing;
- MESSAGE: `Application/MANSCDP+xml`, a body that declares GB2312 and decodes
  strictly as GB2312, from a registered device (else 404, as a platform that
  lost its state answers); keepalives not faster than half the interval;
- a Catalog answer is complete when the items received reach `SumNum`, every
  page repeating the query's SN and the same SumNum.

And it plays: INVITE with an SDP offer (UDP, TCP passive or TCP active), ACK,
and a `gb_play.PlaySession` that checks the answer and receives the RTP.

Faults on demand: `answer_keepalives = False`, `keepalive_status = 404`,
`restart()` (all state lost, same port), a wrong password configured,
`mark_offline(device)` (wvp with `gb-device-online: 0`, the standard behaviour:
a device whose keepalives stopped for too long is offline, and its later
keepalives are answered 200 but do not bring it back; only a REGISTER does).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from gb_play import PlaySession

from edge.codecs import manscdp, sdp, sip, sipdigest
from edge.codecs.errors import ProtocolError

SERVER_ID = "34020000002000000001"
DOMAIN = "3402000000"


@dataclass
class Registration:
    call_id: str
    cseq: int
    expires: int
    contact: tuple[str, int]
    registered_at: float = field(default_factory=time.monotonic)
    refreshes: int = 0


@dataclass
class Received:
    """A MANSCDP body the platform accepted."""

    at: float
    device: str
    doc: manscdp.Manscdp
    raw: bytes


class Platform:
    def __init__(
        self,
        transport: Literal["udp", "tcp"] = "udp",
        *,
        password: str = "12345678",
        qop: bool = False,
        keepalive_s: float | None = None,
    ) -> None:
        self.kind = transport
        self.password = password
        self.qop = qop
        self.keepalive_s = keepalive_s
        self.port = 0
        self.violations: list[str] = []
        self.answer_keepalives = True
        self.keepalive_status = 200
        self.alarm_status = 200
        self.restarts = 0
        self.clock_skew = timedelta(0)
        self._reset_state()
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._conns: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def _reset_state(self) -> None:
        self.nonce = secrets.token_hex(16)
        self.registrations: dict[str, Registration] = {}
        self.register_log: list[tuple[int, str, int]] = []  # (status, call_id, expires)
        self.unregistered: list[str] = []
        self.offline: set[str] = set()  # known but marked offline: keepalives do not revive
        self.messages: list[Received] = []
        self.keepalives: list[float] = []
        self.byes: list[str] = []  # Call-IDs of plays the device hung up
        self.ok_retransmits = 0
        self.drop_next_ack = False
        self._acks: dict[str, sip.SipMessage] = {}
        self._pending: dict[str, asyncio.Future[sip.SipMessage]] = {}
        self._changed = asyncio.Event()
        self._cseq = 0

    # --- life ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.kind == "udp":
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _PlatformUdp(self), local_addr=("127.0.0.1", self.port)
            )
            self.port = self._udp.get_extra_info("sockname")[1]
        else:
            self._server = await asyncio.start_server(
                self._on_conn, "127.0.0.1", self.port, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        for w in self._conns:
            w.close()
        self._conns.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        for t in list(self._tasks):
            t.cancel()
        await asyncio.sleep(0)

    async def restart(self) -> None:
        """A platform restart: sockets closed, every registration and nonce forgotten."""
        await self.stop()
        self._reset_state()
        self.restarts += 1
        await self.start()

    # --- waiting ---------------------------------------------------------------------

    async def until(self, predicate: object, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():  # type: ignore[operator]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.2))

    def _touch(self) -> None:
        self._changed.set()

    def registered(self, device: str) -> bool:
        return device in self.registrations and device not in self.offline

    def mark_offline(self, device: str) -> None:
        """wvp's keepalive timer fired (no keepalive for interval × count): the device is
        offline until it registers again, whatever its keepalives say later."""
        self.offline.add(device)
        self._touch()

    def docs(self, cmd: str, root: str | None = None) -> list[Received]:
        return [
            m
            for m in self.messages
            if m.doc.cmd_type == cmd and (root is None or m.doc.root == root)
        ]

    # --- transport -------------------------------------------------------------------

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.append(writer)
        framer = sip.StreamFramer()
        peer = writer.get_extra_info("peername")
        try:
            while data := await reader.read(65536):
                try:
                    for msg in framer.feed(data):
                        self._dispatch(msg, peer, writer)
                except ProtocolError as exc:
                    self.violations.append(f"TCP stream not framable: {exc}")
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ValueError):
                self._conns.remove(writer)

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = sip.parse(data)
        except ProtocolError as exc:
            self.violations.append(f"unparsable datagram: {exc}")
            return
        self._dispatch(msg, addr, None)

    def _send(
        self, msg: sip.SipMessage, addr: tuple[str, int], writer: asyncio.StreamWriter | None
    ) -> None:
        data = msg.encode()
        if writer is not None:
            writer.write(data)
        elif self._conns and self.kind == "tcp":
            self._conns[-1].write(data)
        elif self._udp is not None:
            self._udp.sendto(data, addr)

    def _dispatch(
        self, msg: sip.SipMessage, addr: tuple[str, int], writer: asyncio.StreamWriter | None
    ) -> None:
        if not msg.is_request:
            branch = sip.parse_via(msg.get_all("Via")[0]).branch or ""
            fut = self._pending.get(branch)
            if fut is not None and not fut.done() and (msg.status or 0) >= 200:
                fut.set_result(msg)
            elif msg.status == 200 and msg.cseq[1] == "INVITE":
                self.ok_retransmits += 1
                ack = self._acks.get(msg.call_id)
                if ack is not None:  # the device did not get our ACK: send it again
                    self._send(ack, addr, writer)
            return
        self._check_common(msg)
        if msg.method == "REGISTER":
            answer = self._on_register(msg)
        elif msg.method == "MESSAGE":
            answer = self._on_message(msg)
        elif msg.method == "BYE":
            self.byes.append(msg.call_id)
            answer = sip.response_to(msg, 200)
        else:
            answer = sip.response_to(msg, 405)
        if answer is not None:
            self._send(answer, addr, writer)
        self._touch()

    # --- checks ----------------------------------------------------------------------

    def _bad(self, msg: sip.SipMessage, text: str) -> None:
        self.violations.append(f"{msg.method}: {text}")

    def _check_common(self, msg: sip.SipMessage) -> None:
        try:
            via = sip.parse_via(msg.require("Via"))
            if not (via.branch or "").startswith("z9hG4bK"):
                self._bad(msg, "Via branch without the z9hG4bK cookie")
            if via.transport != self.kind.upper():
                self._bad(msg, f"Via transport {via.transport} over {self.kind}")
            if via.host in ("0.0.0.0", "", "::"):
                self._bad(msg, f"Via advertises {via.host!r}")
            frm = sip.parse_name_addr(msg.require("From"))
            if not frm.tag:
                self._bad(msg, "From without tag")
            msg.require("To")
            msg.require("Call-ID")
            _, method = msg.cseq
            if method != msg.method:
                self._bad(msg, f"CSeq method {method}")
            msg.require("Max-Forwards")
            length = msg.get("Content-Length")
            if length is None:
                self._bad(msg, "no Content-Length")
            elif int(length) != len(msg.body):
                self._bad(msg, f"Content-Length {length} for {len(msg.body)} bytes")
        except ProtocolError as exc:
            self._bad(msg, str(exc))

    def _on_register(self, msg: sip.SipMessage) -> sip.SipMessage:
        frm = sip.parse_name_addr(msg.require("From"))
        to = sip.parse_name_addr(msg.require("To"))
        device = frm.user
        if to.user != device:
            self._bad(msg, f"To user {to.user} is not the From user {device}")
        contact_text = msg.get("Contact")
        expires_text = msg.get("Expires")
        if contact_text is None or expires_text is None:
            self._bad(msg, "REGISTER without Contact or Expires")
            return sip.response_to(msg, 400)
        contact = sip.parse_uri(sip.parse_name_addr(contact_text).uri)
        if contact.host in ("0.0.0.0", "::") or not contact.port:
            self._bad(msg, f"Contact advertises {contact.host}:{contact.port}")
        expires = int(expires_text)
        cseq, _ = msg.cseq
        known = self.registrations.get(device)
        if known is not None:
            if msg.call_id != known.call_id:
                self._bad(msg, "Call-ID changed while registered (a new registration to wvp)")
            elif cseq <= known.cseq:
                self._bad(msg, f"CSeq {cseq} not above {known.cseq}")
        auth = msg.get("Authorization")
        if auth is None:
            challenge = f'Digest realm="{DOMAIN}", nonce="{self.nonce}", algorithm=MD5'
            if self.qop:
                challenge += ', qop="auth"'
            self.register_log.append((401, msg.call_id, expires))
            return sip.response_to(msg, 401, to_tag=_tag(), extra=[("WWW-Authenticate", challenge)])
        params = sipdigest.parse_auth(auth)
        if params.get("uri") != msg.uri:
            self._bad(msg, f"digest uri {params.get('uri')} is not the request URI {msg.uri}")
        if params.get("username") != device:
            self._bad(msg, "digest username is not the device ID")
        if self.qop and params.get("qop") != "auth":
            self._bad(msg, "qop challenge answered without qop")
        if not sipdigest.verify(
            auth, method="REGISTER", password=self.password, realm=DOMAIN, nonce=self.nonce
        ):
            self.register_log.append((403, msg.call_id, expires))
            return sip.response_to(msg, 403, to_tag=_tag())
        if expires == 0:
            self.registrations.pop(device, None)
            self.unregistered.append(device)
        elif known is not None and known.call_id == msg.call_id:
            known.cseq, known.expires = cseq, expires
            known.contact = (contact.host, contact.port or 5060)
            known.refreshes += 1
        else:
            self.registrations[device] = Registration(
                msg.call_id, cseq, expires, (contact.host, contact.port or 5060)
            )
        self.register_log.append((200, msg.call_id, expires))
        self.offline.discard(device)
        # GB/T 28181 §9.10: the platform's time in the REGISTER answer (local, no zone).
        now = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))) + self.clock_skew
        date = now.replace(tzinfo=None).isoformat(timespec="milliseconds")
        return sip.response_to(
            msg, 200, to_tag=_tag(), extra=[("Expires", str(expires)), ("Date", date)]
        )

    def _on_message(self, msg: sip.SipMessage) -> sip.SipMessage | None:
        device = sip.parse_name_addr(msg.require("From")).user
        if (msg.get("Content-Type") or "").lower() != manscdp.CONTENT_TYPE.lower():
            self._bad(msg, f"Content-Type {msg.get('Content-Type')}")
        if b'encoding="GB2312"' not in msg.body[:60]:
            self._bad(msg, "body does not declare GB2312")
        try:
            msg.body.decode("gb2312")
            doc = manscdp.parse(msg.body)
        except (UnicodeDecodeError, ProtocolError) as exc:
            self._bad(msg, f"body: {exc}")
            return sip.response_to(msg, 400)
        if device not in self.registrations:
            return sip.response_to(msg, 404)
        now = time.monotonic()
        if doc.cmd_type == "Keepalive":
            if (
                self.keepalive_s
                and self.keepalives
                and now - self.keepalives[-1] < (self.keepalive_s * 0.5)
            ):
                self._bad(msg, "keepalives faster than half the interval")
            self.keepalives.append(now)
            if not self.answer_keepalives:
                return None
            if self.keepalive_status != 200:
                return sip.response_to(msg, self.keepalive_status)
        if doc.cmd_type == "Alarm" and self.alarm_status != 200:
            return sip.response_to(msg, self.alarm_status)
        self.messages.append(Received(now, device, doc, msg.body))
        return sip.response_to(msg, 200)

    # --- requests to the device ------------------------------------------------------

    def _request(
        self,
        method: str,
        device: str,
        uri_user: str,
        body: bytes,
        content_type: str,
        call_id: str | None = None,
    ) -> sip.SipMessage:
        reg = self.registrations[device]
        self._cseq += 1
        via = sip.Via(
            self.kind.upper(),
            "127.0.0.1",
            self.port,
            {"rport": "", "branch": "z9hG4bK" + uuid.uuid4().hex[:12]},
        )
        msg = sip.SipMessage(
            method=method,
            uri=f"sip:{uri_user}@{reg.contact[0]}:{reg.contact[1]}",
            headers=[
                ("Via", via.encode()),
                ("From", f"<sip:{SERVER_ID}@{DOMAIN}>;tag={_tag()}"),
                ("To", f"<sip:{uri_user}@{DOMAIN}>"),
                ("Call-ID", call_id or uuid.uuid4().hex),
                ("CSeq", f"{self._cseq} {method}"),
                ("Max-Forwards", "70"),
                ("Contact", f"<sip:{SERVER_ID}@127.0.0.1:{self.port}>"),
            ],
            body=body,
        )
        if body:
            msg.add("Content-Type", content_type)
        return msg

    async def send_request(
        self, msg: sip.SipMessage, device: str, timeout_s: float = 5.0
    ) -> sip.SipMessage:
        branch = sip.parse_via(msg.require("Via")).branch or ""
        fut: asyncio.Future[sip.SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[branch] = fut
        self._send(msg, self.registrations[device].contact, None)
        try:
            return await asyncio.wait_for(fut, timeout_s)
        finally:
            self._pending.pop(branch, None)

    async def query(
        self,
        device: str,
        cmd: str,
        target: str | None = None,
        extra: list[manscdp.Node] | None = None,
    ) -> int:
        sn = secrets.randbelow(900000) + 100000
        body = manscdp.query(cmd, sn, target or device, extra or [])
        answer = await self.send_request(
            self._request("MESSAGE", device, target or device, body, manscdp.CONTENT_TYPE), device
        )
        assert answer.status == 200, f"{cmd} query answered {answer.status}"
        assert answer.body == b"", "a MESSAGE answer has no body"
        return sn

    async def control(self, device: str, target: str, fields: list[manscdp.Node]) -> int:
        """A DeviceControl MESSAGE; its Response (Result) arrives later with the SN."""
        sn = secrets.randbelow(900000) + 100000
        body = manscdp.build("Control", "DeviceControl", sn, target, fields)
        answer = await self.send_request(
            self._request("MESSAGE", device, target, body, manscdp.CONTENT_TYPE), device
        )
        assert answer.status == 200, f"DeviceControl answered {answer.status}"
        return sn

    async def catalog(self, device: str, timeout_s: float = 10.0) -> list[dict[str, str]]:
        """Query the catalog and collect its pages until `SumNum` items arrived."""
        sn = await self.query(device, "Catalog")

        def pages() -> list[Received]:
            return [m for m in self.docs("Catalog", "Response") if m.doc.sn == sn]

        def complete() -> bool:
            got = pages()
            return bool(got) and sum(len(p.doc.items("DeviceList")) for p in got) >= int(
                got[0].doc.text("SumNum")
            )

        await self.until(complete, timeout_s, "all catalog pages")
        got = pages()
        sums = {p.doc.text("SumNum") for p in got}
        if len(sums) != 1:
            self.violations.append(f"catalog pages disagree on SumNum: {sums}")
        items: list[dict[str, str]] = []
        for p in got:
            num = p.doc.list_num("DeviceList")
            page_items = p.doc.items("DeviceList")
            if num != len(page_items):
                self.violations.append(f"DeviceList Num={num} with {len(page_items)} items")
            items += page_items
        return items

    async def answer_to(
        self,
        device: str,
        cmd: str,
        timeout_s: float = 5.0,
        target: str | None = None,
        extra: list[manscdp.Node] | None = None,
    ) -> manscdp.Manscdp:
        sn = await self.query(device, cmd, target, extra)
        await self.until(
            lambda: any(m.doc.sn == sn for m in self.docs(cmd, "Response")),
            timeout_s,
            f"{cmd} answer",
        )
        return next(m.doc for m in self.docs(cmd, "Response") if m.doc.sn == sn)

    # --- plays -----------------------------------------------------------------------

    async def invite(
        self,
        device: str,
        channel: str,
        media: Literal["udp", "tcp-passive", "tcp-active"] = "udp",
        ssrc: str = "0100000001",
    ) -> PlaySession:
        play = PlaySession(self, device, channel, media, ssrc)
        await play.open()
        offer = sdp.build_offer(
            user=SERVER_ID,
            address="127.0.0.1",
            port=play.port,
            tcp=media != "udp",
            setup="active" if media == "tcp-active" else "passive",
            ssrc=ssrc,
        )
        msg = self._request(
            "INVITE", device, channel, offer, "application/sdp", call_id=play.call_id
        )
        msg.set("To", f"<sip:{channel}@{DOMAIN}>")
        msg.add("Subject", f"{channel}:{ssrc},{SERVER_ID}:0")
        play.invited_at = time.monotonic()
        answer = await self.send_request(msg, device)
        play.answer = answer
        if answer.status != 200:
            await play.close()
            return play
        play.check_answer(msg)
        ack = self._request("ACK", device, channel, b"", "", call_id=play.call_id)
        ack.set("CSeq", f"{msg.cseq[0]} ACK")
        ack.set("To", answer.require("To"))
        ack.set("From", msg.require("From"))
        self._acks[play.call_id] = ack
        if self.drop_next_ack:
            self.drop_next_ack = False  # "lost" on the way
        else:
            self._send(ack, self.registrations[device].contact, None)
        play.invite = msg
        if media == "tcp-active":
            await play.connect_active()
        return play

    async def cancel(self, play: PlaySession, *, branch: str | None = None) -> sip.SipMessage:
        """RFC 3261 §9.1: the INVITE's Request-URI, Via (branch), Call-ID, From, To and
        CSeq number, with method CANCEL; another `branch` matches no INVITE."""
        assert play.invite is not None
        invite = play.invite
        via = invite.require("Via")
        if branch is not None:
            v = sip.parse_via(via)
            via = sip.Via(v.transport, v.host, v.port, {"rport": "", "branch": branch}).encode()
        msg = sip.SipMessage(
            method="CANCEL",
            uri=invite.uri,
            headers=[("Via", via)]
            + [(name, invite.require(name)) for name in ("From", "To", "Call-ID")]
            + [("CSeq", f"{invite.cseq[0]} CANCEL"), ("Max-Forwards", "70")],
        )
        return await self.send_request(msg, play.device)

    async def bye(self, play: PlaySession) -> sip.SipMessage:
        assert play.invite is not None and play.answer is not None
        msg = self._request("BYE", play.device, play.channel, b"", "", call_id=play.call_id)
        msg.set("From", play.invite.require("From"))
        msg.set("To", play.answer.require("To"))
        return await self.send_request(msg, play.device)


class _PlatformUdp(asyncio.DatagramProtocol):
    def __init__(self, owner: Platform) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.owner._datagram(data, addr)


def _tag() -> str:
    return uuid.uuid4().hex[:8]
