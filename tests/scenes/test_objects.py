"""The objects pipeline on real COCO photos: the classes a compound cares about are found
where the COCO annotators drew them, per-camera class filtering, and per-track best crops."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.vision.objects.detect import ObjectDetection
from edge.vision.objects.tracks import ObjectTracks
from edge.vision.plates.tracker import iou_matrix

OBJECTS = Path(__file__).resolve().parents[3] / "shared" / "images" / "objects"
WATCHED = {"person", "bicycle", "car", "motorcycle", "bus", "truck"}
MIN_AREA = 120 * 120  # large annotated objects: a small person in a crowd may go unseen


def _labelled() -> list[tuple[str, list[tuple[str, tuple[float, float, float, float]]]]]:
    rows = []
    with (OBJECTS / "labels.csv").open() as f:
        for row in csv.DictReader(f):
            boxes = [(b[0], (b[1], b[2], b[3], b[4])) for b in json.loads(row["boxes"])]
            rows.append((row["file"], boxes))
    return rows


def _big(boxes: list[tuple[str, tuple[float, float, float, float]]]) -> list[tuple[str, tuple]]:
    return [
        (label, b)
        for label, b in boxes
        if label in WATCHED and (b[2] - b[0]) * (b[3] - b[1]) >= MIN_AREA
    ]


def test_large_watched_objects_are_found_in_place(detector) -> None:  # type: ignore[no-untyped-def]
    found = missed = 0
    misses = []
    for name, boxes in _labelled():
        image = cv2.imread(str(OBJECTS / name))
        dets = detector.detect(image)
        for label, box in _big(boxes):
            same = [d.box for d in dets if d.label == label]
            if same and iou_matrix([box], same).max() >= 0.5:
                found += 1
            else:
                missed += 1
                misses.append((name, label))
    assert found >= 20, misses
    assert missed <= found // 10, misses  # ≥ 90 % of the big people and vehicles


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("coco_000000000073.jpg", "motorcycle"),
        ("coco_000000000629.jpg", "motorcycle"),
        ("coco_000000000074.jpg", "bicycle"),
        ("coco_000000001532.jpg", "car"),
        ("coco_000000002006.jpg", "bus"),
        ("coco_000000000459.jpg", "person"),
    ],
)
def test_expected_class_per_photo(detector, name: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    labels = {d.label for d in detector.detect(cv2.imread(str(OBJECTS / name)))}
    assert expected in labels


def test_class_filter_per_camera(detector) -> None:  # type: ignore[no-untyped-def]
    """A lift camera that only wants e-bikes never reports the rider."""
    image = cv2.imread(str(OBJECTS / "coco_000000000086.jpg"))  # a person on a motorcycle
    everything = {d.label for d in detector.detect(image)}
    assert {"person", "motorcycle"} <= everything
    only = detector.detect(image, detector.label_ids(["bicycle", "motorcycle"]))
    assert only and {d.label for d in only} <= {"bicycle", "motorcycle"}
    with pytest.raises(ValueError, match="unknown COCO class"):
        detector.label_ids(["e-bike"])


def test_tracks_follow_a_moving_object_and_keep_the_best_crop() -> None:
    tracks = ObjectTracks(max_missed_frames=2, max_missed_s=10)
    image = np.zeros((360, 640, 3), np.uint8)
    image[100:200, 300:400] = 200
    ended = []
    for i in range(6):
        x = 100 + 20 * i
        size = 60 + 10 * i  # coming closer: the last view is the biggest
        d = ObjectDetection("motorcycle", (x, 100, x + size, 100 + size), 0.8)
        p = ObjectDetection("person", (500, 50, 540, 150), 0.9)
        ended += tracks.feed([d, p], i, float(i), image)
    moto = [t for t in tracks.live.values() if t.label == "motorcycle"]
    assert len(moto) == 1 and moto[0].hits == 6
    assert moto[0].best_crop is not None and moto[0].best_crop.shape[1] >= 110
    assert len(tracks.live) == 2 and not ended
    for i in range(6, 10):
        ended += tracks.feed([], i, float(i), image)
    assert sorted(t.label for t in ended) == ["motorcycle", "person"]
    assert not tracks.live
