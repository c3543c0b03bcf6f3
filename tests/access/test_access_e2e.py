"""End to end: real plate photos played by a file camera, read by the daemon's plate
pipeline (real ONNX models), decided by the gatekeeper, opened (or not) on the simulated
UHPPOTE controller over UDP, the guard answering through the API. Every plate is a photo's
text; nobody typed it into an event.

One car after another at an `ask` gate: a resident opens; a blacklisted car is refused with
a critical alarm; a visitor inside its window opens and uses its one entry; the same visitor
back later, out of entries, and a visitor whose pass ended are put to the guard (who denies
the latter); a stranger is put to the guard, who approves, and the gate opens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from access_helpers import api, uhppote_device
from prereqs import MODELS as MODELS_NEEDED
from prereqs import SHARED_MIRROR, needs

from edge.sim import rtsp as sim
from edge.sim.uhppote import UhppoteSimulator

ROOT = Path(__file__).resolve().parents[2]
SCENES = ROOT.parent / "shared" / "images" / "plates" / "scenes"
MODELS = ROOT / "models"

pytestmark = [
    pytest.mark.slow,
    needs((MODELS / "manifest.yaml").exists(), *MODELS_NEEDED),
    needs(SCENES.is_dir(), *SHARED_MIRROR),
]


RESIDENT = ("zeusees_15.jpg", "渝D00796")  # labels.csv
BANNED = ("we0091234_single_green.jpg", "沪AF71017")
VISITOR = ("zeusees_19.jpg", "闽EVL838")
EXPIRED = ("zeusees_3.jpg", "皖AH712X")
STRANGER = ("hyperlpr_test_img.jpg", "苏ED51712")
CARS = [RESIDENT, BANNED, VISITOR, EXPIRED, STRANGER, VISITOR]


def plate_frames(tmp_path: Path) -> Path:
    """Each car held for 2 s, then the empty lane for 2 s (its pass ends), at 5 frames/s."""
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), np.full((720, 1280, 3), 90, np.uint8))
    frames = tmp_path / "frames"
    stills = [p for photo, _ in CARS for p in [SCENES / photo] * 10 + [blank] * 10]
    sim.build_frames(frames, (1280, 720), stills)
    return frames


def access(now: datetime) -> dict[str, Any]:
    def visitor(vid: str, plate: str, start: timedelta, end: timedelta) -> dict[str, Any]:
        return {
            "id": vid,
            "plate": plate,
            "valid_from": (now + start).isoformat(),
            "valid_until": (now + end).isoformat(),
            "entries": 1,
        }

    return {
        "plate_allowlist": [RESIDENT[1]],
        "plate_blocklist": [BANNED[1]],
        "visitors": [
            visitor("v-ok", VISITOR[1], timedelta(hours=-1), timedelta(hours=2)),
            visitor("v-old", EXPIRED[1], timedelta(days=-2), timedelta(days=-1)),
        ],
        "gates": [{"id": "east-in", "device": "ctl-east", "cameras": ["cam-east"], "mode": "ask"}],
        "repeat_window_s": 5,
    }


async def test_cars_at_a_gate_from_real_photos_open_are_refused_or_go_to_the_guard(
    make_daemon: Any, controller: UhppoteSimulator, tmp_path: Path, wait_for: Any
) -> None:
    camera = {
        "id": "cam-east",
        "kind": "file",
        "path": str(plate_frames(tmp_path)),
        "fps": 5,
        "loop": False,
        "analysis_fps": 5,
        "pipelines": ["plates"],
        "motion_gate": {"enabled": False},
    }
    d = await make_daemon(
        access(datetime.now(UTC)),
        [uhppote_device(controller)],
        cameras=[camera],
        vision={"models_dir": str(MODELS), "manifest": str(MODELS / "manifest.yaml")},
    )

    async def decided(plate: str, n: int = 1) -> list[dict[str, Any]] | None:
        """The gatekeeper's `access` events for `plate` (oldest first), once there are n."""
        rows = await d.rt.store.events(kind="access", limit=1000)
        mine = [r for r in rows[::-1] if r["data"].get("plate") == plate]
        return mine if len(mine) >= n else None

    async def answer(rec: dict[str, Any], verb: str) -> None:
        path = f"/api/access/pending/{rec['pending_id']}/{verb}"
        status, reply = await api(d, "POST", path, {"by": "li", "reason": "at the gate"})
        assert status == 200 and reply["ok"], reply

    [resident] = await wait_for(lambda: decided(RESIDENT[1]), timeout_s=120)
    data = resident["data"]
    assert (data["rule"], data["opened"]) == ("resident_plate", True)
    plate = await d.rt.store.event(data["pass_event"])
    assert plate is not None and plate["kind"] == "plate" and plate["data"]["plate"] == RESIDENT[1]
    assert {im["role"] for im in resident["images"]} >= {"plate_crop"}  # the guard sees the crop

    [banned] = await wait_for(lambda: decided(BANNED[1]), timeout_s=120)
    assert (banned["data"]["decision"], banned["data"]["rule"]) == ("denied", "blacklist")
    [alarm] = [a for a in await d.rt.store.alarms() if a["key"].startswith("access:blacklist")]
    assert BANNED[1] in alarm["message"] and alarm["severity"] == "critical"

    visitor = (await wait_for(lambda: decided(VISITOR[1]), timeout_s=120))[0]
    assert visitor["data"]["rule"] == "visitor_pass" and visitor["data"]["opened"] is True
    assert visitor["data"]["visitor_id"] == "v-ok"

    [expired] = await wait_for(lambda: decided(EXPIRED[1]), timeout_s=120)
    assert (expired["data"]["decision"], expired["data"]["rule"]) == ("pending", "visitor_expired")
    await answer(expired["data"], "deny")

    [stranger] = await wait_for(lambda: decided(STRANGER[1]), timeout_s=120)
    assert (stranger["data"]["decision"], stranger["data"]["rule"]) == ("pending", "unknown")
    await answer(stranger["data"], "approve")
    _, approved = await wait_for(lambda: decided(STRANGER[1], 2))
    assert approved["data"]["rule"] == "guard_approved" and approved["data"]["opened"] is True

    _, back = await wait_for(lambda: decided(VISITOR[1], 2), timeout_s=120)
    assert (back["data"]["decision"], back["data"]["rule"]) == ("pending", "visitor_used_up")
    assert controller.opened == [1, 1, 1]  # the resident, the visitor, the stranger
    assert await d.rt.store.visitor_entries_used() == {"v-ok": 1}
    _, denied = await wait_for(lambda: decided(EXPIRED[1], 2))
    assert denied["data"]["rule"] == "guard_denied"
