"""Supervised background tasks: none can vanish silently.

Every long-lived coroutine runs here. A failure is logged once per episode
with its traceback (not on every retry), the task restarts with exponential
backoff and jitter, and its state is kept for /api/health, `edge status` and
the systemd STATUS line. A task that then runs cleanly for a while is
considered recovered, which is logged once too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from edge.backoff import Backoff
from edge.log import task_name

log = logging.getLogger(__name__)

State = Literal["starting", "running", "restarting", "failed", "stopped", "done"]
FAILED_AFTER = 5


@dataclass
class TaskHealth:
    name: str
    state: State = "starting"
    restarts: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    started_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def healthy(self) -> bool:
        return self.state in ("running", "starting", "done", "stopped")


@dataclass
class _Entry:
    health: TaskHealth
    factory: Callable[[], Awaitable[Any]]
    task: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(
        self,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        healthy_after_s: float = 30.0,
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._order: list[str] = []
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.healthy_after_s = healthy_after_s
        self._stopping = False

    def spawn(
        self, name: str, factory: Callable[[], Awaitable[Any]], restart_on_exit: bool = False
    ) -> TaskHealth:
        """Run `factory()` until stop; restart it on failure (or on exit, if asked)."""
        if name in self._entries:
            raise ValueError(f"task {name!r} already exists")
        entry = _Entry(TaskHealth(name), factory)
        self._entries[name] = entry
        self._order.append(name)
        entry.task = asyncio.create_task(self._loop(entry, restart_on_exit), name=name)
        return entry.health

    async def _loop(self, entry: _Entry, restart_on_exit: bool) -> None:
        h = entry.health
        task_name.set(h.name)
        backoff = Backoff(self.backoff_initial_s, self.backoff_max_s)
        while not self._stopping:
            began = time.monotonic()
            h.state = "running"
            try:
                await entry.factory()
            except asyncio.CancelledError:
                h.state = "stopped"
                raise
            except Exception as exc:
                ran = time.monotonic() - began
                if ran >= self.healthy_after_s:
                    h.consecutive_failures = 0
                    backoff.reset()
                h.consecutive_failures += 1
                h.restarts += 1
                text = f"{type(exc).__name__}: {exc}"
                if h.consecutive_failures == 1:
                    log.error("task %s failed; restarting with backoff", h.name, exc_info=exc)
                elif text != h.last_error:
                    log.warning("task %s failed again: %s", h.name, text)
                h.last_error, h.last_error_at = text, time.time()
                h.state = "failed" if h.consecutive_failures >= FAILED_AFTER else "restarting"
                await asyncio.sleep(backoff.next_delay())
                continue
            if not restart_on_exit:
                h.state = "done"
                return
            backoff.reset()
            if h.consecutive_failures:
                log.info("task %s recovered", h.name)
                h.consecutive_failures = 0

    def mark_recovered(self, name: str) -> None:
        """Called by a task once it is doing useful work again after a failure."""
        h = self._entries[name].health
        if h.consecutive_failures:
            log.info("task %s recovered after %d failure(s)", name, h.consecutive_failures)
        h.consecutive_failures = 0
        h.state = "running"

    def health(self) -> list[TaskHealth]:
        return [self._entries[n].health for n in self._order]

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel tasks newest first, so consumers stop before what feeds them."""
        self._stopping = True
        for name in reversed(self._order):
            task = self._entries[name].task
            if task is None or task.done():
                continue
            task.cancel()
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout_s)
            except (asyncio.CancelledError, TimeoutError):
                pass
            except Exception:
                log.exception("task %s raised while stopping", name)
            self._entries[name].health.state = "stopped"
