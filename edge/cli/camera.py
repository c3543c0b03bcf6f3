"""`edge camera probe URL`: is this camera reachable, and what does it send?

The installer's first question at a new gate. Connects once with the same source code
the daemon uses, reads a few frames, and prints codec, resolution, the fps actually
received and the time to the first picture; `--snapshot out.jpg` keeps one frame to
check the framing. Credentials typed in the URL are taken out of it and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

from edge.camera.errors import CameraError
from edge.camera.frame import Frame
from edge.camera.h26x import has_parameter_sets
from edge.camera.kinds import CAMERA_KINDS, ProbeTarget, camera_kind
from edge.camera.packets import Packet
from edge.camera.redact import redact_url, split_credentials
from edge.camera.source import FrameSource, SourceTiming
from edge.cli._common import CliError

PASSWORD_ENV = "EDGE_CAMERA_PASSWORD"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("camera", help="camera tools (probe)")
    csub = p.add_subparsers(dest="camera_command", metavar="ACTION", required=True)
    probe = csub.add_parser(
        "probe",
        help="connect to a camera and report codec, resolution, fps, first-frame latency",
        description="Exit 0 when frames arrived, 1 when the camera failed, 2 on bad usage.",
    )
    probe.add_argument("url", help="rtsp://, http:// (MJPEG or snapshot), or a file/folder")
    probe.add_argument(
        "--kind",
        choices=("auto", *CAMERA_KINDS),
        default="auto",
        help="source kind (auto: by scheme; for http, by the reply's Content-Type)",
    )
    probe.add_argument("--frames", type=int, default=30, help="frames to read (default 30)")
    probe.add_argument("--username", help="camera user (or in the URL)")
    probe.add_argument(
        "--password-file", type=Path, help=f"file holding the password (or ${PASSWORD_ENV})"
    )
    probe.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    probe.add_argument("--snapshot", type=Path, help="save the last frame as a JPEG")
    probe.add_argument("--json", action="store_true", help="print the result as JSON")
    probe.set_defaults(handler=_probe)


def _probe(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.timeout <= 0:
        raise CliError("--frames must be at least 1 and --timeout above 0")
    url, user, password = split_credentials(args.url)
    user = args.username or user
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CliError(f"cannot read {args.password_file}: {exc.strerror}") from None
    password = password or os.environ.get(PASSWORD_ENV) or None
    if "://" not in url and not Path(url).exists():
        raise CliError(f"{url} is neither a URL nor an existing file")
    print(f"connecting to {redact_url(url)} ...", file=sys.stderr, flush=True)
    try:
        result = asyncio.run(_run(args, url, user, password))
    except CameraError as exc:
        raise CliError(
            f"{redact_url(url)}: {exc}; check the address, credentials and network", 1
        ) from None
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0 if result["frames"] > 0 else 1


async def _run(
    args: argparse.Namespace, url: str, user: str | None, password: str | None
) -> dict[str, Any]:
    timing = SourceTiming(
        open_timeout_s=args.timeout, read_timeout_s=min(args.timeout, 5.0), reconnect_min_s=1
    )
    source = await _open(args.kind, url, user, password, timing)
    packets: list[Packet] = []
    if source.encoded:
        source.packet_sink = packets.append  # called on the demux thread; append is atomic
    started = time.monotonic()
    frames: list[Frame] = []
    state = source.state
    try:
        async with aclosing(source.single_session()) as session:
            async for frame in session:
                frames.append(frame)
                state = source.state
                if len(frames) >= args.frames:
                    break
    except CameraError:
        if not frames:
            raise
    if not frames:
        raise CameraError("the stream ended before the first frame")
    span = frames[-1].mono - frames[0].mono
    result: dict[str, Any] = {
        "url": redact_url(url),
        "kind": source.kind,
        "codec": state.codec,
        "resolution": f"{frames[-1].width}x{frames[-1].height}",
        "fps_declared": state.fps_nominal,
        "fps_measured": round((len(frames) - 1) / span, 2) if span > 0 else None,
        "first_frame_latency_s": round(frames[0].mono - started, 3),
        "frames": len(frames),
        "frames_dropped": state.frames_dropped,
    }
    if packets:
        result.update(_packet_facts(packets))
    if args.snapshot is not None:
        result["snapshot"] = await asyncio.to_thread(_save, args.snapshot, frames[-1])
    return result


def _packet_facts(packets: list[Packet]) -> dict[str, Any]:
    """What live view and GB/T 28181 plays will get: where the SPS/PPS travel and how
    often a viewer can start (a platform waits up to one keyframe interval)."""
    stream = packets[-1].stream
    keys = [p for p in packets if p.keyframe]
    in_band = bool(keys) and all(has_parameter_sets(p.data, p.codec) for p in keys)
    where = {
        (True, True): "in band and out of band",
        (True, False): "in band",
        (False, True): "out of band only (added before each IDR for plays)",
        (False, False): "none seen",
    }[(in_band, bool(stream.parameter_sets))]
    times = [t for p in keys if (t := p.pts_s) is not None]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return {
        "packets": len(packets),
        "parameter_sets": where,
        "keyframe_interval_s": round(max(gaps), 2) if gaps else None,
    }


async def _open(
    kind: str, url: str, user: str | None, password: str | None, timing: SourceTiming
) -> FrameSource:
    if kind == "auto":
        kind = await _guess_kind(url, user, password, timing)
    return camera_kind(kind).for_probe(ProbeTarget(url, user, password), timing)


async def _guess_kind(url: str, user: str | None, password: str | None, t: SourceTiming) -> str:
    lowered = url.lower()
    if lowered.startswith(("rtsp://", "rtsps://")):
        return "rtsp"
    if not lowered.startswith(("http://", "https://")):
        return "file"  # checked to exist before the loop started
    from edge.camera.http import HttpCamera

    http = HttpCamera(url, user, password, open_timeout_s=t.open_timeout_s, read_timeout_s=5)
    async with http.session() as session, http.get(session) as resp:
        ctype = resp.headers.get("Content-Type", "").lower()
    if ctype.startswith("multipart/"):
        return "mjpeg"
    if ctype.startswith("image/"):
        return "snapshot"
    raise CameraError(f"the URL answers {ctype or 'no Content-Type'}, not MJPEG or an image")


def _save(path: Path, frame: Frame) -> str:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 92]):
        raise CameraError(f"cannot write {path}")
    return str(path)
