"""Live plays: INVITE → 200 OK with SDP → ACK → PS over RTP until BYE.

Per play: the platform's offer says where to send (UDP, or TCP with
`setup:passive` — the platform listens and we connect — or `setup:active` —
we listen), the SSRC (`y=`) and the session (`s=Play`; recordings are not
ours to play). After the ACK the camera's own packets, never re-encoded, are
muxed into PS (parameter sets injected before IDRs that lack them), cut into
RTP packets and sent, starting at a keyframe.

A play ends on BYE (within one packet interval), when the platform vanishes
(ICMP port unreachable on UDP, the TCP connection closed), when no ACK comes,
or when the source ends. Over the configured limit an INVITE gets 486; an
unknown channel 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from edge.codecs import ps, psnal, rtp, sdp, sip
from edge.codecs.errors import ProtocolError
from edge.uplinks.gb28181.source import MediaPacket, PacketSource, SourceProvider

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 10.0
TCP_CONNECT_TIMEOUT_S = 5.0
BURST_PACKETS = 32  # ~45 kB of RTP
BURST_GAP_S = 0.002  # a 500 kB IDR leaves in ~30 ms, inside one frame interval at 25 fps
UDP_BUFFER_HIGH = 4 * 1024 * 1024  # bytes queued in the UDP transport before we drop


class PlayEnded(Exception):
    """Why a play stopped (the platform went away, the source ended)."""


@dataclass
class PlayStats:
    frames: int = 0
    packets: int = 0
    bytes: int = 0
    skipped_to_keyframe: int = 0
    first_frame_s: float | None = None


@dataclass
class Play:
    call_id: str
    channel_id: str
    camera_id: str
    offer: sdp.SdpOffer
    local_host: str
    sock: socket.socket | None = None
    server: asyncio.Server | None = None
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None = None
    task: asyncio.Task[None] | None = None
    local_tag: str = ""
    remote_from: str = ""
    """The INVITE's From (the platform's end of the dialog, with its tag)."""
    remote_to: str = ""
    """The INVITE's To: ours, tagged `local_tag` in answers and in our BYE's From."""
    remote_target: str = ""
    """Where in-dialog requests (our BYE) go: the INVITE's Contact URI."""
    invited_at: float = field(default_factory=time.monotonic)
    stats: PlayStats = field(default_factory=PlayStats)
    ended: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "channel": self.channel_id,
            "camera": self.camera_id,
            "to": f"{self.offer.address}:{self.offer.port}",
            "transport": ("tcp-" + (self.offer.setup or "passive")) if self.offer.tcp else "udp",
            "ssrc": self.offer.ssrc,
            "frames": self.stats.frames,
            "bytes": self.stats.bytes,
        }


CameraLookup = Callable[[str], "str | None"]  # channel id → camera id
Hangup = Callable[[Play], Awaitable[None]]
"""Sends our BYE for a play that ended on our side (source gone, platform gone, shutdown)."""


class PlayManager:
    def __init__(
        self,
        *,
        device_id: str,
        media_host: str,
        max_plays: int,
        camera_of: CameraLookup,
        sources: SourceProvider | None,
        playable: Callable[[str], bool] = lambda camera_id: True,
        hangup: Hangup | None = None,
    ) -> None:
        self.device_id = device_id
        self.media_host = media_host
        self.max_plays = max_plays
        self.camera_of = camera_of
        self.sources = sources
        self.playable = playable
        self.hangup = hangup
        self._hangups: set[asyncio.Task[None]] = set()
        self.plays: dict[str, Play] = {}
        self.refused_busy = 0
        self.ended: dict[str, int] = {}

    # --- signalling ------------------------------------------------------------------

    async def invite(self, msg: sip.SipMessage, contact: str) -> sip.SipMessage:
        call_id = msg.call_id
        if call_id in self.plays:  # a re-INVITE: keep the play, answer as before
            return self._ok(msg, self.plays[call_id], contact)
        channel = _channel_of(msg)
        camera_id = self.camera_of(channel)
        if camera_id is None:
            return sip.response_to(msg, 404, to_tag=_tag())
        if len(self.plays) >= self.max_plays:
            self.refused_busy += 1
            return sip.response_to(msg, 486, to_tag=_tag())
        if self.sources is None or not self.playable(camera_id):
            return sip.response_to(msg, 503, "No Packet Source", to_tag=_tag())
        try:
            offer = sdp.parse_offer(msg.body)
        except ProtocolError as exc:
            log.warning("INVITE for %s with an unusable offer: %s", channel, exc)
            return sip.response_to(msg, 488, to_tag=_tag())
        if offer.session.lower() not in ("play", ""):
            return sip.response_to(msg, 488, "Only Live Play", to_tag=_tag())
        play = Play(call_id, channel, camera_id, offer, self.media_host, local_tag=_tag())
        play.remote_from = msg.require("From")
        play.remote_to = msg.require("To")
        contact_in = msg.get("Contact")
        play.remote_target = (
            sip.parse_name_addr(contact_in).uri
            if contact_in
            else sip.parse_name_addr(play.remote_from).uri
        )
        await self._prepare(play)
        self.plays[call_id] = play
        loop = asyncio.get_running_loop()
        loop.call_later(ACK_TIMEOUT_S, self._ack_timeout, call_id)
        return self._ok(msg, play, contact)

    def _ok(self, msg: sip.SipMessage, play: Play, contact: str) -> sip.SipMessage:
        port = self._local_port(play)
        answer = sdp.build_answer(
            play.offer, device_id=self.device_id, address=self.media_host, port=port
        )
        return sip.response_to(
            msg,
            200,
            to_tag=play.local_tag,
            extra=[("Contact", contact), ("Content-Type", "application/sdp")],
            body=answer,
        )

    def ack(self, msg: sip.SipMessage) -> None:
        play = self.plays.get(msg.call_id)
        if play is None or play.task is not None or self.sources is None:
            return
        play.task = asyncio.create_task(
            self._stream(play, self.sources), name=f"gb28181.play.{play.channel_id}"
        )

    def bye(self, msg: sip.SipMessage) -> sip.SipMessage:
        play = self.plays.pop(msg.call_id, None)
        if play is None:
            return sip.response_to(msg, 481)
        self._stop(play, "bye")
        return sip.response_to(msg, 200)

    def cancel(self, msg: sip.SipMessage) -> sip.SipMessage:
        """RFC 3261 §9.2. An INVITE is answered here at once, so a platform's CANCEL (its
        play timed out waiting) arrives after the final response and changes nothing: 200,
        and the platform ends the dialog with BYE, or the ACK timeout ends an unacknowledged
        play. A CANCEL matching no INVITE is 481."""
        play = self.plays.get(msg.call_id)
        if play is None:
            return sip.response_to(msg, 481, to_tag=_tag())
        return sip.response_to(msg, 200, to_tag=play.local_tag)

    def _ack_timeout(self, call_id: str) -> None:
        play = self.plays.get(call_id)
        if play is not None and play.task is None:
            self.plays.pop(call_id, None)
            self._stop(play, "no ACK")

    async def stop_all(self, *, hangup: bool = False) -> None:
        """End every play; with `hangup` (shutdown) also tell the platform (BYE)."""
        plays, self.plays = list(self.plays.values()), {}
        for play in plays:
            self._stop(play, "stopped")
        tasks = [p.task for p in plays if p.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=2)
        if hangup and self.hangup is not None:
            byes = [asyncio.ensure_future(self.hangup(p)) for p in plays if p.task is not None]
            if byes:
                await asyncio.wait(byes, timeout=2)
                for bye in byes:
                    bye.cancel()

    def _stop(self, play: Play, why: str) -> None:
        play.ended = play.ended or why
        self.ended[why] = self.ended.get(why, 0) + 1
        if play.task is not None:
            play.task.cancel()
        else:
            _close_sockets(play)

    def describe(self) -> list[dict[str, Any]]:
        return [p.describe() for p in self.plays.values()]

    # --- media sockets ---------------------------------------------------------------

    async def _prepare(self, play: Play) -> None:
        """Bind what the answer announces before answering."""
        offer = play.offer
        if not offer.tcp:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((self.media_host, 0))
            play.sock = sock
        elif offer.setup == "active":
            loop = asyncio.get_running_loop()
            play.accepted = loop.create_future()
            accepted = play.accepted

            def on_connect(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                if not accepted.done():
                    accepted.set_result((r, w))
                else:
                    w.close()

            play.server = await asyncio.start_server(on_connect, self.media_host, 0)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((self.media_host, 0))
            sock.setblocking(False)
            play.sock = sock

    @staticmethod
    def _local_port(play: Play) -> int:
        if play.server is not None:
            return int(play.server.sockets[0].getsockname()[1])
        if play.sock is not None:
            return int(play.sock.getsockname()[1])
        return 9

    # --- streaming -------------------------------------------------------------------

    async def _stream(self, play: Play, sources: SourceProvider) -> None:
        source: PacketSource | None = None
        try:
            sink = await self._open_sink(play)
            try:
                source = await sources(play.camera_id)
                await _send(play, source, sink)
                play.ended = play.ended or "source ended"
            finally:
                sink.close()
        except asyncio.CancelledError:
            pass
        except (PlayEnded, OSError) as exc:
            play.ended = play.ended or f"{type(exc).__name__}: {exc}"  # "platform gone"
            log.info("play of %s ended: %s", play.channel_id, play.ended)
        except Exception:
            play.ended = play.ended or "error"
            log.exception("play of %s failed", play.channel_id)
        finally:
            if source is not None:
                with contextlib.suppress(Exception):
                    await source.aclose()
            _close_sockets(play)
            if self.plays.get(play.call_id) is play:
                # Ended on our side (source or platform gone): close the dialog too.
                del self.plays[play.call_id]
                why = _category(play.ended)
                self.ended[why] = self.ended.get(why, 0) + 1
                if self.hangup is not None:
                    bye = asyncio.ensure_future(self.hangup(play))
                    self._hangups.add(bye)
                    bye.add_done_callback(self._hangups.discard)

    async def _open_sink(self, play: Play) -> _Sink:
        offer = play.offer
        loop = asyncio.get_running_loop()
        if not offer.tcp:
            assert play.sock is not None
            sock, play.sock = play.sock, None
            sock.connect((offer.address, offer.port))
            transport, proto = await loop.create_datagram_endpoint(_UdpSink, sock=sock)
            return _UdpSinkHandle(transport, proto)
        if play.accepted is not None:
            reader, writer = await asyncio.wait_for(play.accepted, ACK_TIMEOUT_S)
        else:
            assert play.sock is not None
            sock, play.sock = play.sock, None
            await asyncio.wait_for(
                loop.sock_connect(sock, (offer.address, offer.port)), TCP_CONNECT_TIMEOUT_S
            )
            reader, writer = await asyncio.open_connection(sock=sock)
        return _TcpSinkHandle(reader, writer)


def _category(ended: str | None) -> str:
    """A bounded set of keys for the `plays_ended` counters (the text is logged)."""
    if ended in ("source ended", "error"):
        return ended
    if ended and ("PlayEnded" in ended or "Error" in ended):
        return "platform gone"
    return "ended"


def _channel_of(msg: sip.SipMessage) -> str:
    try:
        return sip.parse_uri(msg.uri or "").user or sip.parse_name_addr(msg.require("To")).user
    except ProtocolError:
        return ""


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _close_sockets(play: Play) -> None:
    if play.sock is not None:
        play.sock.close()
        play.sock = None
    if play.server is not None:
        play.server.close()
        play.server = None


# --- sinks ---------------------------------------------------------------------------


class _Sink:
    gap_s = 0.0  # pause between bursts of a large frame (UDP only: TCP has flow control)

    def send(self, packets: list[bytes]) -> None:
        raise NotImplementedError

    async def drain(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _UdpSink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.error: Exception | None = None

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable: nobody listens on the platform's port any more.
        self.error = exc


class _UdpSinkHandle(_Sink):
    gap_s = BURST_GAP_S

    def __init__(self, transport: asyncio.DatagramTransport, proto: _UdpSink) -> None:
        self.transport = transport
        self.proto = proto
        self.dropped = 0

    def send(self, packets: list[bytes]) -> None:
        if self.proto.error is not None:
            raise PlayEnded(f"platform unreachable: {self.proto.error}")
        if getattr(self.transport, "get_write_buffer_size", lambda: 0)() > UDP_BUFFER_HIGH:
            self.dropped += len(packets)
            return
        for packet in packets:
            self.transport.sendto(packet)

    async def drain(self) -> None:
        if self.proto.error is not None:
            raise PlayEnded(f"platform unreachable: {self.proto.error}")

    def close(self) -> None:
        self.transport.close()


class _TcpSinkHandle(_Sink):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, packets: list[bytes]) -> None:
        if self.writer.is_closing() or self.reader.at_eof():
            raise PlayEnded("platform closed the media connection")
        self.writer.write(b"".join(rtp.frame_tcp(p) for p in packets))

    async def drain(self) -> None:
        try:
            await asyncio.wait_for(self.writer.drain(), 10)
        except (ConnectionError, TimeoutError) as exc:
            raise PlayEnded(f"media connection lost: {exc}") from exc

    def close(self) -> None:
        self.writer.close()


async def _send(play: Play, source: PacketSource, sink: _Sink) -> None:
    packetiser = rtp.Packetiser(play.offer.ssrc_int)
    muxer: ps.PsMuxer | None = None
    units: psnal.AccessUnits | None = None
    shape: tuple[str, bytes] | None = None
    started = False
    async for pkt in source:
        if play.ended:
            # Stopped (BYE, shutdown). The task was cancelled too, but Python 3.11's
            # wait_for can swallow a cancellation that races its inner future (the TCP
            # sink's drain), so the loop also checks the play's own flag.
            return
        if (pkt.codec, pkt.extradata) != shape:
            shape = (pkt.codec, pkt.extradata)
            hevc = pkt.codec in ("hevc", "h265")
            muxer = ps.PsMuxer(hevc=hevc)
            units = psnal.AccessUnits(pkt.extradata, hevc=hevc)
            started = False  # a new stream shape starts again at a keyframe
        assert muxer is not None and units is not None
        if not started:
            if not pkt.keyframe:
                play.stats.skipped_to_keyframe += 1
                continue
            started = True
        frame = muxer.frame(units.annexb(pkt.data, pkt.keyframe), pkt.pts_90k, pkt.keyframe)
        packets = packetiser.packetise(frame, pkt.pts_90k)
        if sink.gap_s and len(packets) > BURST_PACKETS:
            # An IDR is hundreds of packets: sent at once it overflows a receive
            # buffer of the usual size (Linux: 208 kB), so it leaves in bursts.
            for i in range(0, len(packets), BURST_PACKETS):
                if i:
                    await asyncio.sleep(sink.gap_s)
                sink.send(packets[i : i + BURST_PACKETS])
        else:
            sink.send(packets)
        await sink.drain()
        _count(play, pkt, packets)


def _count(play: Play, pkt: MediaPacket, packets: list[bytes]) -> None:
    s = play.stats
    if s.frames == 0:
        s.first_frame_s = time.monotonic() - play.invited_at
    s.frames += 1
    s.packets += len(packets)
    s.bytes += sum(len(p) for p in packets)
