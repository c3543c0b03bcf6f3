#!/usr/bin/env python3
"""Bench: the console's live paths under load.

Phase 1: 50 logged-in WebSocket clients on /api/live while the flow commits a burst of
100 events/s for a few seconds; prints delivery latency (commit hand-off -> client receive)
p50/p99/max and events missed, against a p99 ceiling of 250 ms.
Phase 2: CPU of the daemon (a separate process, /proc/<pid>/stat) with 0, 1 and 4 WebRTC
viewers of a 1080p 25 fps H.264 camera; the viewers are aiortc clients in this process, so
their decoding is not counted. Per-viewer cost = (CPU with k viewers - CPU with none) / k.

    .venv/bin/python scripts/bench/web.py [--seconds 3] [--clients 50] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import aiohttp
import av
import numpy as np

from edge.app import Daemon
from edge.config import parse_config
from edge.payloads import PlatePayload
from edge.web.auth.passwords import hash_password

PASSWORD = "bench-password-1"
P99_CEILING_MS = 250.0


def config(data: Path, extra: str = "", port: int = 0) -> str:
    return f"""\
config_version: 1
site: {{name: 基准小区, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
logging: {{level: WARNING}}
web:
  listen: "127.0.0.1:{port}"
  users:
    bench: {{role: guard, password_hash: '{hash_password(PASSWORD)}'}}
{extra}"""


async def logged_in(url: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    body = {"user": "bench", "password": PASSWORD}
    async with http.post(f"{url}/api/auth/login", json=body) as r:
        doc = await r.json()
        assert r.status == 200, doc
    return http, str(doc["csrf"])


async def websocket_phase(clients: int, rate: float, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Daemon(parse_config(config(Path(tmp) / "data"), "bench.yaml", {}))
        await d.start()
        url = f"http://127.0.0.1:{d.web.port}"
        sessions = [await logged_in(url) for _ in range(clients)]
        latencies: list[float] = []
        received = [0] * clients
        total = int(rate * seconds)

        async def client(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
            async for msg in ws:
                doc = json.loads(msg.data)
                sent = doc["event"]["data"].get("bench_t")
                if sent is not None:
                    latencies.append(time.perf_counter() - sent)
                    received[i] += 1
                    if received[i] == total:
                        return

        sockets = [await http.ws_connect(f"{url}/api/live") for http, _ in sessions]
        readers = [asyncio.create_task(client(i, ws)) for i, ws in enumerate(sockets)]
        await asyncio.sleep(0.2)  # the subscriptions are in place
        started = time.perf_counter()
        for n in range(total):
            due = started + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            plate = PlatePayload(camera="gate1", plate=f"苏A{n:05d}", confidence=0.9)
            event = plate.event("gate1")
            event.data["bench_t"] = time.perf_counter()
            await d.rt.flow.emit(event)
        await asyncio.wait(readers, timeout=10)
        for ws in sockets:
            await ws.close()
        for http, _ in sessions:
            await http.close()
        await d.stop()
    lat = sorted(latencies)
    missed = clients * total - len(lat)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    print(
        f"websocket: {clients} clients x {total} events at {rate:.0f}/s: "
        f"p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms (ceiling {P99_CEILING_MS:.0f} ms), "
        f"max {pct(1.0):.1f} ms, missed {missed}"
    )


def make_1080p(path: Path, seconds: int = 10, fps: int = 25) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = 1920, 1080
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "profile": "high", "g": "50", "bf": "0",
                          "b": "4M"}  # fmt: skip
        base = np.random.default_rng(1).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            img = np.roll(base, i * 8, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def viewer(url: str) -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    http, csrf = await logged_in(url)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    got = asyncio.Event()
    drains: list[asyncio.Future[None]] = []

    @pc.on("track")
    def _track(track: Any) -> None:
        async def drain() -> None:
            from aiortc.mediastreams import MediaStreamError

            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
                    got.set()

        drains.append(asyncio.ensure_future(drain()))

    await pc.setLocalDescription(await pc.createOffer())
    body = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
    async with http.post(
        f"{url}/api/cameras/cam1/webrtc", json=body, headers={"X-CSRF-Token": csrf}
    ) as r:
        answer = await r.json()
        assert r.status == 200, answer
    await pc.setRemoteDescription(RTCSessionDescription(**answer))
    await asyncio.wait_for(got.wait(), 30)
    return pc, http


async def webrtc_phase(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "cam.mp4"
        make_1080p(video)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cfg = Path(tmp) / "edge.yaml"
        camera = f"cameras:\n  - {{id: cam1, kind: file, path: {video}, fps: 25}}\n"
        cfg.write_text(config(Path(tmp) / "data", camera, port), encoding="utf-8")
        log = (Path(tmp) / "daemon.log").open("w")
        # The daemon is measured on its own (/proc/<pid>/stat): a process, started once.
        proc = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "edge", "run", "--config", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                if proc.poll() is not None:
                    sys.exit("daemon exited:\n" + (Path(tmp) / "daemon.log").read_text()[-2000:])
                try:
                    async with aiohttp.ClientSession() as h, h.get(url + "/api/health") as r:
                        if r.status in (200, 503):
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)

            async def measure() -> float:
                c0, t0 = cpu_s(proc.pid), time.monotonic()
                await asyncio.sleep(seconds)
                return (cpu_s(proc.pid) - c0) / (time.monotonic() - t0) * 100

            idle = await measure()
            peers: list[Any] = []
            results = {0: idle}
            for k in (1, 4):
                while len(peers) < k:
                    peers.append(await viewer(url))
                results[k] = await measure()
            for pc, http in peers:
                await pc.close()
                await http.close()
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 10)
            log.close()
    per = [(results[k] - idle) / k for k in (1, 4)]
    print(
        f"webrtc 1080p25 H.264 ~4 Mb/s: daemon CPU {idle:.1f}% idle (camera read), "
        f"{results[1]:.1f}% with 1 viewer, {results[4]:.1f}% with 4 "
        f"-> {per[0]:.1f}% / {per[1]:.1f}% of one core per viewer (no decode, no encode)"
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--skip-webrtc", action="store_true")
    a = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    await websocket_phase(a.clients, a.rate, a.seconds)
    if not a.skip_webrtc:
        await webrtc_phase(max(a.seconds, 5.0))


if __name__ == "__main__":
    asyncio.run(main())
