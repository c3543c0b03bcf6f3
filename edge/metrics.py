"""The daemon's live state as Prometheus metrics (`GET /metrics`, edge/web/metrics_route.py).

One `CollectorRegistry` per scrape, holding one collector that reads a snapshot the route
took from the running daemon (the health document plus the counters below), so the metric
names and labels are the ones log lines and `edge status` use (device, task, destination,
camera and bus ids). Counters kept here count from daemon start: events by kind and gate
decisions (a flow reactor), loop lag (a supervised task). docs/grafana-dashboard.json is
built on these names.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from edge.events import Event, EventKind
from edge.vision.stages import STAGES

LAG_INTERVAL_S = 0.5


@dataclass
class LiveCounters:
    """What the health document does not hold: counted in the daemon since it started."""

    events: Counter[str] = field(default_factory=Counter)
    gate_decisions: Counter[str] = field(default_factory=Counter)
    loop_lag_s: float = 0.0
    loop_lag_max_s: float = 0.0

    async def on_event(self, event: Event) -> None:
        self.events[str(event.kind)] += 1
        if event.kind == EventKind.ACCESS:
            decision = event.data.get("decision") or "unknown"
            self.gate_decisions[str(decision)] += 1

    async def measure_loop_lag(self) -> None:
        """How late the loop wakes a sleeper: a blocked loop shows here first."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_INTERVAL_S)
            lag = max(0.0, loop.time() - start - LAG_INTERVAL_S)
            self.loop_lag_s = lag
            self.loop_lag_max_s = max(self.loop_lag_max_s, lag)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class EdgeCollector(Collector):
    def __init__(self, health: dict[str, Any], live: LiveCounters, hub_drops: dict[str, int]):
        self.health = health
        self.live = live
        self.hub_drops = hub_drops

    def collect(self) -> Iterator[Metric]:
        h = self.health
        info = GaugeMetricFamily("edge_info", "Daemon version (value 1)", labels=["version"])
        info.add_metric([str(h.get("version", ""))], 1)
        yield info
        up = GaugeMetricFamily("edge_healthy", "1 when /api/health says ok")
        up.add_metric([], 1 if h.get("status") == "ok" else 0)
        yield up
        yield GaugeMetricFamily("edge_uptime_seconds", "Seconds since start", h.get("uptime_s", 0))
        yield from self._events()
        yield from self._tasks()
        yield from self._outbox()
        yield from self._devices()
        yield from self._cameras()
        yield from self._stages()
        yield from self._buses()
        yield from self._store()
        lag = GaugeMetricFamily("edge_loop_lag_seconds", "Event loop lag, last sample")
        lag.add_metric([], self.live.loop_lag_s)
        yield lag
        lag_max = GaugeMetricFamily("edge_loop_lag_max_seconds", "Worst event loop lag seen")
        lag_max.add_metric([], self.live.loop_lag_max_s)
        yield lag_max

    def _events(self) -> Iterator[Metric]:
        ev = CounterMetricFamily("edge_events", "Events committed since start", labels=["kind"])
        for kind in sorted({k.value for k in EventKind} | set(self.live.events)):
            ev.add_metric([kind], self.live.events.get(kind, 0))
        yield ev
        gates = CounterMetricFamily(
            "edge_gate_openings", "Access events by decision since start", labels=["decision"]
        )
        for decision, n in sorted(self.live.gate_decisions.items()):
            gates.add_metric([decision], n)
        yield gates

    def _tasks(self) -> Iterator[Metric]:
        restarts = CounterMetricFamily(
            "edge_task_restarts", "Supervised task restarts", labels=["task"]
        )
        running = GaugeMetricFamily("edge_task_running", "1 when running", labels=["task"])
        for t in self.health.get("tasks", []):
            restarts.add_metric([t["name"]], t.get("restarts", 0))
            running.add_metric([t["name"]], 1 if t.get("state") == "running" else 0)
        yield restarts
        yield running

    def _outbox(self) -> Iterator[Metric]:
        labels = ["dest"]
        depth = GaugeMetricFamily("edge_outbox_backlog", "Records owed", labels=labels)
        age = GaugeMetricFamily(
            "edge_outbox_oldest_age_seconds", "Age of the oldest unacknowledged", labels=labels
        )
        parked = GaugeMetricFamily("edge_outbox_parked", "Records the peer refused", labels=labels)
        dropped = CounterMetricFamily("edge_outbox_dropped", "Records dropped", labels=labels)
        rate = GaugeMetricFamily("edge_uplink_send_rate", "Records acknowledged/s", labels=labels)
        fails = CounterMetricFamily(
            "edge_uplink_failures", "Sessions lost or connection attempts failed", labels=labels
        )
        conn = GaugeMetricFamily("edge_uplink_connected", "1 when connected", labels=labels)
        outbox = self.health.get("outbox")
        for o in outbox if isinstance(outbox, list) else []:
            dest = str(o.get("dest"))
            live = self.health.get(f"uplink.{dest}") or {}
            depth.add_metric([dest], o.get("backlog", 0))
            age.add_metric([dest], _num(o.get("oldest_unacked_age_s")) or 0.0)
            parked.add_metric([dest], o.get("parked", 0))
            dropped.add_metric([dest], o.get("dropped", 0))
            rate.add_metric([dest], _num(live.get("rate_per_s")) or 0.0)
            fails.add_metric([dest], _num(live.get("failures")) or 0.0)
            conn.add_metric([dest], 1 if live.get("state") == "connected" else 0)
        yield from (depth, age, parked, dropped, rate, fails, conn)

    def _devices(self) -> Iterator[Metric]:
        avail = GaugeMetricFamily(
            "edge_device_available", "1 answering, 0 not, -1 unknown", labels=["device"]
        )
        fails = GaugeMetricFamily(
            "edge_device_failures", "Consecutive failed polls", labels=["device"]
        )
        for d in self.health.get("devices", []):
            a = d.get("available")
            avail.add_metric([d["device"]], -1 if a is None else int(bool(a)))
            fails.add_metric([d["device"]], d.get("failures", 0))
        yield avail
        yield fails

    def _cameras(self) -> Iterator[Metric]:
        lab = ["camera"]
        fps = GaugeMetricFamily("edge_camera_fps", "Frames per second received", labels=lab)
        online = GaugeMetricFamily("edge_camera_online", "1 when frames arrive", labels=lab)
        drops = CounterMetricFamily("edge_camera_frames_dropped", "Frames dropped", labels=lab)
        reconn = CounterMetricFamily("edge_camera_reconnects", "Stream reconnects", labels=lab)
        latency = GaugeMetricFamily(
            "edge_model_latency_seconds",
            "Last analysis time of one frame, per camera and pipeline stage",
            labels=["camera", "stage"],
        )
        cams = self.health.get("cameras")
        for cid, st in (cams if isinstance(cams, dict) else {}).items():
            src = st.get("source") or {}
            fps.add_metric([cid], _num(src.get("fps_received")) or 0.0)
            online.add_metric([cid], 1 if src.get("online") else 0)
            drops.add_metric([cid], _num(src.get("frames_dropped")) or 0.0)
            reconn.add_metric([cid], _num(src.get("reconnects")) or 0.0)
            for stage in st.get("pipelines", []):
                ms = _num(st.get("last_analysis_ms")) or 0.0
                latency.add_metric([cid, str(stage)], ms / 1000)
        yield from (fps, online, drops, reconn, latency)

    def _stages(self) -> Iterator[Metric]:
        hist = HistogramMetricFamily(
            "edge_model_stage_seconds",
            "Time per model stage of a frame's analysis (all cameras)",
            labels=["pipeline", "stage"],
        )
        for (pipeline, stage), h in sorted(STAGES.snapshot().items()):
            hist.add_metric([pipeline, stage], h.cumulative(), h.total_s)
        yield hist

    def _buses(self) -> Iterator[Metric]:
        lab = ["bus"]
        tx = CounterMetricFamily("edge_bus_transactions", "Requests sent", labels=lab)
        to = CounterMetricFamily("edge_bus_timeouts", "Requests not answered", labels=lab)
        bad = CounterMetricFamily("edge_bus_errors", "Garbled/protocol/port errors", labels=lab)
        busy = CounterMetricFamily(
            "edge_bus_busy_seconds", "Time the line spent in transactions", labels=lab
        )
        avg = GaugeMetricFamily(
            "edge_bus_transaction_seconds", "Mean time per transaction", labels=lab
        )
        buses = self.health.get("buses")
        for bid, b in (buses if isinstance(buses, dict) else {}).items():
            n = _num(b.get("transactions")) or 0.0
            tx.add_metric([bid], n)
            to.add_metric([bid], _num(b.get("timeouts")) or 0.0)
            errors = sum(
                _num(b.get(k)) or 0.0 for k in ("garbled", "protocol_errors", "port_errors")
            )
            bad.add_metric([bid], errors)
            spent = _num(b.get("busy_s")) or 0.0
            busy.add_metric([bid], spent)
            avg.add_metric([bid], spent / n if n else 0.0)
        yield from (tx, to, bad, busy, avg)

    def _store(self) -> Iterator[Metric]:
        storage = self.health.get("storage") or {}
        size = GaugeMetricFamily("edge_store_bytes", "Bytes the store uses (db + images)")
        size.add_metric([], _num(storage.get("bytes")) or 0.0)
        yield size
        pruned = GaugeMetricFamily(
            "edge_store_pruned_last", "Items freed by the last prune pass", labels=["what"]
        )
        for what, n in (storage.get("last_pruned") or {}).items():
            pruned.add_metric([what], _num(n) or 0.0)
        yield pruned
        freed = CounterMetricFamily("edge_store_pruned_bytes", "Bytes retention freed")
        freed.add_metric([], _num(storage.get("pruned_bytes_total")) or 0.0)
        yield freed
        refused = CounterMetricFamily(
            "edge_store_refused_writes", "Writes refused for lack of disk space (data lost)"
        )
        refused.add_metric([], _num(storage.get("failed_writes")) or 0.0)
        yield refused
        writer = self.health.get("store") or {}
        q = GaugeMetricFamily("edge_store_queue_depth", "Writes waiting for a commit")
        q.add_metric([], _num(writer.get("queue_depth")) or 0.0)
        yield q
        failed = CounterMetricFamily("edge_store_failed_batches", "Commits that failed")
        failed.add_metric([], _num(writer.get("failed_batches")) or 0.0)
        yield failed
        drops = CounterMetricFamily(
            "edge_live_dropped",
            "Live-feed items dropped for slow subscribers",
            labels=["subscriber"],
        )
        for name, n in sorted(self.hub_drops.items()):
            drops.add_metric([name], n)
        yield drops


def render(health: dict[str, Any], live: LiveCounters, hub_drops: dict[str, int]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EdgeCollector(health, live, hub_drops))
    return generate_latest(registry)
