"""The gate rule: one pure function from what a camera saw to open, deny or ask.

A wrong answer locks a resident out or lets a stranger in, so the order is fixed and every
outcome names the rule that produced it (the `access` event and the guard's page show it):

1. fire mode: doors that open in a fire stay open, whoever comes;
2. blacklist, exact match only: refused, with a critical alarm;
3. the same person or plate at the same gate within the repeat window: nothing new;
4. anti-passback: a second entry in a group without an exit between is refused;
5. residents (plate exactly, or through a configured confusion above the confidence floor;
   face matched in a resident gallery), then visitor passes inside their window with
   entries left;
6. everyone else: refused at an `auto` gate, put to the guard at an `ask` gate;
and a `manual` gate (by its mode or its schedule now) opens for nobody automatically: a
known resident is put to the guard like a stranger, with who it is.

A near-miss to the blacklist never decides anything by itself; it travels with the
decision as an alert for the guard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from edge.access.plates import PlateSet, Tolerance
from edge.config.access import DAYS, GateConfig, GateMode, VisitorPass

Action = Literal["open", "deny", "ask", "none"]
Category = Literal["resident", "visitor", "blacklisted", "unknown"]


@dataclass(frozen=True)
class Sighting:
    """A plate or face pass at a camera, as the event flow delivers it."""

    kind: Literal["plate", "face"]
    camera: str
    ts: datetime
    event_id: str = ""
    plate: str | None = None
    confidence: float = 1.0
    identity: str | None = None
    gallery: str | None = None

    @property
    def key(self) -> str:
        """Who this is for repeat and passback purposes."""
        if self.kind == "plate":
            return f"plate:{self.plate}"
        return f"face:{self.gallery}:{self.identity}" if self.identity else "face:?"


@dataclass
class Visitor:
    """A visitor pass and the entries it has used."""

    config: VisitorPass
    used: int = 0

    def state_at(self, now: datetime) -> Literal["valid", "not_yet", "expired", "used_up"]:
        start = _aware(self.config.valid_from, now)
        end = _aware(self.config.valid_until, now)
        if now < start:
            return "not_yet"
        if now >= end:
            return "expired"
        if self.config.entries is not None and self.used >= self.config.entries:
            return "used_up"
        return "valid"


@dataclass
class Lists:
    """The lists a decision reads, rebuilt from the store when they change."""

    residents: PlateSet = field(default_factory=PlateSet)
    blacklist: PlateSet = field(default_factory=PlateSet)
    visitors: dict[str, Visitor] = field(default_factory=dict)
    resident_galleries: frozenset[str] = frozenset({"residents"})
    visitor_gallery: str = "visitors"

    def __post_init__(self) -> None:
        self._by_plate: dict[str, Visitor] | None = None
        self._plate_set = PlateSet()

    def visitor_plates(self) -> dict[str, Visitor]:
        if self._by_plate is None or len(self._by_plate) > len(self.visitors):
            self._by_plate = {
                key: v
                for v in self.visitors.values()
                if v.config.plate and (key := PlateSet([v.config.plate]).exact(v.config.plate))
            }
            self._plate_set = PlateSet(self._by_plate)
        return self._by_plate

    def visitor_plate_set(self) -> PlateSet:
        self.visitor_plates()
        return self._plate_set

    def visitor_for(self, sighting: Sighting) -> Visitor | None:
        if sighting.kind == "plate" and sighting.plate:
            return self.visitor_plates().get(PlateSet([sighting.plate]).exact(sighting.plate) or "")
        if sighting.kind == "face" and sighting.gallery == self.visitor_gallery:
            for v in self.visitors.values():
                if v.config.face and sighting.identity == v.config.face:
                    return v
        return None


@dataclass
class GateMemory:
    """What a gate remembers between passes: recent openings and who is inside."""

    last_open: dict[str, datetime] = field(default_factory=dict)


@dataclass
class PassbackMemory:
    """Per anti-passback group: the last direction each person or plate went, and when;
    an entry older than `keep` no longer refuses (a car lent and never seen leaving must
    not lock its owner out for ever)."""

    last: dict[tuple[str, str], str] = field(default_factory=dict)
    at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    keep: timedelta | None = None

    def inside(self, group: str, key: str, now: datetime) -> bool:
        """Entered through an `in` gate of `group`, not seen leaving, within `keep`."""
        if self.last.get((group, key)) != "in":
            return False
        since = self.at.get((group, key))
        return self.keep is None or since is None or now - since < self.keep


@dataclass(frozen=True)
class Decision:
    action: Action
    rule: str
    category: Category
    reason: str
    matched: str | None = None
    visitor_id: str | None = None
    alert: str | None = None
    mode: GateMode = "auto"


def mode_at(gate: GateConfig, now: datetime) -> GateMode:
    """The gate's mode at local time `now`: the first schedule window containing it."""
    day = DAYS[now.weekday()]
    t = now.time().replace(tzinfo=None)
    for window in gate.schedule:
        start, end = window.start, window.end
        if start <= end:
            inside = day in window.days and start <= t < end
        else:  # past midnight: the evening belongs to its day, the morning to the day before
            yesterday = DAYS[(now.weekday() - 1) % 7]
            inside = (day in window.days and t >= start) or (yesterday in window.days and t < end)
        if inside:
            return window.mode
    return gate.mode


def decide(
    sighting: Sighting,
    gate: GateConfig,
    lists: Lists,
    *,
    tolerance: Tolerance | None,
    min_confidence: float,
    repeat_window: timedelta,
    memory: GateMemory,
    passback: PassbackMemory | None = None,
    fire_mode: bool = False,
) -> Decision:
    now = sighting.ts
    mode = mode_at(gate, now)
    alert = _near_blacklist(sighting, lists)

    def out(
        action: Action, rule: str, category: Category, reason: str, **kw: str | None
    ) -> Decision:
        return Decision(action, rule, category, reason, alert=alert, mode=mode, **kw)

    if fire_mode and gate.fire_open:
        return out("open", "fire_mode", "unknown", "fire mode: the gate is held open")
    if sighting.kind == "plate" and sighting.plate:
        banned = lists.blacklist.exact(sighting.plate)
        if banned:
            return out(
                "deny", "blacklist", "blacklisted", f"{banned} is blacklisted", matched=banned
            )

    category, rule, matched, visitor, refusal = _who(sighting, lists, tolerance, min_confidence)
    # An opening remembered for this plate or face: nothing new within the window, whoever
    # it is (a stranger a guard just let in is not put to the guard again). A face nobody
    # knows has no identity to remember, so it never counts as a repeat.
    last = memory.last_open.get(sighting.key) if sighting.key != "face:?" else None
    if last is not None and now - last < repeat_window:
        return out("none", "repeat", category, "already opened for this pass", matched=matched)
    if passback is not None and gate.passback_group and category != "unknown":
        inside = passback.inside(gate.passback_group, sighting.key, now)
        if inside and gate.direction == "in":
            return out(
                "deny", "anti_passback", category, "entered before without leaving", matched=matched
            )
    if refusal is not None:
        action: Action = "deny" if mode == "auto" else "ask"
        return out(action, rule, "visitor", refusal, matched=matched, visitor_id=visitor)
    if category == "unknown":
        if mode == "auto":
            return out("deny", "unknown", category, "not on any list")
        return out("ask", "unknown", category, "not on any list: the guard decides")
    if mode == "manual":
        return out(
            "ask",
            "manual_mode",
            category,
            f"manual gate: {rule}",
            matched=matched,
            visitor_id=visitor,  # so the guard's opening uses one of the pass's entries
        )
    return out("open", rule, category, rule.replace("_", " "), matched=matched, visitor_id=visitor)


def _who(
    sighting: Sighting, lists: Lists, tolerance: Tolerance | None, min_confidence: float
) -> tuple[Category, str, str | None, str | None, str | None]:
    """(category, rule, matched entry, visitor pass id, refusal reason for a visitor)."""
    if sighting.kind == "plate" and sighting.plate:
        hit = lists.residents.exact(sighting.plate)
        if hit:
            return "resident", "resident_plate", hit, None, None
        if tolerance is not None and sighting.confidence >= min_confidence:
            hit = lists.residents.tolerant(sighting.plate, tolerance)
            if hit:
                return "resident", "resident_plate_tolerant", hit, None, None
    if (
        sighting.kind == "face"
        and sighting.identity
        and sighting.gallery in lists.resident_galleries
    ):
        return "resident", "resident_face", sighting.identity, None, None
    visitor = lists.visitor_for(sighting)
    tolerable = tolerance is not None and sighting.confidence >= min_confidence
    if visitor is None and sighting.kind == "plate" and sighting.plate and tolerable:
        assert tolerance is not None
        hit = lists.visitor_plate_set().tolerant(sighting.plate, tolerance)
        visitor = lists.visitor_plates().get(hit or "")
    if visitor is None:
        return "unknown", "unknown", None, None, None
    state = visitor.state_at(sighting.ts)
    matched = visitor.config.plate or visitor.config.face
    if state == "valid":
        return "visitor", "visitor_pass", matched, visitor.config.id, None
    reasons = {
        "not_yet": "visitor pass not yet valid",
        "expired": "visitor pass expired",
        "used_up": "visitor pass has no entries left",
    }
    return "visitor", f"visitor_{state}", matched, visitor.config.id, reasons[state]


def _near_blacklist(sighting: Sighting, lists: Lists) -> str | None:
    if sighting.kind != "plate" or not sighting.plate:
        return None
    if lists.blacklist.exact(sighting.plate):
        return None
    near = sorted(lists.blacklist.near(sighting.plate))
    if not near:
        return None
    return f"{sighting.plate} is one character from blacklisted {', '.join(near)}"


def _aware(when: datetime, like: datetime) -> datetime:
    """Config times without a zone are the site's local time (the zone of `like`)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=like.tzinfo)
