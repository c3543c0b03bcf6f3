"""Where events enter: commit first, then reactors in commit order, then the live hub.

Producers (pollers, camera workers, the API, hub commands) call `emit`; it
returns once the event is committed and owed to every destination, as
`store.add_event` did. Reactors (threshold rules, the watchlist alarm, access
decisions next) must see *every* committed event exactly once per process and
in commit order, including events the store commits on its own (alarm
transitions, device state changes, readings). So the flow does not hand
events to reactors from `emit` (concurrent emitters would race): the store's
commit hook, called on the loop once per committed batch in commit order,
appends the batch to the dispatcher's backlog, and one dispatcher task runs the
reactors over the backlog in order.

The backlog never drops (a reactor may not miss an event). It is bounded by
back-pressure instead: while it holds `backlog_max` events, `emit` waits
before handing the store anything new. Events emitted from inside a reactor
skip that wait, or the dispatcher would wait for itself.

A reactor that raises is logged once per failure episode (with the traceback),
counted, reported as a problem on the health document while it keeps failing,
and the event still goes to the other reactors and the hub. The hub is the
live feed: its subscribers may drop (counted there).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge.events import Event, Reading

if TYPE_CHECKING:
    from edge.hub import Hub
    from edge.store import Store

log = logging.getLogger(__name__)

ReactorFn = Callable[[Event], Awaitable[None]]

BACKLOG_MAX = 10_000


def reading_topic(device: str) -> str:
    return f"reading/{device}"


@dataclass
class Reactor:
    name: str
    fn: ReactorFn
    kinds: frozenset[str] | None
    seen: int = 0
    failures: int = 0
    failing_since: float | None = None
    episode_failures: int = 0
    last_error: str | None = None

    def wants(self, event: Event) -> bool:
        return self.kinds is None or event.kind in self.kinds

    def health(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "failures": self.failures,
            "failing": self.failing_since is not None,
            "last_error": self.last_error,
        }


@dataclass
class FlowStats:
    committed: int = 0
    dispatched: int = 0
    waits: int = 0  # emits that waited for the backlog to shrink (back-pressure)
    max_backlog: int = 0
    reactors: list[Reactor] = field(default_factory=list)


class Flow:
    def __init__(self, store: Store, hub: Hub, *, backlog_max: int = BACKLOG_MAX) -> None:
        self.store = store
        self.hub = hub
        self.backlog_max = backlog_max
        self.stats = FlowStats()
        self._reactors = self.stats.reactors
        self._backlog: deque[Event] = deque()
        self._work = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._dispatcher: asyncio.Task[Any] | None = None
        store.on_events = self._committed

    # --- producers ------------------------------------------------------------

    async def emit(
        self,
        event: Event,
        *,
        counter: tuple[str, int] | None = None,
        settles: int | None = None,
    ) -> Event:
        """Commit `event` (raises what `store.add_event` raises: IntegrityError for a
        duplicate id, RuntimeError once the writer stopped) and queue it for the reactors.
        `counter` (name, value) is set in the same transaction: a source that reads a
        numbered log (a door controller's) keeps its position with the event, so a crash
        can neither lose the event nor record it twice. `settles` ends a gate opening kept
        under way (`store.begin_opening`) in the same transaction."""
        await self._wait_for_room()
        await self.store.add_event(event, counter=counter, settles=settles)
        return event

    async def emit_readings(self, device: str, readings: list[Reading]) -> Event | None:
        """Readings for the charts plus one `reading` event; the list goes to the live
        feed on `reading/<device>` once committed."""
        if not readings:
            return None
        await self._wait_for_room()
        event = await self.store.add_readings(device, readings)
        self.hub.publish(reading_topic(device), readings)
        return event

    async def device_state(
        self,
        device: str,
        available: bool,
        error: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> bool:
        """Record a device's availability; a change commits a `device` event."""
        await self._wait_for_room()
        return await self.store.set_device_state(device, available, error, state)

    async def _wait_for_room(self) -> None:
        if len(self._backlog) < self.backlog_max:
            return
        if self._dispatcher is not None and asyncio.current_task() is self._dispatcher:
            return  # a reactor emitting: waiting here would wait for ourselves
        self.stats.waits += 1
        while len(self._backlog) >= self.backlog_max:
            self._room.clear()
            await self._room.wait()

    # --- reactors -------------------------------------------------------------

    def add_reactor(self, name: str, fn: ReactorFn, *, kinds: set[str] | None = None) -> None:
        """Run `fn` on every committed event (of `kinds`), after the reactors added before it."""
        if any(r.name == name for r in self._reactors):
            raise ValueError(f"reactor {name!r} is added twice")
        self._reactors.append(Reactor(name, fn, frozenset(kinds) if kinds is not None else None))

    def _committed(self, events: list[Event]) -> None:
        """The store's commit hook: on the loop, once per batch, in commit order."""
        self._backlog.extend(events)
        self.stats.committed += len(events)
        self.stats.max_backlog = max(self.stats.max_backlog, len(self._backlog))
        self._idle.clear()
        self._work.set()

    async def run(self) -> None:
        """The dispatcher (one supervised task)."""
        self._dispatcher = asyncio.current_task()
        while True:
            if not self._backlog:
                self._idle.set()
                self._work.clear()
                await self._work.wait()
                continue
            event = self._backlog.popleft()
            if len(self._backlog) < self.backlog_max:
                self._room.set()
            for reactor in self._reactors:
                if reactor.wants(event):
                    await self._react(reactor, event)
            self.stats.dispatched += 1
            self.hub.publish(f"event/{event.kind}", event)

    async def _react(self, reactor: Reactor, event: Event) -> None:
        reactor.seen += 1
        try:
            await reactor.fn(event)
        except Exception as exc:
            reactor.failures += 1
            reactor.episode_failures += 1
            reactor.last_error = f"{type(exc).__name__}: {exc}"
            if reactor.failing_since is None:
                reactor.failing_since = time.monotonic()
                log.exception(
                    "reactor %s failed on %s event %s (logged once until it recovers)",
                    reactor.name,
                    event.kind,
                    event.id,
                )
            return
        if reactor.failing_since is not None:
            log.info(
                "reactor %s recovered after %d failed event(s)",
                reactor.name,
                reactor.episode_failures,
            )
            reactor.failing_since, reactor.episode_failures = None, 0

    async def idle(self, timeout_s: float | None = None) -> None:
        """Wait until every event committed so far has been through the reactors."""
        await asyncio.wait_for(self._idle.wait(), timeout_s)

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def health(self) -> dict[str, Any]:
        failing = [r.name for r in self._reactors if r.failing_since is not None]
        doc: dict[str, Any] = {
            "backlog": len(self._backlog),
            "max_backlog": self.stats.max_backlog,
            "committed": self.stats.committed,
            "dispatched": self.stats.dispatched,
            "backpressure_waits": self.stats.waits,
            "reactors": {r.name: r.health() for r in self._reactors},
        }
        if failing:
            doc["problems"] = [f"reactor {name} is failing" for name in failing]
        return doc
