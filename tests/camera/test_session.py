"""One session per camera, shared: decoded frames for the analysis and the camera's own
H.264 packets for live view and GB/T 28181 plays, from one connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import av
import pytest
from av.bitstream import BitStreamFilterContext

from edge.camera import CameraSession, Frame, Packet, SourceTiming
from edge.camera.fanout import NoPacketsError, PacketSubscription
from edge.camera.files import FileSource
from edge.camera.h26x import split_annexb
from edge.camera.rtsp import RtspSource
from edge.sim import rtsp as sim

WaitUntil = Callable[[Callable[[], bool], float, str], Awaitable[None]]

FAST = SourceTiming(open_timeout_s=8, read_timeout_s=2, reconnect_min_s=0.2, reconnect_max_s=0.5)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, stills_640: Path) -> Path:
    """A short H.264 MP4 (one keyframe a second at 10 fps), as the demo's cameras play."""
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    return sim.build_video(out, sorted(stills_640.glob("*.jpg"))[:3], fps=10, hold_frames=4)


class Running:
    """Sessions started by a test, stopped after it (their decoder threads joined)."""

    def __init__(self) -> None:
        self.sessions: list[CameraSession] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def stop(self) -> None:
        for s in self.sessions:
            s.close()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 15)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    r = Running()
    yield r
    await r.stop()


def start(session: CameraSession, running: Running) -> None:
    running.sessions.append(session)
    running.tasks.append(asyncio.create_task(session.run()))


async def take(sub: PacketSubscription, n: int, timeout_s: float = 20) -> list[Packet]:
    out: list[Packet] = []
    async with asyncio.timeout(timeout_s):
        async for packet in sub:
            out.append(packet)
            if len(out) >= n:
                break
    return out


def decode(packets: list[Packet]) -> list[av.VideoFrame]:
    """A fresh decoder fed only what a consumer got: what a viewer or platform does."""
    ctx = av.CodecContext.create(packets[0].codec, "r")
    frames: list[av.VideoFrame] = []
    for p in packets:
        frames += ctx.decode(av.Packet(p.annexb_with_parameter_sets()))
    return frames


async def test_packets_are_the_files_own_h264_and_frames_reach_the_analysis(
    clip: Path, running: Running
) -> None:
    session = CameraSession(FileSource("gate", clip, FAST, fps=25, loop=False))
    frames: list[Frame] = []
    session.subscribe_frames("analysis", frames.append)
    sub = session.subscribe_packets(64, "viewer")
    start(session, running)
    got = await take(sub, 12)

    # the packets are the file's own bytes (Annex B), not a re-encode: FFmpeg's
    # h264_mp4toannexb makes the same NAL units from the same samples
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        bsf = BitStreamFilterContext("h264_mp4toannexb", stream)
        reference = []
        for packet in container.demux(stream):
            if packet.size:
                reference.append(b"".join(bytes(p) for p in bsf.filter(packet)))
    for ours, theirs in zip(got, reference, strict=False):
        assert sorted(split_annexb(ours.annexb_with_parameter_sets())) == sorted(
            split_annexb(theirs)
        )
    assert got[0].keyframe and got[0].stream.codec == "h264"
    assert got[0].stream.parameter_sets  # MP4: SPS/PPS out of band, in the avcC box
    assert [p.seq for p in got] == list(range(got[0].seq, got[0].seq + 12))
    decoded = decode(got)
    assert len(decoded) >= 10 and (decoded[0].width, decoded[0].height) == (640, 360)
    assert frames and frames[0].image.shape == (360, 640, 3)
    assert sub.stats().dropped == 0


async def test_a_looping_file_keeps_one_continuous_stream(clip: Path, running: Running) -> None:
    """A muxer (PS/RTP) must not see the clock jump back when the demo's file loops."""
    session = CameraSession(FileSource("loop", clip, FAST, fps=50, loop=True))
    sub = session.subscribe_packets(256, "gb")
    start(session, running)
    got = await take(sub, 30)  # the clip has 12 frames: two and a half loops
    pts = [p.pts for p in got]
    assert all(isinstance(t, int) for t in pts)
    assert pts == sorted(pts) and len(set(pts)) == len(pts), pts
    assert {p.stream.epoch for p in got} == {1}
    assert sum(p.keyframe for p in got) >= 3


async def test_a_slow_packet_consumer_drops_to_the_next_keyframe_and_counts_it(
    clip: Path, running: Running, wait_until: WaitUntil
) -> None:
    session = CameraSession(FileSource("slow", clip, FAST, fps=50, loop=True))
    slow = session.subscribe_packets(3, "stalled-viewer")
    fast = session.subscribe_packets(256, "gb")
    start(session, running)
    await wait_until(lambda: slow.stats().overflows >= 2, 20, "the slow queue to overflow")

    stats = slow.stats()
    assert stats.dropped >= 3 and stats.queued <= 3
    [nxt] = await take(slow, 1)
    assert nxt.keyframe  # whatever it reads next is decodable
    assert fast.stats().dropped == 0  # one slow consumer costs the others nothing
    assert decode(await take(fast, 12))


async def test_a_late_subscriber_starts_at_the_last_keyframe(
    clip: Path, running: Running, wait_until: WaitUntil
) -> None:
    session = CameraSession(FileSource("late", clip, FAST, fps=25, loop=True))
    first = session.subscribe_packets(128, "first")
    start(session, running)
    await take(first, 6)
    late = session.subscribe_packets(128, "late")
    got = await take(late, 3)
    assert got[0].keyframe
    assert decode(got)


async def test_stills_have_no_packets_to_share(stills_640: Path) -> None:
    session = CameraSession(FileSource("stills", stills_640, FAST, fps=5))
    assert not session.encoded
    with pytest.raises(NoPacketsError, match=r"no H\.264"):
        session.subscribe_packets(8, "viewer")


async def test_every_consumer_shares_one_rtsp_session(
    rtsp_server: sim.RtspServer, running: Running, wait_until: WaitUntil
) -> None:
    session = CameraSession(RtspSource("gate", rtsp_server.url, FAST, probe_s=0.2))
    frames: list[Frame] = []
    session.subscribe_frames("analysis", frames.append)
    viewer = session.subscribe_packets(64, "webrtc")
    start(session, running)
    await take(viewer, 5)
    play = session.subscribe_packets(64, "gb28181")  # a platform starts a play later
    played = await take(play, 10)
    await wait_until(lambda: len(frames) >= 5, 10, "frames for the analysis")

    # one RTSP session per connection (1, or 2 had a loaded box made the camera time out
    # and reconnect), never one per consumer (3 here)
    assert rtsp_server.sessions_created == 1 + session.state.reconnects
    assert rtsp_server.clients_connected == rtsp_server.sessions_created
    assert played[0].keyframe
    assert played[0].stream.time_base.denominator == 90_000  # RTP's video clock
    pictures = decode(played)
    assert pictures and (pictures[0].width, pictures[0].height) == (640, 360)


async def test_a_file_camera_waits_for_its_analysis_but_not_for_nobody(
    clip: Path, running: Running, wait_until: WaitUntil
) -> None:
    from edge.camera.factory import open_session
    from edge.config.cameras import FileCamera

    idle = open_session(FileCamera(id="idle", kind="file", path=clip, fps=25))
    analysed = open_session(
        FileCamera(id="gate", kind="file", path=clip, fps=25, pipelines=["plates"])
    )
    start(idle, running)
    start(analysed, running)
    # no consumer: a platform still sees the camera online (its catalog status)
    await wait_until(lambda: idle.state.online, 10, "the unanalysed file camera online")
    assert analysed.state.connect_attempts == 0  # waits for its analysis
    frames: list[Frame] = []
    analysed.subscribe_frames("analysis", frames.append)
    await wait_until(lambda: bool(frames), 10, "the first frame for the analysis")
    assert frames[0].seq == 1  # from the start of the file


async def test_packets_resume_on_a_keyframe_after_the_camera_comes_back(
    rtsp_server: sim.RtspServer, running: Running
) -> None:
    session = CameraSession(RtspSource("gate", rtsp_server.url, FAST, probe_s=0.2))
    play = session.subscribe_packets(256, "gb28181")
    start(session, running)
    before = await take(play, 3)
    await rtsp_server.stop()  # a power cut, no TEARDOWN
    await rtsp_server.start()  # same port
    after: list[Packet] = []
    async with asyncio.timeout(30):
        async for packet in play:
            if packet.stream.epoch != before[0].stream.epoch:
                after.append(packet)
                if len(after) >= 5:
                    break
    assert after[0].keyframe  # nothing from the new connection before its first IDR
    assert decode(after)
    # one RTSP session per connection attempt at most, never one per consumer
    assert 2 <= rtsp_server.sessions_created <= session.connections
