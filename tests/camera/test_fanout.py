"""The packet fan-out's hand-off from the demux thread, with packets made here: the cases a
real camera cannot produce on demand (an event loop that stalls, a consumer that raises)."""

from __future__ import annotations

import asyncio
import threading
from fractions import Fraction
from pathlib import Path

import pytest

from edge.camera import CameraSession, Frame, SourceTiming
from edge.camera.fanout import HANDOFF_PACKETS, PacketFanout
from edge.camera.files import FileSource
from edge.camera.packets import Packet, StreamInfo
from edge.sim.rtsp import build_video

STREAM = StreamInfo("cam", "h264", 640, 360, Fraction(1, 90_000), 25.0, b"", 1)


def packet(seq: int, gop: int = 25) -> Packet:
    return Packet(
        STREAM, b"\x00\x00\x00\x01\x65", seq * 3600, seq * 3600, seq % gop == 0, seq, 0, 0
    )


async def test_a_stalled_loop_drops_at_the_hand_off_and_consumers_resync_on_a_keyframe() -> None:
    fan = PacketFanout("cam")
    fan.bind(asyncio.get_running_loop())
    sub = fan.subscribe("viewer", 10_000)
    n = HANDOFF_PACKETS + 100
    # the demux thread runs while the loop is busy (this coroutine does not yield)
    thread = threading.Thread(target=lambda: [fan.put(packet(i)) for i in range(n)])
    thread.start()
    thread.join()
    assert fan.handoff_dropped == 100
    got = []
    async with asyncio.timeout(5):
        while not got or got[-1].seq < n - 1:
            got.append(await anext(sub))
    assert got[0].keyframe  # after the loss it waited for a keyframe
    seqs = [p.seq for p in got]
    assert seqs == list(range(seqs[0], n))  # and from there nothing is missing
    assert seqs[0] >= 100  # the first 100 were dropped at the hand-off


@pytest.fixture
def video(tmp_path: Path, stills_640: Path) -> Path:
    still = sorted(stills_640.glob("*.jpg"))[0]
    return build_video(tmp_path / "one.mp4", [still], fps=10, hold_frames=10)


async def test_a_failing_frame_consumer_does_not_stop_the_others(video: Path) -> None:
    session = CameraSession(FileSource("cam", video, SourceTiming(), fps=50, loop=False))
    good: list[Frame] = []
    enough = asyncio.Event()

    def analysis(frame: Frame) -> None:
        good.append(frame)
        if len(good) >= 5:
            enough.set()

    def broken(frame: Frame) -> None:
        raise RuntimeError("a bug in a consumer")

    session.subscribe_frames("broken", broken)
    session.subscribe_frames("analysis", analysis)
    task = asyncio.create_task(session.run())
    try:
        await asyncio.wait_for(enough.wait(), 10)
    finally:
        session.close()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
    consumers = session.health()["frame_consumers"]
    assert consumers["broken"]["errors"] == consumers["broken"]["frames"] >= 5
    assert consumers["analysis"]["errors"] == 0


async def test_after_a_reconnect_a_subscriber_waits_for_a_keyframe() -> None:
    fan = PacketFanout("cam")
    fan.bind(asyncio.get_running_loop())
    sub = fan.subscribe("play", 100)
    reconnected = StreamInfo("cam", "h264", 640, 360, Fraction(1, 90_000), 25.0, b"", 2)
    first = [packet(i) for i in range(0, 5)]  # keyframe, then P-frames
    # the camera came back mid-GOP: P-frames first, then its next IDR
    second = [
        Packet(reconnected, b"\x00\x00\x00\x01\x41", i * 3600, i * 3600, i == 3, 100 + i, 0, 0)
        for i in range(0, 6)
    ]
    for p in first + second:
        fan.put(p)
    got = []
    async with asyncio.timeout(5):
        while len(got) < 8:
            got.append(await anext(sub))
    assert [p.seq for p in got] == [0, 1, 2, 3, 4, 103, 104, 105]
    assert got[5].keyframe and got[5].stream.epoch == 2
    assert sub.stats().dropped == 3
