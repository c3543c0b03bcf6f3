"""Per-track voting and the plate tracker: one result per vehicle pass."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from prereqs import SHARED_MIRROR, needs

from edge.vision.image import decode_image
from edge.vision.plates.color import PlateColour, PlateType
from edge.vision.plates.grammar import is_valid
from edge.vision.plates.pipeline import PlateRead, PlateReader
from edge.vision.plates.sessions import default_registry
from edge.vision.plates.tracker import PlateTracker
from edge.vision.plates.vote import PlatePasses, vote

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def read(
    text: str,
    conf: float | list[float] = 0.9,
    box: tuple[float, float, float, float] = (100, 100, 260, 150),
    colour: PlateColour = PlateColour.BLUE,
    double_row: bool = False,
) -> PlateRead:
    confs = tuple(conf) if isinstance(conf, list) else (conf,) * len(text)
    x1, y1, x2, y2 = box
    return PlateRead(
        text=text,
        confidence=sum(confs) / max(len(confs), 1),
        colour=colour,
        plate_type=PlateType.BLUE,
        corners=np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32),
        box=box,
        double_row=double_row,
        crop=np.zeros((int(y2 - y1), int(x2 - x1), 3), np.uint8),
        valid=is_valid(text),
        char_confidences=confs,
    )


def test_characters_are_voted_position_by_position_with_confidence() -> None:
    reads = [
        read("皖A12345", [0.9, 0.9, 0.9, 0.5, 0.9, 0.9, 0.9]),
        read("皖A18345", [0.9, 0.9, 0.9, 0.4, 0.9, 0.9, 0.9]),
        read("皖A18345", [0.9, 0.9, 0.9, 0.3, 0.9, 0.9, 0.9]),
        read("皖A12346", [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2]),
    ]
    v = vote(reads)
    assert v is not None
    # position 3: '2' has 0.5 + 0.9 = 1.4 against '8' with 0.7; last: '5' 2.7 against '6' 0.2
    assert v.text == "皖A12345"
    assert v.valid and v.reads == 4
    assert v.char_confidences[0] == pytest.approx(0.9)
    assert v.char_confidences[3] == pytest.approx((0.5 + 0.9) / 4)


def test_a_single_confident_read_beats_several_weak_ones_only_by_weight() -> None:
    v = vote([read("京A11111", 0.99), read("京A77777", 0.3), read("京A77777", 0.3)])
    assert v is not None and v.text == "京A11111"
    v = vote([read("京A11111", 0.5), read("京A77777", 0.3), read("京A77777", 0.3)])
    assert v is not None and v.text == "京A77777"


def test_invalid_reads_are_outvoted_by_valid_ones_whatever_their_confidence() -> None:
    v = vote([read("A12345", 0.99), read("皖A12345", 0.6), read("皖A1234", 0.99)])
    assert v is not None and v.text == "皖A12345"


def test_the_length_with_the_most_weight_wins_for_eight_character_plates() -> None:
    reads = [read("沪AD12345", 0.9), read("沪AD12345", 0.8), read("沪A12345", 0.7)]
    v = vote(reads)
    assert v is not None
    assert v.text == "沪AD12345"
    assert v.plate_type is PlateType.NEW_ENERGY_SMALL and v.colour is PlateColour.GREEN


def test_the_vote_does_not_depend_on_arrival_order() -> None:
    reads = [
        read("京A12345", 0.8),
        read("京A12346", 0.8),
        read("京B12345", 0.7),
        read("京A1234S", 0.75),
        read("A12345", 0.9),
    ]
    results = {
        (v.text, v.char_confidences, v.best.text)
        for p in itertools.permutations(reads)
        if (v := vote(list(p))) is not None
    }
    assert len(results) == 1


def test_the_best_crop_is_a_large_confident_read_of_the_voted_text() -> None:
    small = read("京A12345", 0.99, box=(0, 0, 80, 25))
    large = read("京A12345", 0.95, box=(0, 0, 240, 75))
    wrong = read("京A12346", 1.0, box=(0, 0, 300, 95))
    v = vote([small, large, wrong, read("京A12345", 0.9, box=(0, 0, 200, 60))])
    assert v is not None and v.best is large


def test_no_text_no_vote() -> None:
    assert vote([]) is None
    assert vote([read("", 0.0)]) is None


def test_the_tracker_follows_two_plates_moving_side_by_side() -> None:
    tracker = PlateTracker()
    ids = []
    for f in range(10):
        a = (100 + 8 * f, 300, 260 + 8 * f, 350)
        b = (700 - 8 * f, 320, 860 - 8 * f, 370)
        ids.append(tracker.update([b, a] if f % 2 else [a, b], f, f * 0.1))
    firsts = {tuple(sorted(i)) for i in ids}
    assert firsts == {(1, 2)}
    assert [i[0] if f % 2 == 0 else i[1] for f, i in enumerate(ids)] == [1] * 10


def test_a_fast_plate_is_kept_by_its_centroid_when_boxes_stop_overlapping() -> None:
    tracker = PlateTracker()
    assert tracker.update([(100, 100, 200, 130)], 0, 0.0) == [1]
    assert tracker.update([(190, 105, 290, 135)], 1, 0.1) == [1]  # IoU 0.05, 0.9 widths away
    assert tracker.update([(600, 100, 700, 130)], 2, 0.2) == [2]  # far away: a new plate


def test_a_pass_ends_after_the_track_is_unseen_for_n_frames_or_seconds() -> None:
    passes = PlatePasses(PlateTracker(max_missed_frames=3, max_missed_seconds=10.0))
    out = []
    for f in range(5):
        out += passes.feed([read("京A12345", 0.9)], f, f * 0.04)
    assert out == []
    for f in range(5, 8):
        assert passes.feed([], f, f * 0.04) == []
    (done,) = passes.feed([], 9, 9 * 0.04)
    assert (done.text, done.track_id, done.first_frame, done.last_frame) == ("京A12345", 1, 0, 4)
    assert passes.feed([], 10, 0.4) == []  # once only

    by_time = PlatePasses(PlateTracker(max_missed_frames=1000, max_missed_seconds=1.0))
    by_time.feed([read("京A12345")], 0, 0.0)
    assert by_time.feed([], 1, 0.9) == []
    assert [p.text for p in by_time.feed([], 2, 1.5)] == ["京A12345"]


def test_a_parked_car_keeps_a_bounded_number_of_reads() -> None:
    passes = PlatePasses(max_reads=8)
    for f in range(50):
        passes.feed([read("京A12345", 0.5 + (f % 7) / 20)], f, f * 0.04)
    assert len(passes.open[1].reads) == 8
    assert passes.dropped_reads == 42
    (done,) = passes.flush()
    assert done.vote.reads == 8 and done.text == "京A12345"


@needs(SHARED.is_dir(), *SHARED_MIRROR)
def test_real_frames_of_a_passing_car_give_one_pass_with_the_right_plate() -> None:
    """A car drives through: the frame is panned and zoomed, some frames are blurred or too
    dark to read, and the voted pass still reads the plate once."""
    reader = PlateReader(default_registry(SHARED / "models"))
    scene = decode_image(SHARED / "images" / "plates" / "scenes" / "zeusees_19.jpg")
    h, w = scene.shape[:2]
    passes = PlatePasses(PlateTracker(max_missed_frames=2))
    ended = []
    per_frame = []
    for f in range(8):
        zoom = 0.8 + 0.04 * f
        crop = scene[int(h * (1 - zoom) / 2) : h, int(w * (1 - zoom) * f / 8) :]
        frame = cv2.resize(crop, (1280, 720), interpolation=cv2.INTER_AREA)
        if f in (2, 5):
            frame = cv2.GaussianBlur(frame, (0, 0), 3.5)
        if f == 6:
            frame = (frame * 0.25).astype(np.uint8)
        reads = reader.read_frame(np.asarray(frame, np.uint8))
        per_frame.append([r.text for r in reads])
        ended += passes.feed(reads, f, f / 12.5)
    for f in range(8, 12):
        ended += passes.feed([], f, f / 12.5)
    assert [p.text for p in ended] == ["闽EVL838"], per_frame
    (p,) = ended
    assert p.vote.reads >= 4 and p.vote.colour is PlateColour.BLUE
    assert p.vote.best.text == "闽EVL838"


def test_the_next_car_in_the_same_spot_is_a_new_pass_and_a_misread_is_not() -> None:
    """Cars a second apart at a barrier: boxes overlap, the confident texts differ."""
    passes = PlatePasses()
    ended = passes.feed([read("藏DT5022", 0.95, (244, 281, 633, 473))], 0, 0.0)
    ended += passes.feed([], 1, 0.5)
    ended += passes.feed([read("使198476", 0.98, (472, 339, 751, 427))], 2, 1.0)
    ended += passes.feed([read("使198478", 0.9, (470, 340, 750, 428))], 3, 1.5)  # one char off
    ended += passes.feed([read("使1984", 0.5, (470, 340, 750, 428))], 4, 2.0)  # unsure: no key
    ended += passes.flush()
    assert [(p.text, p.vote.reads) for p in ended] == [
        ("藏DT5022", 1),
        ("使198476", 2),
    ]  # the invalid read joined, not voted


def test_a_track_unseen_for_too_long_is_not_extended_by_a_late_box() -> None:
    tracker = PlateTracker(max_missed_seconds=1.5)
    assert tracker.update([(100, 100, 200, 130)], 0, 0.0) == [1]
    assert tracker.update([], 1, 1.0) == []
    assert tracker.update([(100, 100, 200, 130)], 2, 2.0) == [2]  # 2 s unseen: a new pass


@needs(SHARED.is_dir(), *SHARED_MIRROR)
@pytest.mark.parametrize("reuse", [True, False])
def test_a_settled_plate_is_not_read_again_while_it_stays_put(reuse: bool) -> None:
    """A car waiting at the barrier: once three reads in a row agree surely, the next
    frames reuse that read (the reader does not run) except every fifth, which reads it
    again; the pass votes the same plate as when every frame is read."""
    from edge.camera.frame import Frame
    from edge.camera.sampler import Sample
    from edge.vision.analysis import FrameAnalyser

    reader = PlateReader(default_registry(SHARED / "models"))
    scene = decode_image(SHARED / "images" / "plates" / "scenes" / "zeusees_19.jpg")
    analyser = FrameAnalyser(["plates"], plates=reader, reuse_settled=reuse)
    read_in = []
    for f in range(12):
        frame = Frame("cam", f, scene, f / 5, 1000 + f / 5)
        _, _, result = analyser.step(Sample(frame, scene, (0, 0), None, None))
        assert [r.text for r in result.plates] == ["闽EVL838"]
        read_in.append("plates.read" in result.stages)
    (p,), _ = analyser.flush()
    assert p[0].text == "闽EVL838" and p[0].vote.reads == 12 and p[1]
    if reuse:
        assert read_in == [True] * 3 + [False] * 4 + [True] + [False] * 4
    else:
        assert all(read_in)
