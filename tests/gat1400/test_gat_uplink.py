"""The GA/T 1400 uplink against the strict 视图库 peer: the happy path first."""

from __future__ import annotations

from gat_helpers import APE, DaemonFactory, add_face, add_plate, wait_backlog
from viid_peer import ViidPeer, wait_for

from edge.codecs import gat1400_ids as ids


async def test_registers_and_delivers_plates_and_faces_with_images(
    peer: ViidPeer, daemon: DaemonFactory
) -> None:
    d = await daemon(peer.url)
    plates = [await add_plate(d, i) for i in range(5)]
    face = await add_face(d)
    await wait_for(lambda: len(peer.ids()) >= 6, 20, "6 objects accepted")
    assert not peer.violations, peer.violations
    vehicles = [r.obj for r in peer.received if r.endpoint == "/VIID/MotorVehicles"]
    assert sorted(v["PlateNo"] for v in vehicles) == sorted(e.data["plate"] for e in plates)
    for v in vehicles:
        assert ids.decompose(v["MotorVehicleID"]).device_id == APE
        types = [im["Type"] for im in v["SubImageList"]["SubImageInfoObject"]]
        assert types == ["01", "02"]  # 车辆大图, 车牌彩色小图
        assert v["PlateColor"] == "5" and v["PlateClass"] == "02"
    (f,) = [r.obj for r in peer.received if r.endpoint == "/VIID/Faces"]
    scene = f["SubImageList"]["SubImageInfoObject"][0]
    assert scene["Type"] == "14" and scene["ImageID"] == f["SourceID"]
    assert face.id  # the face event was committed and its object delivered
    # The outbox for the destination is empty once everything is acknowledged.
    await wait_backlog(d, 0, 10)
    health = d.rt.health_providers["uplink.viid"]()
    assert health["state"] == "connected" and health["time_offset_s"] is not None
    assert abs(health["time_offset_s"]) < 2
    assert peer.calls["/VIID/System/Register"] == 2  # challenge, then digest
