"""Store ingest benchmark: events/s and commit latency, beside the machine's own ceiling.

    .venv/bin/python scripts/bench/store.py [--seconds 5] [--concurrency 500] [--dir D]

For each durability (`synchronous` NORMAL, the default, and FULL) it drives the real
`Store` from many concurrent producers (as API handlers and drivers do: each awaits
`add_event`, which returns after commit) with 1 KB payloads, then measures the ceiling:
raw sqlite3 inserting the same rows into the same schema, one transaction per batch of
the size the store itself reached. The gap between the two is the store's own overhead.
A third run at NORMAL goes through `rt.flow.emit` (commit, then the flow's dispatcher and
the live hub), the path the daemon's producers take.

Figures: events/s sustained; ack latency (add_event call to return) p50/p99; commit
latency (one batch's transaction in the writer thread) p50/p99; mean batch size.
Targets at the default durability: >= 20,000 events/s and p99 commit <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.events import Event
from edge.flow import Flow
from edge.hub import Hub
from edge.store import Store, dumps, now_ms
from edge.store.db import connect
from edge.store.migrations import migrate

TARGET_EPS = 20_000
TARGET_P99_MS = 50.0
PAYLOAD = {"plate": "苏A12345", "camera": "gate-1", "pad": "x" * 1000}  # ~1 KB as JSON


@dataclass
class Result:
    label: str
    events: int
    seconds: float
    ack_ms: list[float]
    commit_ms: list[float]
    batches: int
    cpu_s: float = 0.0

    @property
    def eps(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        """Load-independent: what one event costs in CPU, whatever else the box runs."""
        return self.cpu_s / max(1, self.events) * 1e6

    @property
    def mean_batch(self) -> float:
        return self.events / max(1, self.batches)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def bench_store(
    data_dir: Path,
    synchronous: str,
    seconds: float,
    conc: int,
    batch_max: int,
    via_flow: bool = False,
) -> Result:
    """`via_flow`: producers call `flow.emit` as the daemon's do (commit, then the flow's
    dispatcher, then the live hub), not `store.add_event`."""
    store = Store(data_dir, synchronous=synchronous, batch_max=batch_max)
    await store.open()
    flow = Flow(store, Hub())
    add = flow.emit if via_flow else store.add_event
    commit_ms: list[float] = []
    inner = store.writer._commit  # instrumentation only: time each batch's transaction

    def timed_commit(batch: list[Any]) -> Any:
        began = time.perf_counter()
        out = inner(batch)
        commit_ms.append((time.perf_counter() - began) * 1000)
        return out

    store.writer._commit = timed_commit  # type: ignore[method-assign]
    writer = asyncio.create_task(store.run_writer())
    dispatcher = asyncio.create_task(flow.run())
    ack_ms: list[float] = []
    done = 0
    deadline = 0.0

    async def producer() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await add(Event(kind="plate", source="bench", data=PAYLOAD))
            ack_ms.append((time.perf_counter() - began) * 1000)
            done += 1

    deadline = time.perf_counter() + 0.5  # warm-up: page cache, WAL file growth
    await asyncio.gather(*(producer() for _ in range(conc)))
    ack_ms.clear()
    commit_ms.clear()
    done = 0
    began, cpu0 = time.perf_counter(), time.process_time()
    deadline = began + seconds
    await asyncio.gather(*(producer() for _ in range(conc)))
    await flow.idle()  # the dispatcher's share of the CPU is in the figure
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu0
    batches = len(commit_ms)
    writer.cancel()
    dispatcher.cancel()
    await asyncio.gather(writer, dispatcher, return_exceptions=True)
    await store.close()
    label = f"{'flow' if via_flow else 'store'} {synchronous}"
    return Result(label, done, elapsed, ack_ms, commit_ms, batches, cpu)


def bench_raw(data_dir: Path, synchronous: str, events: int, batch: int) -> Result:
    """The ceiling: the same rows, same schema and pragmas, straight into sqlite3."""
    db = data_dir / "raw.db"
    conn = connect(db, synchronous)
    migrate(conn, db)
    conn.close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    commit_ms: list[float] = []
    rowid = 1
    began, cpu0 = time.perf_counter(), time.process_time()
    for start in range(0, events, batch):
        n = min(batch, events - start)
        t0 = time.perf_counter()
        rows = []
        created = now_ms()
        for _ in range(n):
            e = Event(kind="plate", source="bench", data=PAYLOAD)
            ts = int(e.ts.timestamp() * 1000)
            rows.append((rowid, e.id, ts, e.kind, e.source, dumps(e.data), created))
            rowid += 1
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO events(rowid_, id, ts_ms, kind, source, data, created_ms)"
            " VALUES (?,?,?,?,?,?,?)",
            rows,
        )
        conn.execute("COMMIT")
        commit_ms.append((time.perf_counter() - t0) * 1000)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu0
    conn.close()
    return Result(f"raw sqlite3 {synchronous}", events, elapsed, [], commit_ms, len(commit_ms), cpu)


def table(results: list[Result]) -> str:
    head = (
        f"{'run':22} {'events/s':>10} {'events':>8} {'batch':>7} "
        f"{'ack p50':>8} {'ack p99':>8} {'commit p50':>10} {'commit p99':>10} {'cpu us/ev':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        ack50 = f"{pct(r.ack_ms, 50):8.2f}" if r.ack_ms else f"{'-':>8}"
        ack99 = f"{pct(r.ack_ms, 99):8.2f}" if r.ack_ms else f"{'-':>8}"
        lines.append(
            f"{r.label:22} {r.eps:10,.0f} {r.events:8d} {r.mean_batch:7.0f} {ack50} {ack99} "
            f"{pct(r.commit_ms, 50):10.2f} {pct(r.commit_ms, 99):10.2f} "
            f"{r.cpu_us_per_event:9.1f}"
        )
    lines.append("(latencies in ms; batch = mean events per transaction)")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="measured time per run")
    ap.add_argument("--concurrency", type=int, default=500, help="concurrent producers")
    ap.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="where the DBs go")
    ap.add_argument(
        "--batch-max", type=int, default=2000, help="storage.batch_max_events (default 2000)"
    )
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    ap.add_argument(
        "--sync", action="append", choices=["NORMAL", "FULL"], help="only these durabilities"
    )
    args = ap.parse_args()

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="edge-bench-", dir=args.dir) as tmp:
        for sync in args.sync or ["NORMAL", "FULL"]:
            run_dir = Path(tmp) / sync.lower()
            store = asyncio.run(
                bench_store(run_dir, sync, args.seconds, args.concurrency, args.batch_max)
            )
            batch = max(1, round(store.mean_batch))
            raw = bench_raw(run_dir, sync, store.events, batch)
            results += [store, raw]
            if sync == "NORMAL":  # the daemon's path: the same, through rt.flow
                results.append(
                    asyncio.run(
                        bench_store(
                            Path(tmp) / "flow",
                            sync,
                            args.seconds,
                            args.concurrency,
                            args.batch_max,
                            via_flow=True,
                        )
                    )
                )
    print(
        f"store ingest, 1 KB payloads, {args.concurrency} producers, batch_max {args.batch_max},"
        f" {args.seconds:g}s per run"
    )
    print(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, "
        f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (other work skews events/s;"
        " cpu us/ev does not)"
    )
    print(table(results))
    default = results[0]
    if default.label != "store NORMAL":
        return 0
    ok = default.eps >= TARGET_EPS and pct(default.commit_ms, 99) <= TARGET_P99_MS
    print(
        f"target at NORMAL: >= {TARGET_EPS:,} events/s and p99 commit <= {TARGET_P99_MS:g} ms: "
        + ("MET" if ok else "MISSED")
    )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "run": r.label,
                        "events_per_s": round(r.eps),
                        "mean_batch": round(r.mean_batch, 1),
                        "ack_p50_ms": round(pct(r.ack_ms, 50), 3) if r.ack_ms else None,
                        "ack_p99_ms": round(pct(r.ack_ms, 99), 3) if r.ack_ms else None,
                        "commit_p50_ms": round(pct(r.commit_ms, 50), 3),
                        "commit_p99_ms": round(pct(r.commit_ms, 99), 3),
                        "cpu_us_per_event": round(r.cpu_us_per_event, 1),
                    }
                    for r in results
                ]
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
