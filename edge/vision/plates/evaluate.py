"""Plate-reading accuracy by category: which plates a site will miss, not only how many.

A total hides what an installer needs to know: a camera too far away (plates under 20 px
high), a tilted mounting, green new-energy plates, a night scene. Each labelled image is
put in one bucket per dimension, from its label (text, plus optional labels.csv columns
`colour`, `type`, `height_px`, `tilt_deg`, `degradation`), or, when the label says
nothing, from what the reader found (the plate's box and corners).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from edge.vision.plates.color import colour_from_text
from edge.vision.plates.grammar import plate_format

COLOURS = ("blue", "green", "yellow", "white", "black")
#: Plate height buckets (pixels in the image as given): upper bounds, exclusive.
HEIGHT_BUCKETS = ((20, "<20px"), (32, "20-31px"), (64, "32-63px"), (math.inf, ">=64px"))
TILT_BUCKETS = ((10, "<10deg"), (20, "10-19deg"), (math.inf, ">=20deg"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """One labelled image and what the reader made of it."""

    name: str
    label: str
    texts: tuple[str, ...]
    categories: Mapping[str, str]

    @property
    def hit(self) -> bool:
        return self.label in self.texts


def _bucket(value: float, buckets: Sequence[tuple[float, str]]) -> str:
    return next(name for bound, name in buckets if value < bound)


def colour_of(label: str, meta: Mapping[str, str]) -> str:
    """From a `colour` column, a `type` column starting with a colour, or the text."""
    if meta.get("colour"):
        return meta["colour"].strip().lower()
    first = (meta.get("type") or "").strip().lower().split(" ")[0].split("-")[0]
    if first in COLOURS:
        return first
    by_text = colour_from_text(label)
    if by_text is not None:
        return str(by_text)
    return "blue" if len(label) == 7 and plate_format(label) else "unknown"


def tilt_of(corners: Sequence[Sequence[float]]) -> float:
    """Angle of the plate's top edge (TL→TR) from horizontal, in degrees (0-90)."""
    (x1, y1), (x2, y2) = corners[0], corners[1]
    return abs(math.degrees(math.atan2(y2 - y1, x2 - x1)))


def categories(
    label: str, meta: Mapping[str, str], height_px: float | None, tilt_deg: float | None
) -> dict[str, str]:
    """The buckets of one image; measured size/tilt only when the labels do not say."""
    if meta.get("height_px"):
        height_px = float(meta["height_px"])
    if meta.get("tilt_deg"):
        tilt_deg = float(meta["tilt_deg"])
    fmt = plate_format(label)
    out = {
        "colour": colour_of(label, meta),
        "type": str(fmt) if fmt is not None else "other",
        "size": _bucket(height_px, HEIGHT_BUCKETS) if height_px is not None else "unknown",
        "tilt": _bucket(abs(tilt_deg), TILT_BUCKETS) if tilt_deg is not None else "unknown",
    }
    if meta.get("degradation"):
        out["degradation"] = meta["degradation"]
    return out


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    @property
    def hits(self) -> int:
        return sum(o.hit for o in self.outcomes)

    def by(self, dimension: str) -> dict[str, tuple[int, int]]:
        """bucket → (hits, total), buckets sorted by name."""
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for o in self.outcomes:
            t = tally[o.categories.get(dimension, "unknown")]
            t[0] += o.hit
            t[1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(tally.items())}

    def dimensions(self) -> list[str]:
        seen: dict[str, None] = {}
        for o in self.outcomes:
            seen.update(dict.fromkeys(o.categories))
        return list(seen)

    def lines(self) -> Iterable[str]:
        """The per-category table, one line per bucket."""
        for dim in self.dimensions():
            for bucket, (hits, total) in self.by(dim).items():
                yield f"  {dim:<12} {bucket:<18} {hits:>4}/{total:<4} {hits / total * 100:5.1f} %"
