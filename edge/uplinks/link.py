"""The link kit: what every destination shares, so a protocol module holds only its protocol.

`Link` owns the connection lifecycle (connect, run while connected, reconnect
with jittered `Backoff`), the state the operator sees (`state`, `last_error`,
`connected_since` / `disconnected_since`, counters, the `uplink.<name>` health
section with the backlog and the oldest record's age), delivery through the
store's outbox (`edge.uplinks.outbox.OutboxDrain`: never a queue of its own),
the data policy and image loading before encoding, and parking records the peer
refused for good.

A subclass (MQTT, GA/T 1400, GB/T 28181, ...) implements:

- `session()`: connect, call `self.connected()`, then run until the connection
  fails (raise; the exception's text becomes `last_error`). To deliver records it
  awaits `self.deliver(issue)` (usually beside its own keepalive or downlink
  tasks): `issue(prepared)` must start the send synchronously and return a
  future that completes when the peer acknowledged it, raises `PeerRefused` when
  the peer refused that record for good (it is parked), or raises anything else
  when the connection is suspect (reconnect, resend from the cursor);
- `encode(seq, event)`: the policy-applied event to whatever `issue` takes; runs
  in the link's worker thread, a batch at a time (use `self.load_image(ref)`);
- optionally `endpoint` (for logs and health; no secrets), `configured()`,
  `health_extra()`, and `transient` (exception types that mean "connection
  lost" rather than a bug).

Everything a run owns (worker thread, drain state) is built when `run()` starts,
so a supervised restart gets fresh ones.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

from edge.backoff import Backoff
from edge.events import Event, ImageRef
from edge.runtime import Runtime
from edge.store import OutboxItem
from edge.timefmt import site_tz, span
from edge.uplinks.linkconfig import LinkConfig
from edge.uplinks.outbox import DrainError, Issue, OutboxDrain, PeerRefused
from edge.uplinks.policy import Policy

__all__ = ["Link", "LinkConfig", "LinkError", "PeerRefused"]

log = logging.getLogger(__name__)

P = TypeVar("P")
LinkState = Literal["off", "connecting", "connected", "disconnected", "stopped"]

STATS_EVERY_S = 5.0  # how often the backlog figures in the health section are refreshed
REFUSALS_SHOWN_S = 3600.0  # a parked record keeps the daemon `degraded` this long


class LinkError(Exception):
    """The connection failed in a way the protocol module detected itself."""


class Link(abc.ABC, Generic[P]):
    type: ClassVar[str] = "?"
    #: Exceptions that end a session as a lost connection (logged once per episode);
    #: anything else is a bug and goes to the supervisor.
    transient: ClassVar[tuple[builtins.type[BaseException], ...]] = (
        OSError,
        TimeoutError,
        DrainError,
        LinkError,
    )

    def __init__(self, name: str, cfg: LinkConfig, rt: Runtime, *, window: int = 64) -> None:
        self.name = name
        self.cfg = cfg
        self.rt = rt
        self.policy = Policy(cfg.policy)
        self.drain: OutboxDrain[P] = OutboxDrain(
            rt.store,
            name,
            window=window,
            fetch_max=min(window, 500),
            stall_s=cfg.connect_timeout_s * 3,
        )
        self.state: LinkState = "connecting"
        self.last_error: str | None = None
        self.connected_since: float | None = None
        self.disconnected_since: float | None = None
        self.connections = 0
        self.failed_attempts = 0  # in a row, since the last connection (for the log)
        self.failures = 0  # since start, never reset: /metrics counts on it
        self.images_omitted = 0
        self.outbox: dict[str, Any] = {}
        self.parked_recent: list[dict[str, Any]] = []
        self._worker: ThreadPoolExecutor | None = None
        rt.add_health(f"uplink.{name}", self.health)

    # --- for subclasses -----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """Where this link connects, for logs and health (never with credentials)."""
        return ""

    def configured(self) -> bool:
        """False keeps the destination's records queued without connecting."""
        return True

    @abc.abstractmethod
    async def session(self) -> None:
        """Connect, call `connected()`, deliver until the connection fails (raise)."""

    @abc.abstractmethod
    def encode(self, seq: int, event: Event) -> P:
        """One policy-applied record to what `issue` sends (worker thread)."""

    def health_extra(self) -> dict[str, Any]:
        return {}

    async def deliver(self, issue: Issue[P]) -> None:
        """Drain the outbox through `issue` until the connection fails (raises)."""
        await self.drain.run(self._prepare, issue)

    def connected(self) -> None:
        """Call once the peer accepted the connection (and login, registration, ...)."""
        self.connections += 1
        if self.failed_attempts:
            log.info(
                "uplink %s: connected to %s after %d failed attempt(s)",
                self.name,
                self.endpoint,
                self.failed_attempts,
            )
        else:
            log.info("uplink %s: connected to %s", self.name, self.endpoint)
        self.failed_attempts = 0
        self.state = "connected"
        self.connected_since = time.time()
        self.disconnected_since = None

    def load_image(self, ref: ImageRef, max_bytes: int) -> tuple[bytes | None, str | None]:
        """The image's bytes, or None and why not (`too_large`, `missing`: pruned by
        retention or deleted by hand). Blocking: call from `encode`."""
        data, why = read_image(self.rt.store.data_dir, ref, max_bytes)
        if why is not None:
            self.images_omitted += 1
        return data, why

    # --- lifecycle ------------------------------------------------------------------

    async def run(self) -> None:
        stats = asyncio.ensure_future(self._stats_loop())
        try:
            if not self.configured():
                self.state = "off"
                log.info("uplink %s is not configured to connect: its records are kept", self.name)
                await asyncio.Event().wait()
            self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"uplink-{self.name}")
            backoff = Backoff(self.cfg.reconnect_initial_s, self.cfg.reconnect_max_s)
            while True:
                began = self.connections
                # Once down, the link stays "disconnected" (since then) through its
                # reconnect attempts: the operator's question is whether it is up.
                self.state = "connecting" if self.disconnected_since is None else "disconnected"
                try:
                    await self.session()
                    raise LinkError("session ended")
                except Exception as exc:
                    if not isinstance(exc, self.transient):
                        raise  # a bug: the supervisor logs it and restarts run()
                    self._lost(exc)
                if self.connections != began:
                    backoff.reset()
                self.state = "disconnected"
                await self._refresh_stats()
                await asyncio.sleep(backoff.next_delay())
        finally:
            if self.state != "off":
                self.state = "stopped"
            stats.cancel()
            if self._worker is not None:
                self._worker.shutdown(wait=False, cancel_futures=True)
                self._worker = None

    def _lost(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        self.failed_attempts += 1
        self.failures += 1
        if self.connected_since is not None or self.failed_attempts == 1:
            log.warning("uplink %s: connection to %s lost: %s", self.name, self.endpoint, text)
        else:
            log.debug("uplink %s: still down: %s", self.name, text)
        self.connected_since = None
        if self.disconnected_since is None:
            self.disconnected_since = time.time()
        self.last_error = text

    async def _prepare(self, items: Sequence[OutboxItem]) -> list[P]:
        assert self._worker is not None, "deliver() outside run()"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self._prepare_batch, list(items))

    def _prepare_batch(self, items: list[OutboxItem]) -> list[P]:
        return [self.encode(i.seq, self.policy.apply(i.event)) for i in items]

    # --- health ---------------------------------------------------------------------

    async def _stats_loop(self) -> None:
        while True:
            await self._refresh_stats()
            await asyncio.sleep(STATS_EVERY_S)

    async def _refresh_stats(self) -> None:
        try:
            rows = await self.rt.store.outbox_stats()
        except Exception as exc:  # the store reports its own faults; keep the last figures
            log.debug("uplink %s: outbox figures unavailable: %s", self.name, exc)
            return
        self.outbox = next((r for r in rows if r["dest"] == self.name), {})
        if self.outbox.get("parked"):
            with contextlib.suppress(Exception):
                self.parked_recent = await self.rt.store.parked(self.name, limit=5)

    def since(self) -> float | None:
        return self.connected_since if self.state == "connected" else self.disconnected_since

    def health(self) -> dict[str, Any]:
        drain = self.drain.stats()
        doc: dict[str, Any] = {
            "type": self.type,
            "state": self.state,
            "since": self.since(),
            "endpoint": self.endpoint,
            "connections": self.connections,
            "failures": self.failures,
            "connected_since": self.connected_since,
            "disconnected_since": self.disconnected_since,
            "last_error": self.last_error,
            "backlog": self.outbox.get("backlog"),
            "oldest_age_s": self.outbox.get("oldest_unacked_age_s"),
            "parked": self.outbox.get("parked", 0),
            "parked_recent": self.parked_recent,
            **drain,
            "images_omitted": self.images_omitted,
            **self.health_extra(),
        }
        problems = []
        offset = self.rt.config.site.utc_offset
        down = self.disconnected_since
        if down is not None and self.state != "off":
            for_s = time.time() - down
            if for_s >= self.cfg.degraded_after_s:
                problems.append(
                    f"uplink {self.name} disconnected since {_clock(down, offset)} "
                    f"({span(for_s)}): {self.last_error}"
                )
        refused_at = self.drain.last_refusal_at
        if refused_at is not None and time.time() - refused_at < REFUSALS_SHOWN_S:
            problems.append(
                f"uplink {self.name}: the peer refused {drain['parked_since_start']} record(s) "
                f"for good, parked (last at {_clock(refused_at, offset)}: "
                f"{drain['last_refusal']}); see `edge queue`"
            )
        if problems:
            doc["problems"] = problems
        return doc


LoadImage = Callable[[ImageRef, int], tuple[bytes | None, str | None]]
"""What an encoder is given to read an event's image: bytes, or None and why not."""


def read_image(data_dir: Path, ref: ImageRef, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The bytes of `ref` under `data_dir`, or None and why not (`too_large`, `missing`)."""
    if ref.size_bytes > max_bytes:
        return None, "too_large"
    try:
        return (data_dir / ref.path).read_bytes(), None
    except OSError:
        return None, "missing"


def files_in(data_dir: Path) -> LoadImage:
    """An image loader reading under `data_dir` (the CLI's and the bench's, without a link)."""
    return lambda ref, max_bytes: read_image(data_dir, ref, max_bytes)


async def until_first_failure(*coros: Awaitable[Any], ended: Exception) -> None:
    """A session's loops, run together: the first to raise stops the others and its error is
    raised again; should they all return, `ended` is raised (they are not meant to end)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for t in done:
        exc = None if t.cancelled() else t.exception()
        if exc is not None:
            raise exc
    raise ended


def _clock(ts: float, utc_offset: str) -> str:
    """Wall time in the site's zone (the box's own zone may be UTC, the reader elsewhere)."""
    return datetime.fromtimestamp(ts, site_tz(utc_offset)).strftime("%Y-%m-%d %H:%M:%S")
