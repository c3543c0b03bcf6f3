"""Time spent per model stage (plates: detect, rectify, read, colour; faces: detect, align,
embed; objects: detect), for `/metrics` and the per-frame log line.

One process-wide histogram per (pipeline, stage): recognisers are shared by every camera,
so a stage's cost is a property of the model on this box, not of a camera. The analysis
runs on several executor threads, hence the lock (held for a few additions). A frame's own
breakdown is collected on the thread that analyses it (`frame_stages`), so the worker can
log it under the same names the metric uses.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: Upper bounds (seconds) of the histogram buckets: 1 ms to 1 s, finer where stages live.
BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0)


@dataclass
class StageHistogram:
    """Cumulative counts per bucket bound (plus +Inf last), as Prometheus exposes them."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))
    total_s: float = 0.0
    n: int = 0

    def add(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS_S, seconds)] += 1
        self.total_s += seconds
        self.n += 1

    def cumulative(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, count in zip([*map(str, BUCKETS_S), "+Inf"], self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class StageTimes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hist: dict[tuple[str, str], StageHistogram] = {}
        self._local = threading.local()

    def observe(self, pipeline: str, stage: str, seconds: float) -> None:
        with self._lock:
            hist = self._hist.get((pipeline, stage))
            if hist is None:
                hist = self._hist[(pipeline, stage)] = StageHistogram()
            hist.add(seconds)
        frame: dict[str, float] | None = getattr(self._local, "frame", None)
        if frame is not None:
            key = f"{pipeline}.{stage}"
            frame[key] = frame.get(key, 0.0) + seconds * 1000

    @contextmanager
    def timed(self, pipeline: str, stage: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.observe(pipeline, stage, time.perf_counter() - began)

    @contextmanager
    def frame_stages(self) -> Iterator[dict[str, float]]:
        """Collect this thread's stage times (ms, keyed `pipeline.stage`) for one frame."""
        frame: dict[str, float] = {}
        outer = getattr(self._local, "frame", None)
        self._local.frame = frame
        try:
            yield frame
        finally:
            self._local.frame = outer

    def snapshot(self) -> dict[tuple[str, str], StageHistogram]:
        with self._lock:
            return {
                k: StageHistogram(list(h.counts), h.total_s, h.n) for k, h in self._hist.items()
            }


#: The process's stage times: what `/metrics` exposes as `edge_model_stage_seconds`.
STAGES = StageTimes()
