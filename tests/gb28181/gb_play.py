"""One play on the strict test platform: the SDP answer checked, RTP received and checked.

The answer must be sendonly, PS/90000 on 96 with the offer's y=; RTP must carry PT 96, the
offer's SSRC, consecutive sequence numbers, payloads of at most 1400 bytes and a marker per
frame, over UDP or TCP (RFC 4571 framing, passive or active). The reassembled PS is kept in
`ps` for FFmpeg; every breach goes to the platform's `violations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from typing import TYPE_CHECKING

from edge.codecs import rtp, sdp, sip
from edge.codecs.errors import ProtocolError

if TYPE_CHECKING:
    from gb_platform import Platform


class PlaySession:
    def __init__(
        self, platform: Platform, device: str, channel: str, media: str, ssrc: str
    ) -> None:
        self.platform = platform
        self.device = device
        self.channel = channel
        self.media = media
        self.ssrc = int(ssrc)
        self.call_id = uuid.uuid4().hex
        self.port = 0
        self.answer: sip.SipMessage | None = None
        self.invite: sip.SipMessage | None = None
        self.offer_answer: sdp.SdpOffer | None = None
        self.packets: list[rtp.RtpPacket] = []
        self.ps = bytearray()
        self.frames_marked = 0
        self.first_packet_at: float | None = None
        self.invited_at = 0.0
        self.last_packet_at: float | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._tcp: list[asyncio.StreamWriter] = []
        self._reader_tasks: set[asyncio.Task[None]] = set()

    @property
    def violations(self) -> list[str]:
        return self.platform.violations

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self.media == "udp":
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _RtpUdp(self), local_addr=("127.0.0.1", 0)
            )
            self.port = self._udp.get_extra_info("sockname")[1]
        elif self.media == "tcp-passive":
            self._server = await asyncio.start_server(self._on_tcp, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
        else:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]  # informative only: we connect out

    def check_answer(self, invite: sip.SipMessage) -> None:
        assert self.answer is not None
        bad = self.platform.violations.append
        if (self.answer.get("Content-Type") or "").lower() != "application/sdp":
            bad("INVITE answer is not application/sdp")
        if not self.answer.get("Contact"):
            bad("INVITE answer without Contact")
        if not sip.parse_name_addr(self.answer.require("To")).tag:
            bad("INVITE answer without To tag")
        text = self.answer.body.decode()
        lines = text.split("\r\n")
        for need in ("a=sendonly", "a=rtpmap:96 PS/90000", f"y={self.ssrc:010d}"):
            if need not in lines:
                bad(f"SDP answer lacks {need}")
        answer = sdp.parse_offer(self.answer.body)
        self.offer_answer = answer
        if (answer.tcp) != (self.media != "udp"):
            bad(f"SDP answer proto {answer.proto} for a {self.media} offer")
        want_setup = {"tcp-passive": "active", "tcp-active": "passive"}.get(self.media)
        if answer.setup != want_setup:
            bad(f"SDP answer setup {answer.setup} for {self.media}")
        if answer.address in ("0.0.0.0", ""):
            bad("SDP answer advertises a wildcard address")

    async def connect_active(self) -> None:
        assert self.offer_answer is not None
        reader, writer = await asyncio.open_connection(
            self.offer_answer.address, self.offer_answer.port
        )
        self._tcp.append(writer)
        task = asyncio.create_task(self._read_tcp(reader))
        self._reader_tasks.add(task)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tcp.append(writer)
        await self._read_tcp(reader)

    async def _read_tcp(self, reader: asyncio.StreamReader) -> None:
        deframer = rtp.TcpDeframer()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                for packet in deframer.feed(data):
                    self.rtp(packet)

    def rtp(self, data: bytes) -> None:
        now = time.monotonic()
        if self.first_packet_at is None:
            self.first_packet_at = now
        self.last_packet_at = now
        try:
            packet = rtp.parse(data)
        except ProtocolError as exc:
            self.violations.append(f"RTP: {exc}")
            return
        if packet.payload_type != 96:
            self.violations.append(f"RTP payload type {packet.payload_type}")
        if packet.ssrc != self.ssrc:
            self.violations.append(f"RTP SSRC {packet.ssrc} is not the offer's {self.ssrc}")
        if len(packet.payload) > 1400:
            self.violations.append(f"RTP payload of {len(packet.payload)} bytes")
        if self.packets and packet.seq != (self.packets[-1].seq + 1) & 0xFFFF:
            self.violations.append(f"RTP seq jumped {self.packets[-1].seq} → {packet.seq}")
        self.packets.append(packet)
        self.ps += packet.payload
        if packet.marker:
            self.frames_marked += 1
        self.platform._touch()

    async def close(self) -> None:
        """Stop listening (what a platform does when it goes away without BYE)."""
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
        for w in self._tcp:
            w.close()
        for t in self._reader_tasks:
            t.cancel()
        await asyncio.sleep(0)


class _RtpUdp(asyncio.DatagramProtocol):
    def __init__(self, owner: PlaySession) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.owner.rtp(data)
