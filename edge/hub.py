"""In-process publish/subscribe for live data (the page, rules, uplink wake-ups).

The store is the record; the hub is only the live feed. A slow subscriber must
never slow a publisher, so each subscription has a bounded queue that drops
its oldest item when full and counts the drop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Subscription:
    prefix: str
    maxsize: int
    name: str
    dropped: int = 0
    _items: deque[tuple[str, Any]] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False

    def _put(self, topic: str, item: Any) -> None:
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("subscriber %s is slow: %d items dropped", self.name, self.dropped)
        self._items.append((topic, item))
        self._ready.set()

    async def get(self) -> tuple[str, Any]:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def get_nowait(self) -> tuple[str, Any] | None:
        return self._items.popleft() if self._items else None

    def __aiter__(self) -> AsyncIterator[tuple[str, Any]]:
        return self

    async def __anext__(self) -> tuple[str, Any]:
        return await self.get()

    def close(self) -> None:
        self._closed = True
        self._ready.set()


class Hub:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, prefix: str = "", maxsize: int = 256, name: str = "") -> Subscription:
        sub = Subscription(prefix, maxsize, name or prefix or "all")
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, topic: str, item: Any) -> None:
        for sub in self._subs:
            if topic.startswith(sub.prefix):
                sub._put(topic, item)

    def stats(self) -> dict[str, int]:
        return {s.name: s.dropped for s in self._subs}
