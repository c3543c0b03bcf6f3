"""Scene rules on a camera: zones drawn in frame pixels and what happens inside them.

Zones are in the pixels of the camera's full frame, read off a snapshot
(`edge camera probe URL --snapshot s.jpg`), because that is what an installer sees and
measures; docs/scene-rules.md walks through it. Each rule has its own `type`, so a typo
in a rule's name or parameter is one error at its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field

from edge.config.types import AtKey, PixelPolygon, PositiveSeconds, Section

COCO_VEHICLES = ("car", "truck", "bus")
EBIKES = ("bicycle", "motorcycle")


HOLDABLE_DEVICES = frozenset({"modbus_relay"})
"""Device types whose driver can hold a relay on (`hold_open`): what a rule's `relay` names."""

EbikeClass = Literal["bicycle", "motorcycle"]
VehicleClass = Literal["car", "truck", "bus"]


def _ebikes() -> list[EbikeClass]:
    return ["bicycle", "motorcycle"]


def _vehicles() -> list[VehicleClass]:
    return ["car", "truck", "bus"]


class Zone(Section):
    """A polygon in frame pixels."""

    name: str = Field(
        default="zone", title="Zone name", description="Shown in the alarm, e.g. 'lift car'."
    )
    points: PixelPolygon = Field(
        title="Polygon points (x, y pixels)",
        description="Vertices as [x, y] in pixels of the full camera frame, top-left origin, "
        "read off a snapshot.",
    )


class _Rule(Section):
    name: str = Field(
        default="",
        title="Rule name",
        description="Shown in the alarm and used in its key; defaults to the rule type.",
    )
    zone: Zone = Field(title="Zone polygon", description="Where the rule looks.")
    min_s: PositiveSeconds = Field(
        title="Minimum time (s)",
        description="How long the condition must hold before the alarm is raised.",
    )
    severity: Literal["info", "warning", "critical"] = Field(
        default="warning", title="Severity", description="The alarm's severity."
    )


class EbikeInLiftRule(_Rule):
    """电动车进电梯: a bicycle or motorcycle in the lift car."""

    type: Literal["ebike_in_lift"] = Field(title="Rule type", description="E-bike in the lift.")
    min_s: PositiveSeconds = Field(
        default=2.0,
        title="Minimum time (s)",
        description="An e-bike inside the zone this long raises the alarm.",
    )
    classes: list[EbikeClass] = Field(
        default_factory=_ebikes,
        min_length=1,
        title="Classes",
        description="COCO classes counted as e-bikes (a person alone never triggers).",
    )
    relay: str | None = Field(
        default=None,
        title="Relay gate device",
        description="ID of a `modbus_relay` device (in `devices:`) held on while the e-bike "
        "is in the lift (keeps the doors open / blocks the call); released when it leaves.",
    )
    clear_s: PositiveSeconds = Field(
        default=2.0,
        title="Clear after (s)",
        description="The alarm closes and the relay releases when no e-bike was seen in the "
        "zone for this long.",
    )
    severity: Literal["info", "warning", "critical"] = Field(
        default="critical", title="Severity", description="The alarm's severity."
    )


class FireLaneRule(_Rule):
    """消防通道占用: a vehicle standing in the fire lane."""

    type: Literal["fire_lane"] = Field(title="Rule type", description="Blocked fire lane.")
    min_s: PositiveSeconds = Field(
        default=180.0,
        title="Minimum time (s)",
        description="A vehicle stationary in the zone this long raises the alarm (e.g. 3m).",
    )
    max_move_px: float = Field(
        default=20.0,
        gt=0,
        title="Stationary tolerance (px)",
        description="A vehicle whose box centre stays within this many pixels of where it "
        "stopped counts as stationary.",
    )
    classes: list[VehicleClass] = Field(
        default_factory=_vehicles,
        min_length=1,
        title="Classes",
        description="COCO vehicle classes that block the lane.",
    )
    clear_s: PositiveSeconds = Field(
        default=10.0,
        title="Clear after (s)",
        description="The alarm closes when the vehicle was not seen in the zone for this long.",
    )


class LoiteringRule(_Rule):
    """A person staying in a zone longer than anyone passing through would."""

    type: Literal["loitering"] = Field(title="Rule type", description="Loitering person.")
    min_s: PositiveSeconds = Field(
        default=120.0,
        title="Minimum time (s)",
        description="A person inside the zone this long raises the alarm.",
    )
    cooldown_s: PositiveSeconds = Field(
        default=600.0,
        title="Cool-down (s)",
        description="After an alarm, no new one from this rule for this long.",
    )
    clear_s: PositiveSeconds = Field(
        default=10.0,
        title="Clear after (s)",
        description="The alarm closes when no person was seen in the zone for this long.",
    )


class FallingObjectRule(_Rule):
    """高空抛物: a small blob accelerating downward like a dropped object."""

    type: Literal["falling_object"] = Field(title="Rule type", description="Object from height.")
    min_s: PositiveSeconds = Field(
        default=0.1,
        title="Minimum time (s)",
        description="Not used for this rule beyond validation (the frame count decides).",
    )
    min_frames: int = Field(
        default=6,
        ge=4,
        title="Minimum frames",
        description="The blob's fall must be seen in at least this many consecutive frames.",
    )
    scale_px: int = Field(
        default=320,
        ge=80,
        le=1280,
        title="Analysis width (px)",
        description="The zone is scaled to at most this width before background subtraction.",
    )
    max_blob_pct: float = Field(
        default=2.0,
        gt=0,
        le=50,
        title="Largest blob (% of zone)",
        description="Moving blobs bigger than this share of the zone are not small objects.",
    )
    g_tolerance: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        title="Acceleration tolerance",
        description="Accepted fitted downward acceleration, relative to the expected one "
        "(0.5: 50 % to 150 % of it).",
    )
    metres_per_px: float = Field(
        default=0.05,
        gt=0,
        title="Façade scale (m per frame pixel)",
        description="Metres of façade per full-frame pixel at the zone (floor height ÷ its "
        "height in pixels); turns g into pixels/s².",
    )
    cooldown_s: PositiveSeconds = Field(
        default=30.0,
        title="Cool-down (s)",
        description="After an alarm, no new one from this rule for this long.",
    )
    severity: Literal["info", "warning", "critical"] = Field(
        default="critical", title="Severity", description="The alarm's severity."
    )


SceneRule = Annotated[
    EbikeInLiftRule | FireLaneRule | LoiteringRule | FallingObjectRule,
    Field(discriminator="type"),
]

MAX_KEEPALIVE_S = 1.5
"""Below the 2 s after which a camera without samples ends its tracks."""

OBJECT_RULES = ("ebike_in_lift", "fire_lane", "loitering")

COCO_NAMES = frozenset(
    [
        "person",
        "bicycle",
        "car",
        "motorcycle",
        "airplane",
        "bus",
        "train",
        "truck",
        "boat",
        "traffic_light",
        "fire_hydrant",
        "stop_sign",
        "parking_meter",
        "bench",
        "bird",
        "cat",
        "dog",
        "horse",
        "sheep",
        "cow",
        "elephant",
        "bear",
        "zebra",
        "giraffe",
        "backpack",
        "umbrella",
        "handbag",
        "tie",
        "suitcase",
        "frisbee",
        "skis",
        "snowboard",
        "sports_ball",
        "kite",
        "baseball_bat",
        "baseball_glove",
        "skateboard",
        "surfboard",
        "tennis_racket",
        "bottle",
        "wine_glass",
        "cup",
        "fork",
        "knife",
        "spoon",
        "bowl",
        "banana",
        "apple",
        "sandwich",
        "orange",
        "broccoli",
        "carrot",
        "hot_dog",
        "pizza",
        "donut",
        "cake",
        "chair",
        "couch",
        "potted_plant",
        "bed",
        "dining_table",
        "toilet",
        "tv",
        "laptop",
        "mouse",
        "remote",
        "keyboard",
        "cell_phone",
        "microwave",
        "oven",
        "toaster",
        "sink",
        "refrigerator",
        "book",
        "clock",
        "vase",
        "scissors",
        "teddy_bear",
        "hair_drier",
        "toothbrush",
    ]
)


def check_scene(
    pipelines: Sequence[str],
    object_classes: Sequence[str],
    rules: Sequence[SceneRule],
    keepalive_s: float | None = None,
) -> None:
    """Cross-field checks of a camera's scene rules, each at its own key.

    `keepalive_s`: the motion gate's keep-alive (None: no gate). A dwell rule must keep
    seeing a parked car or a still person, which the gate would otherwise skip."""
    for i, name in enumerate(object_classes):
        if name.replace(" ", "_") not in COCO_NAMES:
            raise AtKey(("object_classes", i), f"{name!r} is not a COCO class")
    wanted = {c.replace(" ", "_") for c in object_classes}
    for i, rule in enumerate(rules):
        if rule.type == "falling_object":
            continue
        if "objects" not in pipelines:
            raise AtKey(("rules", i, "type"), f"{rule.type} needs 'objects' in pipelines")
        if keepalive_s is not None and not 0 < keepalive_s <= MAX_KEEPALIVE_S:
            raise AtKey(
                ("motion_gate", "keepalive_s"),
                f"{rule.type} watches still objects: set keepalive_s to 0 < s <= "
                f"{MAX_KEEPALIVE_S} (or disable the motion gate)",
            )
        classes = ["person"] if rule.type == "loitering" else list(rule.classes)
        missing = [c for c in classes if c not in wanted]
        if missing:
            raise AtKey(
                ("rules", i, "type"),
                f"{rule.type} looks for {', '.join(missing)}: add to object_classes",
            )
    names = [r.name or r.type for r in rules]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise AtKey(("rules", i, "name"), f"two rules named {n!r}: give each a name")
