"""The decoded-frame path alone: what one process pays to receive, decode, thin and
sample N cameras, before any recogniser runs (issue 9: the shared camera session must
not make this slower).

Each camera is a 640x360 H.264 sub-stream at 10 fps played in real time by the daemon's
own code: a `CameraSession` (packets fanned out as for a live viewer, frames decoded and
thinned to the analysis rate) with the real `Sampler` and motion gate subscribed. CPU
time, not wall time, is the figure (process CPU seconds per second = cores, and per
decoded frame), so a busy box changes it less than it changes latencies; the load is
printed beside it. `--packet-viewers N` adds N packet consumers per camera that read
every packet (a live view each), to show what fan-out costs.

    .venv/bin/python scripts/bench/vision_decode.py [--cameras 16] [--seconds 15]

The same measurement runs on a checkout from before the session (it falls back to
`open_source` + `Sampler.run(source.frames())`), for before/after figures.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])] if "PYTHONPATH" not in os.environ else []

import argparse  # noqa: E402
import asyncio  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402

from edge.config.cameras import FileCamera  # noqa: E402

SIZE = (640, 360)
TARGET_MS_PER_FRAME = 3.0
"""What decoding a 640x360 frame should cost (ms CPU) on this class of box, all in."""


def make_clip(path: Path, fps: int, seconds: int) -> Path:
    """A moving scene (a bright block sliding over noise): the motion gate has work."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (SIZE[1], SIZE[0], 3), np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(fps)}
        for i in range(fps * seconds):
            img = base.copy()
            x = (i * 12) % (SIZE[0] - 80)
            img[100:180, x : x + 80] = 255
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode(None))
    return path


async def run(cams: list[FileCamera], seconds: float, viewers: int) -> dict[str, Any]:
    from edge.camera.factory import make_sampler

    samplers = [make_sampler(c) for c in cams]
    tasks: list[asyncio.Task[Any]] = []
    states: list[Any] = []
    try:
        from edge.camera.factory import open_session
    except ImportError:  # before the shared session: one source per consumer
        from edge.camera.factory import open_source

        for cfg, sampler in zip(cams, samplers, strict=True):
            source = open_source(cfg, max_output_fps=cfg.analysis_fps)
            states.append(source)
            tasks.append(asyncio.create_task(sampler.run(source.frames())))
        path = "open_source + Sampler.run (before the shared session)"
    else:
        packets = [0]

        async def view(sub: Any) -> None:
            async for _ in sub:
                packets[0] += 1

        for cfg, sampler in zip(cams, samplers, strict=True):
            session = open_session(cfg)
            states.append(session)
            session.subscribe_frames("analysis", sampler.offer)
            for v in range(viewers):
                tasks.append(asyncio.create_task(view(session.subscribe_packets(256, f"v{v}"))))
            tasks.append(asyncio.create_task(session.run()))
        path = f"CameraSession + Sampler, {viewers} packet viewer(s) per camera"

    async def drain(sampler: Any) -> None:
        while True:
            await sampler.get()

    tasks += [asyncio.create_task(drain(s)) for s in samplers]
    try:
        await asyncio.sleep(2.0)  # connections open, first keyframes
        decoded0 = sum(s.state.frames_decoded for s in states)
        cpu0, t0, load0 = time.process_time(), time.monotonic(), os.getloadavg()[0]
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
        decoded = sum(s.state.frames_decoded for s in states) - decoded0
    finally:
        for s in states:
            s.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    sampled = sum(s.stats.queued for s in samplers)
    return {
        "path": path,
        "cameras": len(cams),
        "decoded_fps": decoded / wall,
        "cores": cpu / wall,
        "ms_per_frame": cpu * 1000 / max(1, decoded),
        "sampled": sampled,
        "load": (load0, os.getloadavg()[0]),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--analysis-fps", type=float, default=5.0)
    p.add_argument("--packet-viewers", type=int, default=0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="decode-bench-") as tmp:
        clip = make_clip(Path(tmp) / "cam.mp4", args.fps, 6)
        cams = [
            FileCamera(
                id=f"cam{i:02d}",
                kind="file",
                path=clip,
                fps=args.fps,
                analysis_fps=args.analysis_fps,
                pipelines=[],
            )
            for i in range(args.cameras)
        ]
        r = asyncio.run(run(cams, args.seconds, args.packet_viewers))
    print(f"decode path: {r['path']}")
    print(
        f"  {r['cameras']} cameras x {SIZE[0]}x{SIZE[1]} H.264 at {args.fps} fps, sampled at "
        f"{args.analysis_fps:g} fps, {args.seconds:g} s; load {r['load'][0]:.2f} -> "
        f"{r['load'][1]:.2f} on {os.cpu_count()} cores"
    )
    print(f"  decoded             {r['decoded_fps']:.1f} frames/s")
    print(f"  CPU                 {r['cores']:.2f} cores")
    print(
        f"  CPU per frame       {r['ms_per_frame']:.2f} ms (ceiling {TARGET_MS_PER_FRAME:g} ms)"
        f"  {'PASS' if r['ms_per_frame'] <= TARGET_MS_PER_FRAME else 'MISS'}"
    )
    print(f"  samples queued      {r['sampled']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
