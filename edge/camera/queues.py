"""Bounded hand-offs that drop the OLDEST item when full, and count it.

For live video the newest frame is the one worth analysing: a queue that blocked the
producer would stall the decoder (and the camera's TCP window), and one that dropped
the newest would analyse ever staler pictures.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """asyncio queue (one loop) bounded to `maxsize`; `put_nowait` never blocks."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[T] = deque()
        self._ready = asyncio.Event()

    def put_nowait(self, item: T) -> bool:
        """Add `item`; returns False when an older item had to be dropped for it."""
        kept = True
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
            kept = False
        self._items.append(item)
        self._ready.set()
        return kept

    async def get(self) -> T:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if not self._items:
            self._ready.clear()
        return item

    def get_nowait(self) -> T:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    def qsize(self) -> int:
        return len(self._items)


class ThreadToLoopBuffer(Generic[T]):
    """From a decoder thread to the event loop: bounded, drop-oldest, counted.

    The thread never waits for the loop; the loop is woken only when the buffer goes
    from empty to non-empty, so a 25 fps stream costs at most 25 callbacks a second.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        maxsize: int,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self._loop = loop
        self._maxsize = maxsize
        self._items: deque[T | BaseException] = deque()
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._on_drop = on_drop
        self.dropped = 0

    def put(self, item: T | BaseException) -> bool:
        """Called from the thread. False when the loop is gone (the thread should stop)."""
        dropped = 0
        with self._lock:
            if not isinstance(item, BaseException):
                while len(self._items) >= self._maxsize:
                    self._items.popleft()
                    dropped += 1
            self._items.append(item)
            self.dropped += dropped
        if dropped and self._on_drop is not None:
            self._on_drop(dropped)
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # loop closed
            return False
        return True

    async def get(self) -> T:
        """Next item; an exception put by the thread is raised here."""
        while True:
            with self._lock:
                item = self._items.popleft() if self._items else None
                if not self._items:
                    self._ready.clear()
            if item is not None:
                if isinstance(item, BaseException):
                    raise item
                return item
            await self._ready.wait()
