"""The bounded executor for CPU work (decode, inference).

onnxruntime and OpenCV release the GIL, so threads give real parallelism; a
semaphore caps what is queued so a burst of frames cannot pile up unbounded.
Callers that can drop work (frame samplers) check `busy` first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class CpuPool:
    def __init__(self, workers: int, max_pending: int | None = None) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cpu")
        self._slots = asyncio.Semaphore(max_pending or workers * 2)
        self.pending = 0

    @property
    def busy(self) -> bool:
        return self._slots.locked()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._slots:
            self.pending += 1
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))
            finally:
                self.pending -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
