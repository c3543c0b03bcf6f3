"""The gatekeeper: a flow reactor that turns plate and face passes at a gate's cameras into
openings, refusals and questions to the guard.

For each committed `plate` or `face` event whose camera watches a gate, it builds a
`Sighting`, runs the pure rule (`edge.access.decide`) against a snapshot of the lists, and
acts through the audited actions with a `rule` actor. Each pass at a gate leaves ONE
`access` event: the pass's id, the rule, the decision, who decided, and the gate's answer
(opened, or not and why). A guard's later approve or deny of an `ask` leaves one more.

The dispatcher runs every reactor in turn, so this one must return at once: deciding is
in memory (the lists snapshot is rebuilt only when the store says a list changed, never per
pass), and the slow part (the gate's UDP or Modbus round trip, the event, the alarms, the
car park) runs in a task of its own per pass. The repeat window and anti-passback memory
are updated when deciding (and when a guard approves a pass, which counts the same), so a
second read of the same car while the first opening is on the wire does not open twice; a
failed opening forgets it again, a done one is kept in the store so a restart neither
re-opens nor lets an entry in twice (edge/access/memory.py). A pass put to the guard
expires when nobody answered in time (edge/access/expiry.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from edge.access import openings
from edge.access.decide import Decision, Lists, Sighting, Visitor, decide
from edge.access.expiry import PendingExpiry
from edge.access.fire import FireControl
from edge.access.lists import normalize_plate
from edge.access.memory import PRUNE_EVERY_S, GateMemories
from edge.access.parking import Parking
from edge.access.plates import PlateSet, Tolerance
from edge.config.access import GateConfig, VisitorPass
from edge.events import Event, EventKind
from edge.ids import new_id
from edge.payloads import AccessPayload, FacePayload, PayloadError, PlatePayload
from edge.timefmt import site_tz

if TYPE_CHECKING:
    from edge.actions import Actor
    from edge.runtime import Runtime

log = logging.getLogger(__name__)

STOP_GRACE_S = 2.0
DECISIONS = {"open": "granted", "deny": "denied", "ask": "pending", "none": "ignored"}


class Gatekeeper:
    """Everything access control keeps while the daemon runs (`rt.services["access"]`)."""

    def __init__(self, rt: Runtime) -> None:
        cfg = rt.config.access
        self.rt = rt
        self.cfg = cfg
        self.tz = site_tz(rt.config.site.utc_offset)
        self.gates: dict[str, GateConfig] = {g.id: g for g in cfg.gates}
        self.by_camera: dict[str, list[GateConfig]] = {}
        for gate in cfg.gates:
            for camera in gate.cameras:
                self.by_camera.setdefault(camera, []).append(gate)
        tol = cfg.tolerance
        self.tolerance = Tolerance(tuple(tol.pairs), tol.any_one_char) if tol.enabled else None
        self.repeat_window = timedelta(seconds=cfg.repeat_window_s)
        self.memory = GateMemories(
            self.gates,
            self.repeat_window,
            timedelta(seconds=cfg.passback_memory_s),
            self.tz,
        )
        self.expiry = PendingExpiry(rt, self.gates, cfg.pending_expiry_s)
        self.fire = FireControl(rt)
        self.parking = Parking(rt)
        self.lists = Lists(
            resident_galleries=frozenset(cfg.resident_galleries),
            visitor_gallery=cfg.visitor_gallery,
        )
        self._generation: int | None = None
        self._fire_wanted: bool | None = None
        self._reloading: asyncio.Lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.stats: dict[str, int] = {
            "passes": 0,
            "granted": 0,
            "denied": 0,
            "pending": 0,
            "ignored": 0,
            "not_opened": 0,
            "manual": 0,
            "lists_loaded": 0,
        }

    # --- the lists snapshot ------------------------------------------------------------

    async def current_lists(self) -> Lists:
        """The snapshot, rebuilt only when the store's list generation moved."""
        if self._generation == self.rt.store.access_generation:
            return self.lists
        async with self._reloading:
            generation = self.rt.store.access_generation
            if self._generation != generation:
                self.lists = await self._load()
                self._generation = generation
                self.stats["lists_loaded"] += 1
        return self.lists

    async def _load(self) -> Lists:
        store = self.rt.store
        plates = set(await store.access_entries("plates"))
        for resident in (await store.access_entries("residents")).values():
            for p in [resident.get("plate"), *(resident.get("plates") or [])]:
                if isinstance(p, str) and p.strip():
                    plates.add(normalize_plate(p))
        used = await store.visitor_entries_used()
        visitors = {}
        for key, data in (await store.access_entries("visitors")).items():
            try:
                visitors[key] = Visitor(VisitorPass.model_validate(data), used.get(key, 0))
            except ValueError as exc:
                log.error("visitor pass %s in the store is unreadable: %s", key, exc)
        return Lists(
            residents=PlateSet(plates),
            blacklist=PlateSet(await store.access_entries("plate_blocklist")),
            visitors=visitors,
            resident_galleries=frozenset(self.cfg.resident_galleries),
            visitor_gallery=self.cfg.visitor_gallery,
        )

    # --- the reactor -------------------------------------------------------------------

    async def __call__(self, event: Event) -> None:
        if event.kind == EventKind.READING:
            await self._reading(event)
            return
        sighting = self.sighting(event)
        if sighting is None:
            return
        gates = [g for g in self.by_camera.get(sighting.camera, ()) if sighting.kind in g.passes]
        if not gates:
            return
        lists = await self.current_lists()
        for gate in gates:
            self.stats["passes"] += 1
            decision = decide(
                sighting,
                gate,
                lists,
                tolerance=self.tolerance,
                min_confidence=self.cfg.tolerance.min_confidence,
                repeat_window=self.repeat_window,
                memory=self.memory.gates[gate.id],
                passback=self.memory.passback,
                fire_mode=self.fire.on,
            )
            undo = self._remember(gate, sighting, decision)
            self._spawn(self._act(gate, sighting, decision, event, undo))

    def sighting(self, event: Event) -> Sighting | None:
        ts = event.ts.astimezone(self.tz)
        try:
            if event.kind == EventKind.PLATE:
                plate = PlatePayload.from_data(event.data)
                if plate.camera not in self.by_camera:
                    return None
                return Sighting(
                    "plate",
                    plate.camera,
                    ts,
                    event.id,
                    plate=normalize_plate(plate.plate),
                    confidence=plate.confidence,
                )
            if event.kind == EventKind.FACE:
                face = FacePayload.from_data(event.data)
                if face.camera not in self.by_camera:
                    return None
                m = face.match
                return Sighting(
                    "face",
                    face.camera,
                    ts,
                    event.id,
                    confidence=face.confidence if face.confidence is not None else 1.0,
                    identity=(m.name or m.person_id) if m.result != "unknown" else None,
                    gallery=m.gallery if m.result != "unknown" else None,
                )
        except PayloadError as exc:
            log.warning("access: %s event %s unreadable: %s", event.kind, event.id, exc)
        return None

    def _remember(self, gate: GateConfig, sighting: Sighting, decision: Decision) -> Any:
        """Note an opening before it is on the wire; returns how to forget it."""
        if decision.action != "open":
            return None
        return self.memory.opened(gate, sighting.key, sighting.ts)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("access: acting on a pass failed", exc_info=task.exception())
        if not self._tasks:
            self._idle.set()

    async def run(self) -> None:
        """Supervised: prunes the gates' memory now and then; at stop, the passes being
        acted on get a moment to finish (an opening on the wire is recorded), then the rest
        are cancelled, before the writer stops."""
        try:
            while True:
                await asyncio.sleep(PRUNE_EVERY_S)
                await self.memory.restore(self.rt.store)
        finally:
            if self._tasks:
                _, late = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_S)
                for task in late:
                    task.cancel()

    async def idle(self, timeout_s: float | None = None) -> None:
        """Wait until every pass decided so far has been acted on (tests, the bench)."""
        await asyncio.wait_for(self._idle.wait(), timeout_s)

    # --- acting ------------------------------------------------------------------------

    async def _act(
        self, gate: GateConfig, s: Sighting, d: Decision, event: Event, undo: Any
    ) -> None:
        payload = AccessPayload(
            gate=gate.id,
            direction=gate.direction,
            decision=DECISIONS[d.action],
            reason=d.reason,
            plate=s.plate,
            person_id=s.identity,
            actor=f"rule:access.{gate.id}",
            pass_event=event.id,
            camera=s.camera,
            rule=d.rule,
            category=d.category,
            decided_by=f"rule:access.{gate.id}",
            alert=d.alert,
            visitor_id=d.visitor_id,
            matched=d.matched,
            extra={"mode": d.mode},
        )
        opening = None
        if d.action == "open":
            from edge.actions import Actor

            opening = await openings.begin(
                self.rt, payload.event(f"gate.{gate.id}", images=event.images)
            )
            opened, error = await self.open(gate, Actor("rule", f"access.{gate.id}"), d.reason)
            if not opened and undo is not None:
                undo()
            payload = _with(payload, opened=opened, gate_error=error)
            if opened:
                await self.memory.keep(self.rt.store, gate, s.key, s.ts)
                await self.after_opening(gate, s.plate or s.key, d.category, d.visitor_id)
        elif d.action == "ask":
            pending_id = new_id()
            await self.rt.store.add_pending(
                pending_id,
                gate.id,
                event.id,
                {
                    "gate_name": gate.name,
                    "direction": gate.direction,
                    "camera": s.camera,
                    "kind": s.kind,
                    "key": s.key,
                    "plate": s.plate,
                    "person": s.identity,
                    "category": d.category,
                    "rule": d.rule,
                    "reason": d.reason,
                    "alert": d.alert,
                    "visitor_id": d.visitor_id,
                    "matched": d.matched,
                    "images": [{"role": str(i.role), "path": i.path} for i in event.images],
                },
            )
            payload = _with(payload, pending_id=pending_id)
        self.stats[DECISIONS[d.action]] += 1
        await self.rt.flow.emit(
            payload.event(f"gate.{gate.id}", images=event.images), settles=opening
        )
        if d.action == "ask":
            self.expiry.asked.set()  # after its event: the console shows it before it can expire
        if d.rule == "blacklist":
            await self.rt.store.raise_alarm(
                f"access:blacklist:{d.matched}:{gate.id}",
                f"gate.{gate.id}",
                f"blacklisted plate {d.matched} at {gate.name or gate.id}: refused",
                severity="critical",
                data={"event_id": event.id, "plate": d.matched, "gate": gate.id},
            )
        if d.alert:
            await self.rt.store.raise_alarm(
                f"access:near_blacklist:{s.plate}:{gate.id}",
                f"gate.{gate.id}",
                f"{d.alert} at {gate.name or gate.id}",
                severity="warning",
                data={"event_id": event.id, "plate": s.plate, "gate": gate.id},
            )

    async def open(self, gate: GateConfig, actor: Actor, reason: str) -> tuple[bool, str | None]:
        """Open through the audited action; (opened, why not). A gate that does not answer
        raises an alarm and marks its device unavailable; its next opening closes the alarm."""
        from edge import actions

        try:
            result = await actions.open_gate(
                self.rt, gate.id, actor=actor, reason=reason, record=False
            )
            opened, error = result.ok, None if result.ok else result.message
        except actions.ActionRefused as exc:
            opened, error = False, str(exc)
        except Exception as exc:
            opened, error = False, str(exc) or type(exc).__name__
        await self.gate_answered(gate, opened, error)
        return opened, error

    async def gate_answered(self, gate: GateConfig, opened: bool, error: str | None) -> None:
        """The gate's answer to an opening: a silent one is an alarm and a device state."""
        key = f"access:gate_not_opening:{gate.id}"
        if opened:
            await self.rt.store.close_alarm_by_key(key, "system:access")
            return
        self.stats["not_opened"] += 1
        if self.rt.devices.status(gate.device).available is not False:
            await self.rt.devices.failure(gate.device, error or "did not open")
        await self.rt.store.raise_alarm(
            key,
            f"gate.{gate.id}",
            f"gate {gate.name or gate.id} did not open: {error}",
            severity="critical",
            data={"gate": gate.id, "device": gate.device, "error": error},
        )

    async def after_opening(
        self, gate: GateConfig, vehicle: str, category: str, visitor_id: str | None
    ) -> None:
        """An opening happened: count the visitor's entry and the car park."""
        visitor = self.lists.visitors.get(visitor_id) if visitor_id else None
        if visitor is not None and gate.direction == "in":
            visitor.used = await self.rt.store.use_visitor_entry(visitor.config.id)
        if gate.car_park is not None:
            until = None
            if visitor is not None:
                until = visitor.config.valid_until
                if until.tzinfo is None:
                    until = until.replace(tzinfo=self.tz)
            await self.parking.moved(
                gate.car_park, gate.direction, vehicle, category, visitor_id, until
            )

    async def _reading(self, event: Event) -> None:
        value = self.fire.input_changed(event)
        wanted = self.fire.on if self._fire_wanted is None else self._fire_wanted
        if value is None or value == wanted:
            return  # not a change of the input, or the mode already says (or will say) so
        self._fire_wanted = value  # before the action runs: a quick on-off keeps its off
        from edge import actions

        device = self.cfg.fire.input_device or "fire"
        self._spawn(
            _quietly(
                actions.set_fire_mode(
                    self.rt,
                    value,
                    actor=actions.Actor("system", f"input.{device}"),
                    reason=f"fire-alarm input {device}/{self.cfg.fire.input_point} "
                    f"{'on' if value else 'off'}",
                )
            )
        )

    def health(self) -> dict[str, Any]:
        lists = self.lists
        doc: dict[str, Any] = {
            "gates": sorted(self.gates),
            "fire_mode": self.fire.health(),
            "parking": self.parking.health(),
            "lists": {
                "residents": len(lists.residents),
                "blacklist": len(lists.blacklist),
                "visitors": len(lists.visitors),
            },
            **self.stats,
            "expired": self.expiry.expired,
            "memory": self.memory.health(),
            "acting": len(self._tasks),
        }
        problems = list(doc["fire_mode"].get("problems", []))
        for gate in self.gates.values():
            status = self.rt.devices.status(gate.device)
            if status.available is False:  # a gate that cannot open is everyone's problem
                problems.append(
                    f"gate {gate.name or gate.id}: its device {gate.device} does not answer"
                    f" ({status.last_error})"
                )
        if problems:
            doc["problems"] = problems
        return doc


def _with(payload: AccessPayload, **changes: Any) -> AccessPayload:
    import dataclasses

    return dataclasses.replace(payload, **changes)


async def _quietly(coro: Any) -> None:
    """An action run on the daemon's own behalf: a refusal is in the audit log already."""
    from edge.actions import ActionRefused

    try:
        await coro
    except ActionRefused as exc:
        log.warning("access: %s", exc)


async def start(rt: Runtime) -> Gatekeeper:
    """Install the gatekeeper on the flow and start its supervised tasks."""
    keeper = Gatekeeper(rt)
    rt.services["access"] = keeper
    rt.add_health("access", keeper.health)
    kinds = {str(EventKind.PLATE), str(EventKind.FACE)}
    if rt.config.access.fire.input_device is not None:
        kinds.add(str(EventKind.READING))
    rt.flow.add_reactor("access.gates", keeper, kinds=kinds)
    await keeper.current_lists()
    await openings.recover(rt)
    await keeper.memory.restore(rt.store)
    await keeper.fire.restore()
    rt.supervisor.spawn("access.gates", keeper.run)
    rt.supervisor.spawn("access.pending", keeper.expiry.run)
    rt.supervisor.spawn("access.fire", keeper.fire.run)
    if keeper.parking.parks:
        rt.supervisor.spawn("access.parking", keeper.parking.run)
    return keeper
