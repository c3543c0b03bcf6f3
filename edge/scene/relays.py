"""The relays scene rules hold (a lift kept open while an e-bike is inside, a siren, a
light): who holds which, and that none is left on when nobody does.

A relay board keeps a coil on by itself: a daemon that stops, or crashes, while a rule holds
one leaves the lift door or the siren on with nobody to release it. So:

- at stop, every relay a scene rule still holds is released (within RELEASE_TIMEOUT_S in
  all, audited as `system:scene`, logged), after the camera workers stopped (nothing re-holds it)
  and before the devices stop (the board is still reachable);
- at start, every relay a camera's rule names is released before any rule can hold it: a
  coil left on by a crashed run is not what any rule wants now (a rule whose condition still
  stands raises again and holds it within its `min_s`). Retried with backoff while the board
  does not answer, until done or the daemon stops;
- while a rule holds one, a hold the board refused is retried with backoff until it holds
  or the rule lets go (the e-bike is still in the lift when the board answers again).

A relay that is also a fire door's device is left alone while fire mode is on: the escape
route stays open whatever the scene rules say.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

from edge.backoff import Backoff

if TYPE_CHECKING:
    from edge.actions import Actor
    from edge.runtime import Runtime

log = logging.getLogger(__name__)

RELEASE_TIMEOUT_S = 2.5
"""At stop, how long releasing the held relays may take in all (a dead board must not hold
the stop past the supervisor's grace for this task)."""
START_REASON = (
    "daemon start: no scene rule holds it yet (a relay left on by the previous run is released)"
)
SERVICE = "scene.relays"


class SceneRelays:
    """Every scene-rule relay of the daemon (`rt.services["scene.relays"]`)."""

    def __init__(self, rt: Runtime, relays: set[str]) -> None:
        self.rt = rt
        self.relays = relays
        self.holders: dict[str, set[str]] = {}
        """Per relay, the cameras whose rule holds it now."""
        self.released_at_start: set[str] = set()
        self.released_at_stop: set[str] = set()
        self.retrying: dict[str, tuple[str, str]] = {}
        """Per relay whose hold failed (the board did not answer): the camera and reason to
        hold it for again, until it holds or no rule wants it any more."""
        self._retry = asyncio.Event()
        self._lock = asyncio.Lock()

    async def hold(self, relay: str, camera: str, reason: str) -> None:
        """Hold the relay for `camera`'s rule; a failure is raised (and audited) and the hold
        retried in the background while the rule still wants it: the e-bike is still in the
        lift when the board answers again."""
        async with self._lock:
            self.holders.setdefault(relay, set()).add(camera)
            try:
                await self._set(relay, True, _actor("rule", camera), reason)
            except Exception:
                self.retrying[relay] = (camera, reason)
                self._retry.set()
                raise
            self.retrying.pop(relay, None)

    async def release(self, relay: str, camera: str, reason: str) -> None:
        """A rule let go; the relay is released once no other camera's rule holds it."""
        async with self._lock:
            holders = self.holders.get(relay, set())
            holders.discard(camera)
            if holders:
                return
            self.holders.pop(relay, None)
            self.retrying.pop(relay, None)
            if self._fire_holds(relay):
                return
            await self._set(relay, False, _actor("rule", camera), reason)

    async def run(self) -> None:
        """Supervised: release what a previous run left on, then wait for the stop and
        release what is held then."""
        try:
            await self._release_at_start()
            await self._retry_holds()
        finally:
            await self._release_at_stop()

    async def _retry_holds(self) -> None:
        """Forever: hold again, with backoff, each relay whose hold failed while a rule
        still holds it."""
        backoff = Backoff(0.5, 30.0)
        while True:
            await self._retry.wait()
            for relay in sorted(self.retrying):
                async with self._lock:
                    if relay not in self.retrying or relay not in self.holders:
                        self.retrying.pop(relay, None)
                        continue
                    camera, reason = self.retrying[relay]
                    try:
                        await self._set(relay, True, _actor("rule", camera), reason)
                    except Exception as exc:
                        why = str(exc) or type(exc).__name__
                        log.warning("scene relay %s: hold still failing (%s)", relay, why)
                        continue
                    self.retrying.pop(relay, None)
                    log.info("scene relay %s held after retrying", relay)
            if not self.retrying:
                self._retry.clear()
                backoff.reset()
                continue
            await asyncio.sleep(backoff.next_delay())

    async def _release_at_start(self) -> None:
        from edge.actions import ActionRefused

        backoff = Backoff(0.5, 30.0)
        left = sorted(self.relays)
        failed: set[str] = set()
        while left:
            for relay in list(left):
                async with self._lock:
                    if relay in self.holders or self._fire_holds(relay):
                        left.remove(relay)  # a rule (or fire mode) already wants it on
                        continue
                    try:
                        await self._set(relay, False, SYSTEM, START_REASON)
                    except ActionRefused as exc:  # not a relay this daemon drives: final
                        log.error("scene relay %s: %s", relay, exc)
                        left.remove(relay)
                        continue
                    except Exception as exc:
                        if relay not in failed:
                            why = str(exc) or type(exc).__name__
                            log.error("scene relay %s: cannot release it at start: %s", relay, why)
                            failed.add(relay)
                        continue
                left.remove(relay)
                self.released_at_start.add(relay)
                if relay in failed:
                    log.info("scene relay %s released at start after retrying", relay)
            if left:
                await asyncio.sleep(backoff.next_delay())

    async def _release_at_stop(self) -> None:
        """Release every relay still held, together, within RELEASE_TIMEOUT_S in all (the
        supervisor gives this task a few seconds before the devices stop)."""
        held = {relay: sorted(cams) for relay, cams in self.holders.items()}
        self.holders.clear()
        for relay in [r for r in held if self._fire_holds(r)]:
            log.warning("scene relay %s stays held at stop: fire mode is on", relay)
            del held[relay]

        async def release(relay: str, cameras: list[str]) -> None:
            reason = f"daemon stopping: released from {', '.join(cameras)}"
            try:
                await self._set(relay, False, SYSTEM, reason)
            except Exception as exc:
                why = str(exc) or type(exc).__name__
                log.error("scene relay %s: not released at stop (%s): it may stay on", relay, why)
                return
            self.released_at_stop.add(relay)
            log.warning("scene relay %s released at stop (%s still held it)", relay, cameras)

        tasks = [asyncio.create_task(release(r, cams)) for r, cams in sorted(held.items())]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=RELEASE_TIMEOUT_S)
        for task in late:
            task.cancel()
        if late:
            log.error(
                "scene relays: %d not released within %gs at stop: they may stay on",
                len(late),
                RELEASE_TIMEOUT_S,
            )

    async def _set(self, relay: str, on: bool, actor: Actor, reason: str) -> None:
        from edge import actions

        await actions.hold_gate(self.rt, relay, on, actor=actor, reason=reason)

    def _fire_holds(self, relay: str) -> bool:
        keeper: Any = self.rt.services.get("access")
        if keeper is None or not keeper.fire.on:
            return False
        return any(device == relay for _gate, device in keeper.fire.gates())

    def health(self) -> dict[str, Any]:
        return {
            "held": {relay: sorted(cams) for relay, cams in sorted(self.holders.items())},
            "released_at_start": sorted(self.released_at_start),
            "retrying": sorted(self.retrying),
        }


def _actor(kind: Literal["rule", "system"], name: str) -> Actor:
    from edge.actions import Actor

    return Actor(kind, name)


SYSTEM = _actor("system", "scene")


def relays_of(rt: Runtime) -> set[str]:
    """The relays named by the rules of the enabled cameras."""
    out: set[str] = set()
    for camera in rt.config.cameras:
        if camera.enabled:
            for rule in camera.rules:
                relay = getattr(rule, "relay", None)
                if relay:
                    out.add(relay)
    return out


def start(rt: Runtime) -> SceneRelays | None:
    """Spawn the relays' keeper before the camera workers (so it stops after them)."""
    relays = relays_of(rt)
    if not relays:
        return None
    keeper = SceneRelays(rt, relays)
    rt.services[SERVICE] = keeper
    rt.add_health(SERVICE, keeper.health)
    rt.supervisor.spawn(SERVICE, keeper.run)
    return keeper
