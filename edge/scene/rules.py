"""The zone rules over object tracks: pure state machines fed once per analysed sample.

Each rule sees the camera's live tracks and the sample's time and answers with
transitions (`Raise`, `Clear`); the camera worker turns those into alarms, images and
relay commands. One open alarm per rule (its key is `scene:<camera>:<rule>`), cleared
when the condition has been absent for `clear_s`: a track that flickers or changes ID
under an occlusion does not raise a second alarm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.config.scene import (
    EbikeInLiftRule,
    FireLaneRule,
    LoiteringRule,
    SceneRule,
)
from edge.scene.zones import Polygon
from edge.vision.objects.tracks import ObjectTrack
from edge.vision.plates.tracker import iou_matrix


@dataclass(frozen=True, slots=True)
class Raise:
    rule: str
    type: str
    message: str
    track: ObjectTrack | None
    data: dict[str, Any] = field(default_factory=dict)
    relay: str | None = None
    strip: Any = None
    """A frame strip (BGR image) for rules that have one instead of a crop."""


@dataclass(frozen=True, slots=True)
class Clear:
    rule: str
    type: str
    relay: str | None = None


Transition = Raise | Clear


REFOUND_IOU = 0.5  # a new track this much over a gone one's last box is that object again


def _centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


class ZoneRule:
    """Dwell of qualifying tracks in a polygon, with raise/clear hysteresis."""

    classes: frozenset[str] = frozenset()

    def __init__(self, cfg: EbikeInLiftRule | FireLaneRule | LoiteringRule) -> None:
        self.cfg = cfg
        self.name = cfg.name or cfg.type
        self.zone = Polygon(cfg.zone.points)
        self.since: dict[int, float] = {}
        """Per track in the zone: since when it qualifies (entered, or stopped moving)."""
        self.boxes: dict[int, tuple[float, float, float, float]] = {}
        self.gone: list[tuple[float, tuple[float, float, float, float], float]] = []
        """Tracks that left the zone or were dropped by the tracker: (when, last box,
        since), kept for `clear_s` (see `_found_again`)."""
        self.active = False
        self.last_seen = 0.0
        self.last_raised: float | None = None

    def qualifies(self, track: ObjectTrack, ts: float) -> bool:
        """Whether this track counts now (and restart its clock when it should)."""
        return True

    def cooling(self, ts: float) -> bool:
        return False

    def message(self, track: ObjectTrack, dwell_s: float) -> str:
        raise NotImplementedError

    def relay(self) -> str | None:
        return None

    def observe(self, tracks: Iterable[ObjectTrack], ts: float) -> list[Transition]:
        ours = [t for t in tracks if t.label in self.classes and self.zone.holds(t.box)]
        inside = [t for t in ours if t.last_ts >= ts]
        # a track the detector missed in this sample (still live, last seen inside) keeps
        # its clock: one miss must not restart a dwell of minutes
        kept = {t.id for t in ours}
        for tid in list(self.since):
            if tid not in kept:
                self.gone.append((ts, self.boxes.pop(tid), self.since.pop(tid)))
        self.gone = [g for g in self.gone if ts - g[0] < self.clear_s]
        for t in ours:
            self.boxes[t.id] = t.box
        longest: tuple[float, ObjectTrack] | None = None
        for t in inside:
            if t.id not in self.since:
                found = self._found_again(t)
                self.since[t.id] = ts if found is None else found
            if not self.qualifies(t, ts):
                continue
            dwell = ts - self.since[t.id]
            if longest is None or dwell > longest[0]:
                longest = (dwell, t)
        out: list[Transition] = []
        if longest is not None:
            self.last_seen = ts
            dwell, t = longest
            if not self.active and dwell >= self.cfg.min_s and not self.cooling(ts):
                self.active = True
                self.last_raised = ts
                out.append(
                    Raise(
                        self.name,
                        self.cfg.type,
                        self.message(t, dwell),
                        t,
                        {
                            "rule": self.name,
                            "type": self.cfg.type,
                            "zone": self.cfg.zone.name,
                            "label": t.label,
                            "track_id": t.id,
                            "box": [round(v, 1) for v in t.box],
                            "dwell_s": round(dwell, 1),
                        },
                        self.relay(),
                    )
                )
        elif self.active and ts - self.last_seen >= self.clear_s:
            self.active = False
            out.append(Clear(self.name, self.cfg.type, self.relay()))
        return out

    def _found_again(self, track: ObjectTrack) -> float | None:
        """The tracker drops an object hidden for a few seconds (a van passing in front of
        a parked car) and gives it a new ID when it shows again. Found again where a gone
        track was, within `clear_s` (the absence that would clear the alarm), it is the
        same presence: its clock goes on instead of restarting (a car parked all night
        behind passing traffic would otherwise never raise)."""
        if not self.gone:
            return None
        overlaps = iou_matrix([box for _, box, _ in self.gone], [track.box])[:, 0]
        best = int(overlaps.argmax())
        if overlaps[best] < REFOUND_IOU:
            return None
        return self.gone.pop(best)[2]

    @property
    def clear_s(self) -> float:
        return float(self.cfg.clear_s)


class EbikeInLift(ZoneRule):
    def __init__(self, cfg: EbikeInLiftRule) -> None:
        super().__init__(cfg)
        self.classes = frozenset(cfg.classes)
        self._relay = cfg.relay

    def relay(self) -> str | None:
        return self._relay

    def message(self, track: ObjectTrack, dwell_s: float) -> str:
        return f"电动车进电梯 e-bike ({track.label}) in {self.cfg.zone.name} for {dwell_s:.0f}s"


class FireLane(ZoneRule):
    def __init__(self, cfg: FireLaneRule) -> None:
        super().__init__(cfg)
        self.fire = cfg
        self.classes = frozenset(cfg.classes)
        self.anchor: dict[int, tuple[float, float]] = {}

    def qualifies(self, track: ObjectTrack, ts: float) -> bool:
        """Stationary: the centre stays near where it stopped; moving on restarts the clock."""
        cx, cy = _centre(track.box)
        ax, ay = self.anchor.setdefault(track.id, (cx, cy))
        if ((cx - ax) ** 2 + (cy - ay) ** 2) ** 0.5 > self.fire.max_move_px:
            self.anchor[track.id] = (cx, cy)
            self.since[track.id] = ts
        for tid in list(self.anchor):
            if tid not in self.since:
                del self.anchor[tid]
        return True

    def message(self, track: ObjectTrack, dwell_s: float) -> str:
        return (
            f"消防通道占用 {track.label} stationary in {self.cfg.zone.name} "
            f"for {dwell_s / 60:.1f} min"
        )


class Loitering(ZoneRule):
    classes = frozenset({"person"})

    def __init__(self, cfg: LoiteringRule) -> None:
        super().__init__(cfg)
        self.loiter = cfg

    def cooling(self, ts: float) -> bool:
        return self.last_raised is not None and ts - self.last_raised < self.loiter.cooldown_s

    def message(self, track: ObjectTrack, dwell_s: float) -> str:
        return f"徘徊 person loitering in {self.cfg.zone.name} for {dwell_s:.0f}s"


def build(rules: Sequence[SceneRule]) -> list[ZoneRule]:
    """The object rules of a camera (falling_object runs elsewhere, on every frame)."""
    out: list[ZoneRule] = []
    for r in rules:
        if isinstance(r, EbikeInLiftRule):
            out.append(EbikeInLift(r))
        elif isinstance(r, FireLaneRule):
            out.append(FireLane(r))
        elif isinstance(r, LoiteringRule):
            out.append(Loitering(r))
    return out
