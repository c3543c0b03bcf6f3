"""`edge uplink test gat1400`: prove the path to a 视图库, one step at a time.

Register (digest), keepalive once, read the server time (and the offset to
this box's clock), push one synthetic vehicle record with a scene and a plate
image, each step printed with the server's own answer, so an installer can
tell a wrong URL from a wrong account from an ID the 视图库 does not know.
The record carries the plate text 测试0001 and IDs of this gateway, so it is
recognisable in the 视图库 as a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from edge.codecs import gat1400 as g
from edge.codecs.gat1400_objects import list_body_bytes
from edge.config.types import check_value
from edge.config.uplinks import pick_uplink
from edge.events import Event, ImageRef, ImageRole
from edge.store import OutboxItem
from edge.timefmt import site_tz
from edge.uplinks.gat1400.client import ViidClient, ViidError
from edge.uplinks.gat1400.config import Gat1400Config, ViidBaseUrl
from edge.uplinks.gat1400.encode import Encoder
from edge.uplinks.link import files_in


def settings(args: argparse.Namespace) -> tuple[Gat1400Config, str]:
    """The destination's config (from --config/--name, --url overriding) and the site offset."""
    if not args.config:
        raise ValueError("give --config (and --name when there are several gat1400 uplinks)")
    from edge.config import load_config

    cfg = load_config(args.config)
    chosen: Gat1400Config = pick_uplink(cfg.uplinks, "gat1400", args.name)
    if args.url:
        chosen = chosen.model_copy(update={"url": check_value(ViidBaseUrl, args.url)})
    return chosen, cfg.site.utc_offset


def run(args: argparse.Namespace) -> int:
    try:
        cfg, offset = settings(args)
    except Exception as exc:
        print(f"edge: cannot use these settings: {exc}")
        return 2
    return asyncio.run(steps(cfg, offset, args.timeout))


def _ok(what: str, t0: float, detail: str = "") -> None:
    print(f"  ok    {what} ({(time.perf_counter() - t0) * 1000:.0f} ms){detail}")


def _fail(what: str, exc: BaseException | str, client: ViidClient | None = None) -> int:
    print(f"  FAIL  {what}: {exc}")
    if client is not None and client.last_answer is not None:
        print(f"        server answered: {client.last_answer.summary(400)}")
    return 1


def synthetic_record(cfg: Gat1400Config, tz: Any, folder: Path) -> tuple[str, bytes]:
    """One plate pass encoded exactly as the uplink would (same encoder, same IDs)."""
    import cv2
    import numpy as np

    scene = np.full((1080, 1920, 3), 90, np.uint8)
    cv2.putText(scene, "compound-edge GA/T 1400 test", (200, 540), 0, 3, (255, 255, 255), 6)
    crop = np.full((48, 160, 3), (200, 80, 20), np.uint8)
    images = []
    for role, img in ((ImageRole.SCENE, scene), (ImageRole.PLATE_CROP, crop)):
        ok, buf = cv2.imencode(".jpg", img)
        assert ok
        raw = buf.tobytes()
        (folder / f"{role}.jpg").write_bytes(raw)
        images.append(ImageRef(role, f"{role}.jpg", hashlib.sha256(raw).hexdigest(), len(raw)))
    event = Event(
        "plate",
        "edge-uplink-test",
        {
            "camera": "edge-uplink-test",
            "plate": "测试0001",
            "colour": "blue",
            "plate_type": "blue",
            "confidence": 1.0,
        },
        tuple(images),
    )
    p = Encoder(cfg, tz, files_in(folder), {}).encode(OutboxItem(0, event, 0))
    if p.refused:
        raise ValueError(p.refused)
    return p.object_id, list_body_bytes(g.MOTOR_VEHICLES, [p.body])


async def steps(cfg: Gat1400Config, utc_offset: str, timeout_s: float) -> int:
    tz = site_tz(utc_offset)
    began = time.perf_counter()
    print(f"gat1400 uplink test: {cfg.url}  device {cfg.device_id}  user {cfg.user}")
    async with aiohttp.ClientSession() as http:
        c = ViidClient(
            http, cfg.url, cfg.device_id, cfg.user, cfg.password.get_secret_value(), timeout_s
        )
        t0 = time.perf_counter()
        try:
            status = await c.register()
        except ViidError as exc:
            return _fail("register (digest)", exc, c)
        _ok("register (digest)", t0, f": {status.describe()}")
        t0 = time.perf_counter()
        try:
            status = await c.keepalive()
        except ViidError as exc:
            return _fail("keepalive", exc, c)
        _ok("keepalive", t0, f": {status.describe()}")
        t0 = time.perf_counter()
        try:
            reading = await c.system_time(tz)
        except ViidError as exc:
            return _fail("server time", exc, c)
        st = reading.server
        flag = "" if abs(reading.offset_s) <= cfg.max_time_offset_s else "  OVER THE LIMIT"
        _ok(
            "server time",
            t0,
            f": {st.local_time} (server {st.server_id or '?'}), offset {reading.offset_s:+.1f} s"
            f" (limit {cfg.max_time_offset_s:.0f} s){flag}",
        )
        with tempfile.TemporaryDirectory() as tmp:
            try:
                object_id, body = synthetic_record(cfg, tz, Path(tmp))
            except ValueError as exc:
                return _fail("encode the synthetic record", exc)
        t0 = time.perf_counter()
        try:
            statuses = await c.post_list(g.MOTOR_VEHICLES, body)
        except ViidError as exc:
            return _fail(f"push MotorVehicle {object_id}", exc, c)
        mine = [s for s in statuses if s.id == object_id] or statuses[:1]
        if not mine or not mine[0].ok:
            why = mine[0].describe() if mine else "no ResponseStatusObject in the answer"
            return _fail(f"push MotorVehicle {object_id} ({len(body)} bytes)", why, c)
        _ok(f"push MotorVehicle {object_id} ({len(body)} bytes)", t0, f": {mine[0].describe()}")
    print(f"all steps passed in {(time.perf_counter() - began) * 1000:.0f} ms")
    return 0
