"""Cameras for the console: the list, a still per camera, and live video over WebRTC.

Live video sends the camera's own H.264 packets (from the fan-out, starting on a keyframe,
SPS/PPS put in front of every IDR) to the browser: aiortc packetises pre-encoded `av.Packet`s,
so a viewer costs RTP packetisation, never a decode or an encode. A viewer's subscription is
opened when aiortc first asks for a packet and closed when the peer goes: with nobody
watching nothing is read or sent. Stills come from the decoded frames the camera session
already produces, encoded to JPEG at most once a second per camera.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from fractions import Fraction

import av
from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from edge.camera.fanout import PacketSubscription
from edge.camera.frame import Frame
from edge.camera.session import CameraSession, UnknownCamera
from edge.runtime import Runtime
from edge.web.auth.guard import PRINCIPAL
from edge.web.auth.policy import EVERYONE, add

log = logging.getLogger(__name__)

VIDEO_CLOCK = Fraction(1, 90000)
MAX_VIEWERS = 8  # whole box: each viewer is one RTP stream upstream of the guard room
STILL_EVERY_S = 1.0
PACKET_QUEUE = 64  # packets a viewer may lag; then the fan-out drops to the next keyframe


class PacketTrack(MediaStreamTrack):
    """A video track that yields the camera's encoded packets as `av.Packet`s."""

    kind = "video"

    def __init__(self, session: CameraSession, name: str) -> None:
        super().__init__()
        self.session = session
        self.name = name
        self.sub: PacketSubscription | None = None
        self._t0: float | None = None

    async def recv(self) -> av.Packet:
        if self.sub is None:  # first ask: the peer is connected and wants video
            self.sub = self.session.subscribe_packets(maxsize=PACKET_QUEUE, name=self.name)
        try:
            packet = await self.sub.__anext__()
        except StopAsyncIteration:
            self.stop()
            raise
        out = av.Packet(packet.annexb_with_parameter_sets())
        # The camera's own clock restarts on a reconnect (and on a file loop): the receive
        # time is monotonic, what a player needs to pace frames.
        if self._t0 is None:
            self._t0 = packet.mono
        out.pts = int((packet.mono - self._t0) * 90000)
        out.time_base = VIDEO_CLOCK
        return out

    def stop(self) -> None:
        if self.sub is not None:
            self.sub.close()
        super().stop()


class Live:
    """The open WebRTC viewers, ended when they disconnect or the daemon stops."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.peers: set[RTCPeerConnection] = set()
        self.stills: dict[str, tuple[float, bytes]] = {}
        self.frames: dict[str, Frame | None] = {}

    async def close(self) -> None:
        await asyncio.gather(*(pc.close() for pc in list(self.peers)), return_exceptions=True)
        self.peers.clear()


LIVE = web.AppKey("live_video", Live)


def _session(request: web.Request) -> CameraSession | None:
    try:
        return request.app[LIVE].rt.cameras.session(request.match_info["camera_id"])
    except (UnknownCamera, AttributeError):
        return None


async def list_cameras(request: web.Request) -> web.Response:
    rt = request.app[LIVE].rt
    names = {c.id: getattr(c, "name", "") for c in rt.config.cameras}
    out = []
    for cam in rt.config.cameras:
        session = _maybe(rt, cam.id)
        state = session.state if session else None
        out.append(
            {
                "id": cam.id,
                "name": names.get(cam.id) or cam.id,
                "enabled": getattr(cam, "enabled", True),
                "online": bool(state and state.online),
                "live": bool(session and session.encoded),
            }
        )
    return web.json_response({"cameras": out})


def _maybe(rt: Runtime, camera_id: str) -> CameraSession | None:
    cameras = getattr(rt, "cameras", None)
    if cameras is None or camera_id not in cameras:
        return None
    return cameras.session(camera_id)


async def still(request: web.Request) -> web.StreamResponse:
    """The latest picture of a camera as JPEG (404 before its first frame)."""
    live = request.app[LIVE]
    session = _session(request)
    if session is None:
        return web.json_response({"error": "no such camera"}, status=404)
    cid = session.camera_id
    if cid not in live.frames:
        live.frames[cid] = None

        def keep(frame: Frame, cid: str = cid) -> None:
            live.frames[cid] = frame

        session.subscribe_frames("web.still", keep)
    cached = live.stills.get(cid)
    frame = live.frames.get(cid)
    if (cached is None or time.monotonic() - cached[0] >= STILL_EVERY_S) and frame is not None:
        from edge.vision.analysis import jpeg

        data = await asyncio.to_thread(jpeg, frame.image, 75, 1280)
        cached = (time.monotonic(), data)
        live.stills[cid] = cached
    if cached is None:
        return web.json_response({"error": "no picture yet"}, status=404)
    return web.Response(
        body=cached[1], content_type="image/jpeg", headers={"Cache-Control": "no-store"}
    )


async def offer(request: web.Request) -> web.Response:
    """Browser's SDP offer in, our answer out; one peer connection per viewer."""
    live = request.app[LIVE]
    session = _session(request)
    if session is None or not session.encoded:
        return web.json_response({"error": "no live video for this camera"}, status=404)
    codec = session.state.codec
    if codec is not None and codec != "h264":  # H.265 cameras: no browser plays it in WebRTC
        return web.json_response(
            {"error": f"this camera sends {codec}; browsers play H.264 only"}, status=415
        )
    if len(live.peers) >= MAX_VIEWERS:
        return web.json_response({"error": "too many live viewers"}, status=503)
    try:
        body = await request.json()
        desc = RTCSessionDescription(sdp=str(body["sdp"]), type=str(body["type"]))
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": f"bad offer: {exc}"}, status=400)
    who = request[PRINCIPAL].name
    # No STUN server: the console is on the LAN and the box may have no internet at all
    # (aiortc would otherwise ask Google's and wait for it to time out).
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    live.peers.add(pc)
    track = PacketTrack(session, f"webrtc.{who}.{id(pc):x}")
    # The transceiver exists before the offer is applied so it takes the offer's video line
    # with H.264 as the only codec (the packets are H.264; nothing is re-encoded).
    transceiver = pc.addTransceiver(track, direction="sendonly")
    h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name in ("H264", "rtx")]
    transceiver.setCodecPreferences(h264)

    @pc.on("connectionstatechange")
    async def _state() -> None:
        if pc.connectionState in ("failed", "closed", "disconnected"):
            track.stop()
            live.peers.discard(pc)
            with contextlib.suppress(Exception):
                await pc.close()

    try:
        await pc.setRemoteDescription(desc)
        await pc.setLocalDescription(await pc.createAnswer())
    except ValueError as exc:
        live.peers.discard(pc)
        track.stop()
        await pc.close()
        return web.json_response({"error": f"cannot play: {exc}"}, status=400)
    local = pc.localDescription
    return web.json_response({"sdp": local.sdp, "type": local.type})


def routes(app: web.Application, rt: Runtime) -> None:
    live = Live(rt)
    app[LIVE] = live

    async def stop(app: web.Application) -> None:
        await live.close()

    app.on_shutdown.append(stop)
    add(app, "GET", "/api/cameras", list_cameras, EVERYONE)
    add(app, "GET", "/api/cameras/{camera_id}/still.jpg", still, EVERYONE)
    add(app, "POST", "/api/cameras/{camera_id}/webrtc", offer, EVERYONE)
