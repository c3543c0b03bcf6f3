"""Each scene rule on composed videos of real COCO objects: the true case raises (with
its evidence) and clears, the near miss stays silent."""

from __future__ import annotations

import cv2
import numpy as np
import videos
from harness import FACADE, LANE, LIFT, Raise, fall, kinds, play, rules

EBIKE = {
    "type": "ebike_in_lift",
    "zone": {"name": "lift car", "points": LIFT},
    "min_s": 2,
    "clear_s": 2,
    "relay": "lift1",
}
ALL = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]


def test_ebike_in_lift_raises_with_crop_and_relay_then_clears(detector) -> None:  # type: ignore[no-untyped-def]
    frames = videos.enters_and_leaves("motorcycle", "lift", stay_s=4.0)
    out = play(detector, frames, rules(EBIKE), ALL)
    assert kinds(out) == ["raise", "clear"]
    (t_raise, first), (t_clear, second) = out
    tr = first.transition
    assert isinstance(tr, Raise) and tr.relay == "lift1" and tr.data["label"] == "motorcycle"
    assert second.transition.relay == "lift1"
    assert 2.0 <= t_raise < 1.5 + 4.0 and t_clear > 1.5 + 4.0  # raised while inside
    crop = cv2.imdecode(np.frombuffer(first.crop, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and crop.shape[0] > 150  # the motorcycle, not a sliver
    assert first.scene


def test_ebike_near_miss_too_short_and_person_alone(detector) -> None:  # type: ignore[no-untyped-def]
    brief = videos.enters_and_leaves("motorcycle", "lift", stay_s=0.5)
    assert kinds(play(detector, brief, rules({**EBIKE, "min_s": 3}), ALL)) == []
    person = videos.enters_and_leaves("person", "lift", stay_s=4.0)
    assert kinds(play(detector, person, rules(EBIKE), ALL)) == []


FIRE = {
    "type": "fire_lane",
    "zone": {"name": "fire lane", "points": LANE},
    "min_s": 8,
    "clear_s": 2,
}


def test_fire_lane_parked_car_raises_and_clears(detector) -> None:  # type: ignore[no-untyped-def]
    frames = videos.stands("car", "lane", seconds=12.0)
    out = play(detector, frames, rules(FIRE), ALL)
    assert kinds(out) == ["raise", "clear"]
    assert 8.0 <= out[0][0] < 12.0 and out[1][0] >= 12.0
    first = out[0][1].transition
    assert isinstance(first, Raise) and first.data["label"] in {"car", "truck"}


def test_fire_lane_alarm_names_the_parked_cars_plate(detector, plate_reader) -> None:  # type: ignore[no-untyped-def]
    """The plate is read while the car stands in the lane; its plate pass ends only when
    the car leaves, minutes after the alarm, so the alarm reads it from the open pass."""
    frames = videos.parked(seconds=12.0)
    out = play(detector, frames, rules(FIRE), ALL, plates=plate_reader)
    assert kinds(out) == ["raise", "clear"]
    first = out[0][1].transition
    assert isinstance(first, Raise) and first.data["plate"] == videos.PARKED[1]


def test_fire_lane_near_miss_short_stop_and_car_outside(detector) -> None:  # type: ignore[no-untyped-def]
    short = videos.stands("car", "lane", seconds=6.0)
    assert kinds(play(detector, short, rules(FIRE), ALL)) == []
    elsewhere = {**FIRE, "zone": {"points": [[0, 0], [90, 0], [90, 90], [0, 90]]}}
    parked = videos.stands("car", "lane", seconds=12.0)
    assert kinds(play(detector, parked, rules(elsewhere), ALL)) == []


LOITER = {
    "type": "loitering",
    "zone": {"name": "stairwell", "points": LIFT},
    "min_s": 6,
    "clear_s": 2,
    "cooldown_s": 600,
}


def test_loitering_person_standing_raises_clears_and_cools_down(detector) -> None:  # type: ignore[no-untyped-def]
    frames = videos.stands("person", "lift", seconds=10.0)
    out = play(detector, frames, rules(LOITER), ALL)
    assert kinds(out) == ["raise", "clear"]
    assert 6.0 <= out[0][0] < 10.0
    # the same person again within the cool-down: no second alarm
    again = frames + [(t + 14.0, img) for t, img in frames]
    assert kinds(play(detector, again, rules(LOITER), ALL)) == ["raise", "clear"]


def test_loitering_near_miss_passing_through_and_motorcycle(detector) -> None:  # type: ignore[no-untyped-def]
    passing = videos.enters_and_leaves("person", "lift", stay_s=2.0)
    assert kinds(play(detector, passing, rules(LOITER), ALL)) == []
    moto = videos.stands("motorcycle", "lift", seconds=10.0)
    assert kinds(play(detector, moto, rules(LOITER), ALL)) == []


FALL = {
    "type": "falling_object",
    "zone": {"name": "tower A", "points": FACADE},
    "min_frames": 6,
    "metres_per_px": 0.05,
}


def test_falling_object_with_g_raises_with_a_frame_strip() -> None:
    hits = fall(videos.drop(), rules(FALL))
    assert len(hits) == 1
    t, hit = hits[0]
    assert 0.6 < t < 1.6
    assert 9.81 * 0.5 <= hit.data["accel_m_s2"] <= 9.81 * 1.5
    assert hit.strip is not None and hit.strip.shape[1] > hit.strip.shape[0]


def test_falling_object_ignores_birds_and_wrong_scale() -> None:
    assert fall(videos.bird(), rules(FALL)) == []
    slow = videos.bird(px_per_s=120.0, flap_px=15.0)
    assert fall(slow, rules(FALL)) == []
    # a "fall" at a tenth of g (a drifting leaf or a lift cabin light) is not an object from height
    assert fall(videos.drop(g=0.98), rules(FALL)) == []


def test_fire_lane_near_miss_a_car_crawling_through_the_lane(detector) -> None:  # type: ignore[no-untyped-def]
    """A car inching along a queue (30 px/s, past `max_move_px` every second) is never
    stationary however long it is in the zone."""
    crawl = videos.creeps("car", "lane", seconds=14.0, px_per_s=30.0)
    assert kinds(play(detector, crawl, rules(FIRE), ALL)) == []
    # the same car stopped for as long: the alarm (so the detector did see it all along)
    parked = videos.stands("car", "lane", seconds=14.0)
    assert kinds(play(detector, parked, rules(FIRE), ALL))[:1] == ["raise"]


def test_ebike_in_lift_a_bicycle_counts_too(detector) -> None:  # type: ignore[no-untyped-def]
    frames = videos.enters_and_leaves("bicycle", "lift", stay_s=4.0)
    out = play(detector, frames, rules(EBIKE), ALL)
    assert kinds(out) == ["raise", "clear"]
    assert out[0][1].transition.data["label"] == "bicycle"


def test_fire_lane_dwell_survives_a_missed_detection(detector) -> None:  # type: ignore[no-untyped-def]
    """The detector misses a parked car now and then (a person walking past, headlights):
    one sample without it must not restart a clock of minutes, or a car parked all night
    would never raise the alarm."""
    frames = videos.stands("car", "lane", seconds=12.0)
    empty = videos.background("lane")
    frames = [(t, empty.copy() if t == 4.0 else img) for t, img in frames]
    out = play(detector, frames, rules(FIRE), ALL)
    assert kinds(out) == ["raise", "clear"]
    assert 8.0 <= out[0][0] < 12.0


def test_fire_lane_dwell_survives_the_car_hidden_longer_than_the_tracker_keeps_it(detector) -> None:  # type: ignore[no-untyped-def]
    """A van stands in front of the parked car for 4.5 s: the tracker drops the car (3 s)
    and gives it a new ID when it shows again. Found again where it stood, within the
    rule's clear_s, its clock goes on: the alarm comes at 8 s, not 8 s after it reappeared."""
    frames = videos.stands("car", "lane", seconds=16.0)
    empty = videos.background("lane")
    frames = [(t, empty.copy() if 3.0 <= t <= 7.5 else img) for t, img in frames]
    out = play(detector, frames, rules({**FIRE, "clear_s": 6}), ALL)
    assert kinds(out) == ["raise"]  # (it clears 6 s after the car left: past the video)
    assert 8.0 <= out[0][0] < 9.0
    assert out[0][1].transition.data["dwell_s"] >= 8.0


def test_fire_lane_another_car_far_from_the_gone_one_starts_its_own_clock(detector) -> None:  # type: ignore[no-untyped-def]
    """The clock carries over only where the gone car stood: a car standing elsewhere in
    the lane from 3 s to 10 s has stood 7 s, short of min_s 8 (from the first car's start
    it would be 10 s)."""
    here = [(t, img) for t, img in videos.stands("car", "lane", seconds=3.0) if t < 3.0]
    there = videos.creeps("car", "lane", seconds=7.0, px_per_s=0.0)
    frames = here + [(3.0 + t, img) for t, img in there]
    out = play(detector, frames, rules({**FIRE, "clear_s": 6}), ALL)
    assert kinds(out) == []
