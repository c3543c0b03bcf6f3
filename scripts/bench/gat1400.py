"""GA/T 1400 uplink benchmark: a backlog of vehicle passes with images drained to a 视图库.

    .venv/bin/python scripts/bench/gat1400.py [--backlog 10000] [--batch 8] [--posts 2]

Runs the real daemon (store, outbox, GA/T 1400 uplink) in process against the strict
test peer (tests/gat1400/viid_peer.py) in its own process (so its JSON parsing does not
share the daemon's event loop), with image decoding in the peer turned off so the figure
is the client's, not OpenCV's:

1. with the peer down, commits `--backlog` plate passes, each with a 1080p scene JPEG
   and a plate crop (the same two files on disk, referenced by every pass);
2. starts the peer and times the drain until the destination owes nothing
   (every object acknowledged with StatusCode 0 and the store's cursor past it);
   records/s = backlog / drain time, MB/s of request bodies;
3. the baseline, in the same run: a bare aiohttp loop POSTing the same list bodies
   (same batch size, same concurrency) to the same peer, no store, no encoding.

The ratio says what the store, the per-record encoding (base64 of every image, JSON)
and the per-object acknowledgement cost over raw HTTP. Load average is printed beside.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "gat1400"))

import aiohttp  # noqa: E402
from gat_helpers import APE, GATEWAY_DEVICE, config_text, jpeg, plate_jpeg  # noqa: E402

from edge.app import Daemon  # noqa: E402
from edge.codecs import gat1400 as g  # noqa: E402
from edge.codecs.gat1400_objects import list_body_bytes  # noqa: E402
from edge.config.loader import parse_config  # noqa: E402
from edge.events import Event, ImageRef  # noqa: E402
from edge.store import OutboxItem  # noqa: E402

SCENE = ROOT.parent / "shared" / "images" / "objects" / "coco_000000000036.jpg"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cpus"


async def owed(d: Daemon) -> int:
    stats = {o["dest"]: o for o in await d.store.outbox_stats()}
    return int(stats["viid"]["backlog"])


async def commit_backlog(d: Daemon, n: int, scene: bytes, crop: bytes) -> None:
    scene_ref = await d.store.save_image(scene, "scene")
    crop_ref = await d.store.save_image(crop, "plate_crop")
    chunk = 500
    for start in range(0, n, chunk):
        events = [
            Event(
                "plate",
                "gate-in",
                {"camera": "gate-in", "plate": f"苏A{i:05d}", "confidence": 0.9, "colour": "blue"},
                (scene_ref, crop_ref),
            )
            for i in range(start, min(n, start + chunk))
        ]
        await asyncio.gather(*(d.store.add_event(e) for e in events))


PEER = """
import asyncio, sys
sys.path.insert(0, {tests!r})
from viid_peer import ViidPeer
async def main():
    p = ViidPeer(port={port}, decode_images=False)
    await p.start()
    print(p.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


class PeerProcess:
    """The peer in a subprocess; stop() and start() keep its port (server down, then up)."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        code = PEER.format(tests=str(ROOT / "tests" / "gat1400"), port=self.port)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, cwd=ROOT
        )
        assert self.proc.stdout is not None
        self.port = int((await self.proc.stdout.readline()).decode())

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            await self.proc.wait()
            self.proc = None


async def raw_rate(url: str, bodies: list[bytes], posts: int, per_body: int) -> float:
    """Objects/s of a bare aiohttp loop POSTing ready-made list bodies."""
    from edge.uplinks.gat1400.client import ViidClient

    async with aiohttp.ClientSession() as http:
        await ViidClient(http, url, GATEWAY_DEVICE, "hik", "hik12345", 10).register()
    todo = iter(bodies)
    headers = g.headers(GATEWAY_DEVICE)

    async def worker(http: aiohttp.ClientSession) -> None:
        for body in todo:
            async with http.post(url + g.MOTOR_VEHICLES, data=body, headers=headers) as r:
                await r.read()
                assert r.status == 200

    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=posts + 2)) as http:
        await asyncio.gather(*(worker(http) for _ in range(posts)))
    return len(bodies) * per_body / (time.perf_counter() - t0)


async def main(args: argparse.Namespace) -> int:
    peer = PeerProcess()
    try:
        return await run(args, peer)
    finally:
        await peer.stop()


async def run(args: argparse.Namespace, peer: PeerProcess) -> int:
    scene = jpeg(SCENE, 1920, 1080)
    crop = plate_jpeg()
    print(
        f"GA/T 1400 bench: backlog {args.backlog} plate passes, scene {len(scene)} B (1920x1080),"
    )
    print(f"  plate crop {len(crop)} B, {args.batch} objects per POST, {args.posts} POSTs at once")
    print(f"  start: {load()}")
    await peer.start()
    port_url = peer.url
    await peer.stop()  # down while the backlog builds
    with tempfile.TemporaryDirectory() as tmp:
        extra = f"    batch_max_objects: {args.batch}\n    posts_in_flight: {args.posts}\n"
        text = config_text(Path(tmp) / "data", port_url, extra)
        d = Daemon(parse_config(text, "bench.yaml", dict(os.environ)))
        await d.start()
        try:
            t0 = time.perf_counter()
            await commit_backlog(d, args.backlog, scene, crop)
            print(f"  committed {args.backlog} passes in {time.perf_counter() - t0:.1f} s")
            assert await owed(d) == args.backlog
            await peer.start()  # same port
            t0 = time.perf_counter()
            while (left := await owed(d)) > 0:
                await asyncio.sleep(0.2)
                if time.perf_counter() - t0 > args.timeout:
                    print(f"  FAILED: {left} still owed after {args.timeout:.0f} s")
                    return 1
            drain_s = time.perf_counter() - t0
            posts = d.rt.health_providers["uplink.viid"]()["posts"]
            print(
                f"  uplink drain: {args.backlog} records in {drain_s:.1f} s ="
                f" {args.backlog / drain_s:.0f} records/s ({posts} POSTs)"
            )
        finally:
            await d.stop()
    # Baseline: the same list bodies from a bare loop.
    one = await _one_object(scene, crop, Path(tempfile.mkdtemp()))
    bodies = [list_body_bytes(g.MOTOR_VEHICLES, [one] * args.batch)] * max(
        1, args.backlog // args.batch
    )
    rate = await raw_rate(peer.url, bodies, args.posts, args.batch)
    print(f"  one object: {len(one)} B; uplink {args.backlog / drain_s * len(one) / 1e6:.1f} MB/s")
    print(f"  raw aiohttp POST of the same bodies: {rate:.0f} objects/s")
    print(f"  uplink / raw: {args.backlog / drain_s / rate * 100:.0f} %")
    print(f"  end: {load()}")
    return 0


async def _one_object(scene: bytes, crop: bytes, folder: Path) -> bytes:
    """One encoded MotorVehicleObject, as the uplink encodes it (for the baseline's bodies)."""
    from edge.timefmt import site_tz
    from edge.uplinks.gat1400.encode import Encoder
    from edge.uplinks.link import files_in

    (folder / "s.jpg").write_bytes(scene)
    (folder / "c.jpg").write_bytes(crop)
    cfg = parse_config(config_text(folder, "http://127.0.0.1:1"), "x.yaml", {}).uplinks["viid"]

    event = Event(
        "plate",
        "gate-in",
        {"camera": "gate-in", "plate": "苏A00001", "confidence": 0.9, "colour": "blue"},
        (
            ImageRef("scene", "s.jpg", "", len(scene)),
            ImageRef("plate_crop", "c.jpg", "", len(crop)),
        ),
    )
    enc = Encoder(cfg, site_tz("+08:00"), files_in(folder), {"gate-in": APE})
    return enc.encode(OutboxItem(1, event, 0)).body


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backlog", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=8, help="objects per POST")
    ap.add_argument("--posts", type=int, default=2, help="POSTs in flight")
    ap.add_argument("--timeout", type=float, default=1800, help="give up draining after (s)")
    sys.exit(asyncio.run(main(ap.parse_args())))
