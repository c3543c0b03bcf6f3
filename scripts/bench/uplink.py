"""MQTT uplink benchmark: the outbox drained to a local mosquitto at QoS 1.

    .venv/bin/python scripts/bench/uplink.py [--backlog 100000] [--live-rate 200] [--inflight 500]
                                             [--protocol 5|3.1.1]

Runs the real daemon (store, outbox, MQTT uplink) in process against a mosquitto
started here on an ephemeral port:

1. with the broker down, commits `--backlog` events (plate-sized JSON bodies), so they
   are all owed to the hub;
2. starts the broker and measures the time until that backlog is acknowledged (PUBACK,
   and the store's cursor moved past it) while new events keep being committed at
   `--live-rate` per second; events/s = backlog / drain time;
3. the ceiling, in the same run: `mosquitto_pub -q 1 -l` publishing the same number of
   messages of the same size from stdin to the same broker.

Targets: >= 5,000 events/s, >= 50 % of the mosquitto_pub ceiling, the 100,000 backlog
drained in <= 30 s. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "uplink"))

from mqtt_broker import Broker, free_port  # noqa: E402

from edge.app import Daemon  # noqa: E402
from edge.config.loader import parse_config  # noqa: E402
from edge.events import Event  # noqa: E402

TARGET_EPS = 5_000
TARGET_RATIO = 0.5
TARGET_DRAIN_S = 30.0


def plate_event(n: int) -> Event:
    return Event(
        "plate",
        "cam-gate-1",
        {
            "plate": f"苏A{n % 100000:05d}",
            "color": "blue",
            "confidence": 0.973,
            "direction": "in",
            "lane": 1,
            "track_id": n,
            "box": [412, 388, 596, 441],
        },
    )


def config(data_dir: Path, port: int, inflight: int, protocol: str) -> str:
    return f"""
config_version: 1
site: {{name: Bench, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data_dir}}}
web: {{listen: "127.0.0.1:0"}}
logging: {{level: ERROR}}
uplinks:
  hub:
    type: mqtt
    url: mqtt://127.0.0.1:{port}
    inflight: {inflight}
    protocol: "{protocol}"
    reconnect_initial_s: 0.05
    reconnect_max_s: 0.1
    health_interval_s: 1h
"""


async def fill(daemon: Daemon, n: int) -> float:
    began = time.perf_counter()
    chunk = 2000
    for i in range(0, n, chunk):
        await asyncio.gather(
            *(daemon.store.add_event(plate_event(j)) for j in range(i, min(n, i + chunk)))
        )
    return time.perf_counter() - began


async def live(daemon: Daemon, rate: float, stop: asyncio.Event, counter: list[int]) -> None:
    """New events at `rate`/s in 10 ms ticks, committed like a driver would."""
    n = 10_000_000
    began = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - began) * rate) - counter[0]
        if due > 0:
            await asyncio.gather(*(daemon.store.add_event(plate_event(n + k)) for k in range(due)))
            n += due
            counter[0] += due
        await asyncio.sleep(0.01)


async def until(predicate: Callable[[], bool], step_s: float = 0.01) -> None:
    while True:
        if predicate():
            return
        await asyncio.sleep(step_s)


def ceiling(port: int, n: int, payload: bytes) -> float:
    """mosquitto_pub at QoS 1 reading one message per line: messages/s."""
    tool = shutil.which("mosquitto_pub")
    if tool is None:
        raise RuntimeError("mosquitto_pub not installed")
    lines = (payload.replace(b"\n", b" ") + b"\n") * n
    began = time.perf_counter()
    subprocess.run(
        [tool, "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", "bench/ceiling", "-l"],
        input=lines,
        check=True,
    )
    return n / (time.perf_counter() - began)


async def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-uplink-"))
    port = free_port()
    broker = Broker(work / "broker", port)
    cfg = parse_config(config(work / "data", port, args.inflight, args.protocol), "bench.yaml", {})
    daemon = Daemon(cfg)
    await daemon.start()
    uplink = daemon.rt.services["uplink.hub"]
    try:
        fill_s = await fill(daemon, args.backlog)
        print(f"backlog: {args.backlog} events committed in {fill_s:.1f}s (broker down)")
        first = (await daemon.store.pending("hub", 0, 1))[0]
        sample = uplink.encoder.encode(first.seq, first.event)
        payload = sample.messages[-1][1]
        stop, live_count = asyncio.Event(), [0]
        producer = asyncio.create_task(live(daemon, args.live_rate, stop, live_count))
        await broker.start()
        began = time.perf_counter()
        await until(lambda: uplink.drain.acked_seq >= args.backlog)
        drain_s = time.perf_counter() - began
        caught_up = None
        while caught_up is None and time.perf_counter() - began < drain_s + 30:
            stats = (await daemon.store.outbox_stats())[0]
            if stats["backlog"] <= max(10, args.live_rate * 0.1):
                caught_up = time.perf_counter() - began
            else:
                await asyncio.sleep(0.05)
        stop.set()
        await producer
        eps = args.backlog / drain_s
        ceil = await asyncio.get_running_loop().run_in_executor(
            None, ceiling, port, args.backlog, payload
        )
    finally:
        await daemon.stop()
        await broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "backlog": args.backlog,
        "payload_bytes": len(payload),
        "inflight": args.inflight,
        "drain_s": round(drain_s, 2),
        "events_per_s": round(eps),
        "live_events_during_drain": live_count[0],
        "caught_up_s": None if caught_up is None else round(caught_up, 2),
        "mosquitto_pub_per_s": round(ceil),
        "ratio_to_ceiling": round(eps / ceil, 2),
        "protocol": args.protocol,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    checks = [
        (f"events/s >= {TARGET_EPS}", eps >= TARGET_EPS),
        (f">= {TARGET_RATIO:.0%} of mosquitto_pub", eps / ceil >= TARGET_RATIO),
        (f"{args.backlog} backlog drained <= {TARGET_DRAIN_S:.0f}s", drain_s <= TARGET_DRAIN_S),
    ]
    for name, ok in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {name}")
    return 0 if all(ok for _, ok in checks) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backlog", type=int, default=100_000)
    ap.add_argument("--live-rate", type=float, default=200.0, help="new events/s during the drain")
    ap.add_argument("--inflight", type=int, default=500)
    ap.add_argument("--protocol", choices=["5", "3.1.1"], default="5", help="MQTT version")
    return asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
