"""A camera's scene rules in the daemon: evidence in the CPU pool, alarms and relays on
the loop.

`SceneRules.observe` (pure CPU: rule state, JPEG encoding) runs in the CPU pool after
each analysed sample; `SceneActions.apply` turns its outcomes into alarms through the
store (whose alarm transitions are events in the flow, with the crop and the scene on
the raised one) and into audited relay holds (`actions.hold_gate`, through the daemon's
`SceneRelays`, which releases them at stop and at start: edge/scene/relays.py). One open alarm per
rule and camera: key `scene:<camera>:<rule>` (a falling object: one per fall, the key
followed by `:<id>`, closed by the guards).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edge.config.scene import SceneRule
from edge.events import ImageRef, ImageRole
from edge.ids import new_id
from edge.scene.relays import SERVICE as RELAYS
from edge.scene.relays import SceneRelays
from edge.scene.rules import Clear, Raise, Transition, build
from edge.vision.analysis import SCENE_MAX_WIDTH, jpeg
from edge.vision.objects.detect import Box
from edge.vision.objects.tracks import ObjectTrack
from edge.vision.plates.vote import PlatePasses, reportable, vote

if TYPE_CHECKING:
    from edge.runtime import Runtime

log = logging.getLogger(__name__)

PLATE_WINDOW_S = 120.0
"""A plate read on the camera this long before a fire-lane vehicle appeared still names it."""
PLATE_GRACE_S = 5.0
"""A plate pass ends a couple of seconds after its plate was last seen (the plate tracker's
patience): one that ended later than this after the vehicle stopped is another vehicle's
(the stopped one's own plate, still in view, is read from its open pass)."""

PlatesInView = Callable[[], list[tuple[str, Box]]]
"""The plates the camera reads now (voted so far) with their boxes in frame pixels; asked
only when a fire-lane alarm is raised."""


def plates_in_view(
    passes: PlatePasses, offset: tuple[int, int], min_confidence: float
) -> list[tuple[str, Box]]:
    """The open plate passes, voted so far: a parked car's pass ends only when it leaves,
    long after the fire lane's alarm, so the alarm reads the plate from the open one."""
    ox, oy = offset
    out: list[tuple[str, Box]] = []
    for entry in passes.open.values():
        voted = vote(entry.reads)
        if voted is None or not reportable(voted, min_confidence):
            continue
        x1, y1, x2, y2 = entry.reads[-1].box
        out.append((voted.text, (x1 + ox, y1 + oy, x2 + ox, y2 + oy)))
    return out


def _plate_on(vehicle: Box, plates: list[tuple[str, Box]]) -> str | None:
    """The plate whose centre lies on the vehicle's box (the biggest if several: the
    nearest car's own plate, not one seen through its windows)."""
    on = [
        (b[2] - b[0], text)
        for text, b in plates
        if vehicle[0] <= (b[0] + b[2]) / 2 <= vehicle[2]
        and vehicle[1] <= (b[1] + b[3]) / 2 <= vehicle[3]
    ]
    return max(on)[1] if on else None


@dataclass(frozen=True, slots=True)
class Outcome:
    transition: Transition
    crop: bytes = b""
    scene: bytes = b""


class SceneRules:
    """The zone rules of one camera (object tracks in, outcomes with JPEGs out)."""

    def __init__(self, rules: Sequence[SceneRule]) -> None:
        self.rules = build(rules)

    def observe(
        self,
        tracks: Iterable[ObjectTrack],
        ts: float,
        image: np.ndarray | None,
        plates: PlatesInView | None = None,
    ) -> list[Outcome]:
        live = list(tracks)
        out: list[Outcome] = []
        for rule in self.rules:
            for tr in rule.observe(live, ts):
                if (
                    isinstance(tr, Raise)
                    and tr.type == "fire_lane"
                    and tr.track is not None
                    and plates is not None
                ):
                    plate = _plate_on(tr.track.box, plates())
                    if plate is not None:
                        tr.data["plate"] = plate
                out.append(evidence(tr, image))
        return out


def evidence(tr: Transition, image: np.ndarray | None) -> Outcome:
    """The JPEGs a raised alarm carries: the track's best crop (or the frame strip) and
    the scene it was raised on."""
    if isinstance(tr, Clear):
        return Outcome(tr)
    crop = b""
    if tr.track is not None and tr.track.best_crop is not None and tr.track.best_crop.size:
        crop = jpeg(tr.track.best_crop, 90)
    elif tr.strip is not None:
        crop = jpeg(tr.strip, 85)
    scene = jpeg(image, 80, SCENE_MAX_WIDTH) if image is not None else b""
    return Outcome(tr, crop, scene)


class SceneActions:
    """Alarms and relays for one camera's scene outcomes."""

    def __init__(self, rt: Runtime, camera_id: str, rules: Sequence[SceneRule]) -> None:
        self.rt = rt
        self.camera_id = camera_id
        self.severity = {(r.name or r.type): r.severity for r in rules}
        self.last_plate: tuple[float, str] | None = None
        self.raised = 0
        self.cleared = 0

    def saw_plate(self, plate: str, ts: float) -> None:
        self.last_plate = (ts, plate)

    def key(self, rule: str) -> str:
        return f"scene:{self.camera_id}:{rule}"

    async def apply(self, outcomes: Iterable[Outcome]) -> None:
        for o in outcomes:
            if isinstance(o.transition, Raise):
                await self._raise(o.transition, o)
            else:
                await self._clear(o.transition)

    async def _raise(self, tr: Raise, o: Outcome) -> None:

        data: dict[str, Any] = {"camera": self.camera_id, **tr.data}
        if (
            tr.type == "fire_lane"
            and "plate" not in data
            and self.last_plate is not None
            and tr.track is not None
        ):
            ts, plate = self.last_plate
            stopped = tr.track.last_ts - float(tr.data.get("dwell_s", 0.0))
            if tr.track.first_ts - PLATE_WINDOW_S <= ts <= stopped + PLATE_GRACE_S:
                data["plate"] = plate
        images: list[ImageRef] = []
        if o.crop:
            role = ImageRole.OBJECT_CROP
            if tr.type == "fire_lane":
                role = ImageRole.VEHICLE_CROP
            images.append(await self.rt.store.save_image(o.crop, role))
        if o.scene:
            images.append(await self.rt.store.save_image(o.scene, ImageRole.SCENE))
        key = self.key(tr.rule)
        if tr.type == "falling_object":
            # each fall is its own incident (no "clear"): a second one while guards still
            # look at the first must not be folded into it
            key = f"{key}:{new_id()}"
        await self.rt.store.raise_alarm(
            key,
            self.camera_id,
            tr.message,
            severity=self.severity.get(tr.rule, "warning"),
            data=data,
            images=tuple(images),
        )
        self.raised += 1
        if tr.relay:
            await self._relay(tr.relay, True, tr.message)

    async def _clear(self, tr: Clear) -> None:
        await self.rt.store.close_alarm_by_key(self.key(tr.rule), f"rule:{tr.rule}")
        self.cleared += 1
        if tr.relay:
            await self._relay(tr.relay, False, f"{tr.rule} cleared on {self.camera_id}")

    async def _relay(self, gate: str, on: bool, reason: str) -> None:
        relays: SceneRelays | None = self.rt.services.get(RELAYS)
        try:
            if relays is None:
                raise LookupError(f"relay {gate} is not a scene relay of this daemon")
            if on:
                await relays.hold(gate, self.camera_id, reason)
            else:
                await relays.release(gate, self.camera_id, reason)
        except Exception:  # audited as failed/refused; the alarm stands either way
            log.exception("scene rule on %s: relay %s %s failed", self.camera_id, gate, on)
