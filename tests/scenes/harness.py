"""Play a composed scene video through the daemon's per-frame code (FrameAnalyser with the
real YOLOX model, then the scene rules), on the video's own clock."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from edge.camera.frame import Frame
from edge.camera.sampler import Sample
from edge.config.scene import SceneRule
from edge.config.vision import PlateVisionConfig
from edge.scene.falling import FallingObjects
from edge.scene.rules import Clear, Raise
from edge.scene.runner import Outcome, SceneRules, plates_in_view
from edge.vision.analysis import FrameAnalyser

RULES: TypeAdapter[list[SceneRule]] = TypeAdapter(list[SceneRule])
LIFT = [[160, 40], [480, 40], [480, 350], [160, 350]]
LANE = [[100, 60], [540, 60], [540, 355], [100, 355]]
FACADE = [[200, 0], [440, 0], [440, 359], [200, 359]]


def rules(*docs: dict[str, Any]) -> list[SceneRule]:
    return RULES.validate_python(list(docs))


def play(
    detector: Any,
    frames: list[tuple[float, Any]],
    docs: list[SceneRule],
    classes: list[str],
    plates: Any = None,
) -> list[tuple[float, Outcome]]:
    """`plates`: a plate reader to run the `plates` pipeline beside `objects`, as the
    daemon's camera worker does (with the default `min_confidence`)."""
    pipelines = ["objects", "plates"] if plates is not None else ["objects"]
    analyser = FrameAnalyser(pipelines, objects=detector, object_classes=classes, plates=plates)
    scene = SceneRules(docs)
    floor = PlateVisionConfig().min_confidence
    out: list[tuple[float, Outcome]] = []
    for i, (t, image) in enumerate(frames):
        frame = Frame("cam", i, image, t, t)
        analyser.step(Sample(frame, image, (0, 0), None, None))
        live = analyser.object_tracks.live.values()
        reading = (lambda: plates_in_view(analyser.plate_passes, (0, 0), floor)) if plates else None
        for o in scene.observe(live, t, image, reading):
            out.append((t, o))
    return out


def fall(frames: list[tuple[float, Any]], docs: list[SceneRule]) -> list[tuple[float, Raise]]:
    detectors = [FallingObjects(r) for r in docs]  # type: ignore[arg-type]
    out = []
    for t, image in frames:
        for d in detectors:
            hit = d.feed(image, t)
            if hit is not None:
                out.append((t, hit))
    return out


def kinds(outcomes: list[tuple[float, Outcome]]) -> list[str]:
    return ["raise" if isinstance(o.transition, Raise) else "clear" for _, o in outcomes]


__all__ = ["Clear", "Raise", "fall", "kinds", "play", "rules"]
