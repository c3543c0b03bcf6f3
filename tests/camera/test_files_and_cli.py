"""File/folder/video source and the `edge camera probe` command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import cv2
import pytest

from edge.camera import Frame, FrameSource, SourceTiming
from edge.camera.files import FileSource
from edge.cli.main import main
from edge.sim.rtsp import RtspServer, build_video

TIMING = SourceTiming(open_timeout_s=5, read_timeout_s=2)


async def take(source: FrameSource, n: int) -> list[Frame]:
    frames: list[Frame] = []
    async for frame in source.frames():
        frames.append(frame)
        if len(frames) >= n:
            source.close()
    return frames


@pytest.fixture
def still_count(stills_640: Path) -> int:
    return len(list(stills_640.glob("*.jpg")))


async def test_folder_loops_at_the_configured_rate(stills_640: Path, still_count: int) -> None:
    count = still_count
    source = FileSource("demo", stills_640, TIMING, fps=50)
    frames = await asyncio.wait_for(take(source, count + 3), 10)
    assert frames[count].image.tobytes() == frames[0].image.tobytes()  # looped
    rate = (len(frames) - 1) / (frames[-1].mono - frames[0].mono)
    assert 35 <= rate <= 55


@pytest.fixture(scope="module")
def video(stills_640: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("video") / "scenes.mp4"
    return build_video(out, sorted(stills_640.glob("*.jpg"))[:4], fps=25, hold_frames=3)


async def test_video_file_decodes_and_loops(video: Path) -> None:
    source = FileSource("demo", video, TIMING, fps=100, loop=True)
    frames = await asyncio.wait_for(take(source, 15), 10)  # 12 frames in the file
    assert all(f.image.shape == (360, 640, 3) for f in frames)
    assert source.state.codec == "h264"
    assert frames[12].pts_s == frames[0].pts_s  # second pass


async def test_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    error = await FileSource("demo", tmp_path / "nope.mp4", TIMING).first_error()
    assert error is not None and "does not exist" in str(error)


async def test_probe_cli_against_rtsp(
    stills_640: Path, gst_python: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = tmp_path / "snap.jpg"
    async with RtspServer(
        stills_640, gop_frames=2, username="installer", password="Zz9!x", python=gst_python
    ) as server:
        url = server.url.replace("rtsp://", "rtsp://installer:Zz9!x@")
        code = await asyncio.to_thread(
            main, ["camera", "probe", url, "--frames", "8", "--snapshot", str(snap)]
        )
        out = capsys.readouterr()
        assert code == 0, out.err
        assert "h264" in out.out and "640x360" in out.out and "fps_measured" in out.out
        # what GB/T 28181 and live view will get: the simulator repeats SPS/PPS in band
        assert "parameter_sets: in band" in out.out
        assert "keyframe_interval_s: 0.2" in out.out  # gop_frames=2 at 10 fps
        assert "Zz9" not in out.out + out.err
        image = cv2.imread(str(snap))
        assert image is not None and image.shape == (360, 640, 3)

        bad = url.replace("Zz9!x", "wrong")
        code = await asyncio.to_thread(main, ["camera", "probe", bad, "--timeout", "5"])
        out = capsys.readouterr()
        assert code == 1
        assert "401" in out.err and "wrong" not in out.err


def test_probe_tells_where_an_mp4s_parameter_sets_travel(
    video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["camera", "probe", str(video), "--frames", "12", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["parameter_sets"].startswith("out of band only")  # in the avcC box
    assert result["packets"] >= 12
    assert result["keyframe_interval_s"] is None or result["keyframe_interval_s"] > 0


def test_probe_cli_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["camera", "probe", "/no/such/camera.mp4"]) == 2
    assert "neither a URL nor an existing file" in capsys.readouterr().err
