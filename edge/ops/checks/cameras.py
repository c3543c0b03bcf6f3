"""Doctor checks of vision: the models on disk match the manifest, and every enabled camera
gives frames through the camera kinds table the daemon uses."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from edge.ops.checks.base import FAIL, OK, WARN, Context, Finding


def check_models(ctx: Context) -> list[Finding]:
    assert ctx.config is not None
    from edge.vision.models import load_manifest, sha256_file

    vision = ctx.config.vision
    manifest = Path(vision.manifest)
    models_dir = Path(os.environ.get("EDGE_MODELS_DIR") or vision.models_dir)
    needed = any(getattr(c, "pipelines", None) for c in ctx.config.cameras)
    if not manifest.is_file():
        status = FAIL if needed else WARN
        return [
            Finding(
                status,
                "models",
                f"no manifest at {manifest}",
                "run scripts/fetch-models --dest " + str(models_dir),
            )
        ]
    try:
        specs = load_manifest(manifest).models
    except (OSError, ValueError) as exc:
        return [Finding(FAIL, "models", f"manifest unreadable: {exc}", "re-fetch the models")]
    bad = []
    for spec in specs:
        path = models_dir / spec.file
        if not path.is_file():
            bad.append(f"{spec.file} missing")
        elif sha256_file(path) != spec.sha256:
            bad.append(f"{spec.file} checksum differs")
    if bad:
        return [
            Finding(FAIL, "models", "; ".join(bad), f"run scripts/fetch-models --dest {models_dir}")
        ]
    return [Finding(OK, "models", f"{len(specs)} present, checksums match")]


async def _probe_camera(cam: Any, timeout_s: float) -> Finding:
    from contextlib import aclosing

    from edge.camera.errors import CameraError
    from edge.camera.kinds import camera_kind
    from edge.camera.source import SourceTiming

    name = f"camera {cam.id}"
    timing = SourceTiming(open_timeout_s=timeout_s, read_timeout_s=timeout_s, reconnect_min_s=1)
    frames = 0
    try:
        source = camera_kind(cam.kind).from_config(cam, timing, None)
        async with asyncio.timeout(timeout_s * 2), aclosing(source.single_session()) as s:
            async for _frame in s:
                frames += 1
                if frames >= 3:
                    break
    except (CameraError, OSError, TimeoutError, ValueError) as exc:
        return Finding(
            FAIL,
            name,
            f"no picture: {exc or 'timed out'}",
            "check the camera's address, credentials and network (edge camera probe URL)",
        )
    st = source.state
    if not frames:
        return Finding(FAIL, name, "connected but sent no frame", "check the stream settings")
    fps = st.fps_nominal or st.fps_received
    return Finding(OK, name, f"{st.codec or '?'} {st.width}x{st.height} {fps or 0:.1f} fps")


def check_cameras(ctx: Context) -> list[Finding]:
    assert ctx.config is not None
    cams = [c for c in ctx.config.cameras if getattr(c, "enabled", True)]

    async def all_() -> list[Finding]:
        return list(await asyncio.gather(*(_probe_camera(c, ctx.timeout_s) for c in cams)))

    return asyncio.run(all_()) if cams else []
