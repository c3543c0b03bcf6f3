"""The gate rule, decision by decision: what a resident, a visitor, a stranger and a banned
driver get at each kind of gate. Pure: no I/O, every case exact."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from edge.access.decide import (
    Decision,
    GateMemory,
    Lists,
    PassbackMemory,
    Sighting,
    Visitor,
    decide,
    mode_at,
)
from edge.access.plates import PlateSet, Tolerance, one_edit, variants
from edge.config.access import GateConfig, ScheduleWindow, VisitorPass

CST = timezone(timedelta(hours=8))
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=CST)  # a Monday


def gate(**kw: object) -> GateConfig:
    return GateConfig.model_validate({"id": "east-in", "device": "bar1", **kw})


def lists(**kw: object) -> Lists:
    base = Lists(
        residents=PlateSet(["粤B12345", "京A0D123"]),
        blacklist=PlateSet(["沪C66666"]),
        visitors={
            "v1": Visitor(
                VisitorPass(
                    id="v1",
                    plate="苏E88888",
                    valid_from=datetime(2026, 12, 7, 9, 0),
                    valid_until=datetime(2026, 12, 7, 18, 0),
                    entries=2,
                )
            )
        },
    )
    for k, v in kw.items():
        setattr(base, k, v)
    return base


def plate(text: str, *, conf: float = 0.99, at: datetime = NOON) -> Sighting:
    return Sighting("plate", "cam1", at, plate=text, confidence=conf)


def run(
    s: Sighting,
    g: GateConfig | None = None,
    lst: Lists | None = None,
    *,
    tolerant: bool = False,
    memory: GateMemory | None = None,
    passback: PassbackMemory | None = None,
    fire: bool = False,
) -> Decision:
    return decide(
        s,
        g or gate(),
        lst or lists(),
        tolerance=Tolerance() if tolerant else None,
        min_confidence=0.9,
        repeat_window=timedelta(seconds=30),
        memory=memory or GateMemory(),
        passback=passback,
        fire_mode=fire,
    )


def test_resident_plate_opens() -> None:
    d = run(plate("粤B12345"))
    assert (d.action, d.rule, d.category, d.matched) == (
        "open",
        "resident_plate",
        "resident",
        "粤B12345",
    )


def test_unknown_plate_is_refused_at_auto_and_asked_at_ask() -> None:
    assert run(plate("粤B99999")).action == "deny"
    d = run(plate("粤B99999"), gate(mode="ask"))
    assert (d.action, d.rule) == ("ask", "unknown")


def test_blacklisted_plate_is_refused_even_in_a_list_and_never_tolerantly() -> None:
    lst = lists(residents=PlateSet(["沪C66666"]))
    d = run(plate("沪C66666"), lst=lst)
    assert (d.action, d.rule, d.category) == ("deny", "blacklist", "blacklisted")
    # One confusion away from a banned plate is not banned, but the guard is told.
    near = run(plate("沪C6666B"), tolerant=True)
    assert near.action == "deny" and near.rule == "unknown"
    assert near.alert is not None and "沪C66666" in near.alert


def test_confusions_open_only_when_configured_and_confident() -> None:
    read = plate("京A00123")  # the reader saw D as 0
    assert run(read).action == "deny"
    assert run(read, tolerant=True).rule == "resident_plate_tolerant"
    assert run(plate("京A00123", conf=0.5), tolerant=True).action == "deny"
    # A substitution the configuration does not list is not forgiven.
    assert run(plate("京A0X123"), tolerant=True).action == "deny"


def test_visitor_inside_outside_window_and_out_of_entries() -> None:
    lst = lists()
    d = run(plate("苏E88888"), lst=lst)
    assert (d.action, d.rule, d.visitor_id) == ("open", "visitor_pass", "v1")
    early = run(plate("苏E88888", at=NOON.replace(hour=8)), lst=lst)
    assert (early.action, early.rule) == ("deny", "visitor_not_yet")
    late = run(plate("苏E88888", at=NOON.replace(hour=18)), lst=lst)
    assert (late.action, late.rule) == ("deny", "visitor_expired")
    lst.visitors["v1"].used = 2
    used = run(plate("苏E88888"), lst=lst)
    assert (used.action, used.rule) == ("deny", "visitor_used_up")
    assert run(plate("苏E88888"), gate(mode="ask"), lst).action == "ask"


def test_same_plate_within_the_window_does_not_reopen() -> None:
    memory = GateMemory(last_open={"plate:粤B12345": NOON - timedelta(seconds=10)})
    assert run(plate("粤B12345"), memory=memory).rule == "repeat"
    memory.last_open["plate:粤B12345"] = NOON - timedelta(seconds=31)
    assert run(plate("粤B12345"), memory=memory).action == "open"


def test_a_stranger_let_in_by_the_guard_is_not_asked_again_within_the_window() -> None:
    memory = GateMemory(last_open={"plate:苏A00001": NOON - timedelta(seconds=10)})
    again = run(plate("苏A00001"), gate(mode="ask"), memory=memory)
    assert (again.action, again.rule, again.category) == ("none", "repeat", "unknown")
    # A face nobody knows is nobody in particular: never a repeat of another one.
    memory.last_open["face:?"] = NOON - timedelta(seconds=10)
    stranger = Sighting("face", "cam1", NOON, confidence=0.9)
    assert run(stranger, gate(mode="ask", passes=["face"]), memory=memory).action == "ask"


def test_anti_passback_refuses_a_second_entry() -> None:
    pb = PassbackMemory(last={("garage", "plate:粤B12345"): "in"})
    g = gate(passback_group="garage")
    assert run(plate("粤B12345"), g, passback=pb).rule == "anti_passback"
    pb.last[("garage", "plate:粤B12345")] = "out"
    assert run(plate("粤B12345"), g, passback=pb).action == "open"


def test_an_entry_older_than_the_passback_memory_no_longer_refuses() -> None:
    key = ("garage", "plate:粤B12345")
    pb = PassbackMemory(last={key: "in"}, keep=timedelta(hours=24))
    g = gate(passback_group="garage")
    pb.at[key] = NOON - timedelta(hours=23)
    assert run(plate("粤B12345"), g, passback=pb).rule == "anti_passback"
    pb.at[key] = NOON - timedelta(hours=24)  # a car lent and never seen leaving
    assert run(plate("粤B12345"), g, passback=pb).action == "open"


def test_manual_gate_opens_for_nobody_but_says_who() -> None:
    d = run(plate("粤B12345"), gate(mode="manual"))
    assert (d.action, d.category, d.rule) == ("ask", "resident", "manual_mode")


def test_fire_mode_opens_fire_doors_only() -> None:
    assert run(plate("粤B99999"), fire=True).rule == "fire_mode"
    assert run(plate("粤B99999"), gate(fire_open=False), fire=True).action == "deny"


def test_resident_face_opens_a_door_and_visitor_face_uses_its_pass() -> None:
    face = Sighting("face", "cam1", NOON, identity="张三", gallery="residents")
    assert run(face).rule == "resident_face"
    watch = Sighting("face", "cam1", NOON, identity="张三", gallery="watchlist")
    assert run(watch).action == "deny"
    lst = lists()
    lst.visitors["v2"] = Visitor(
        VisitorPass(
            id="v2",
            face="李四",
            valid_from=datetime(2026, 12, 7, 9, 0),
            valid_until=datetime(2026, 12, 7, 18, 0),
        )
    )
    vface = Sighting("face", "cam1", NOON, identity="李四", gallery="visitors")
    assert run(vface, lst=lst).visitor_id == "v2"


@pytest.mark.parametrize(
    ("at", "mode"),
    [
        (NOON, "auto"),
        (NOON.replace(hour=23), "ask"),
        (NOON.replace(hour=2), "ask"),  # Monday 02:00 belongs to Sunday night's window
        (NOON.replace(hour=6), "auto"),
        (
            (NOON + timedelta(days=1)).replace(hour=2),
            "auto",
        ),  # Tuesday 02:00: Monday's window is not listed
    ],
)
def test_schedule_windows_cross_midnight(at: datetime, mode: str) -> None:
    g = gate(
        schedule=[
            ScheduleWindow(days=["sun"], start=time(22), end=time(6), mode="ask"),
            ScheduleWindow(days=["mon"], start=time(22, 30), end=time(23, 59), mode="ask"),
        ]
    )
    # Monday 23:00 is inside the second window; Monday 02:00 inside Sunday's.
    assert mode_at(g, at) == mode


def test_plate_set_matching_primitives() -> None:
    assert variants("京A0D123", Tolerance()) >= {"京AOD123", "京A00123", "京A0D12B"} - {"京A0D12B"}
    assert "京A0D123" not in variants("京A0D123", Tolerance())
    assert one_edit("沪C66666", "沪C6666")
    assert one_edit("沪C66666", "沪C666666")
    assert not one_edit("沪C66666", "沪C66666")
    assert not one_edit("沪C66666", "沪C66688")
    s = PlateSet(["沪C66666", "粤B12345"])
    assert s.near("沪C6666") == {"沪C66666"}
    assert s.near("沪C666667") == {"沪C66666"}
    assert s.near("粤B12345") == set()
    assert s.tolerant("粤B1234S", Tolerance(any_one_char=True)) == "粤B12345"
    assert (
        s.tolerant("湘B12345", Tolerance(any_one_char=True)) is None
    )  # the province is never forgiven
