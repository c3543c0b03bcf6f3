"""`edge diag bundle`: everything support needs, and no planted secret or face image in it.

Secrets are planted in every secret field the config has (camera, MQTT password and HMAC
secret, 视图库 and GB/T 28181 passwords, one through a `*_file`), inside URLs (userinfo and
a token query), in the environment, and in the log the bundle collects; a face crop sits
in the data folder. Every file in the archive is then scanned for each of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.events import Event
from edge.store import Store

SECRETS = {
    "camera": "CamPw-7f3a9e",
    "camera_url": "UrlPw-41b2c8",
    "mqtt": "MqttPw-9d1e55",
    "mqtt_url": "BrokerPw-2c7a10",
    "hmac": "HmacSecret-88e4f1",
    "viid": "ViidPw-0b6d33",
    "gb": "GbPw-5e9f27",
    "env": "EnvPw-3a8c61",
    "log": "LogToken-6f0d92",
}


async def _store_with_a_parked_record(data: Path) -> None:
    """Three events owed to `hub`, the peer refused the second for good (parked)."""
    store = Store(data, {"hub": lambda kind: True})
    await store.open()
    writer = asyncio.create_task(store.run_writer())
    try:
        for n in range(3):
            await store.add_event(Event("alarm", f"door{n}", {"n": n}))
        await store.park("hub", 2, "400: plate_no is not a plate")
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await store.close()


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "images" / "face_crop").mkdir(parents=True)
    (data / "images" / "face_crop" / "f1.jpg").write_bytes(b"\xff\xd8FACE-PIXELS\xff\xd9")
    asyncio.run(_store_with_a_parked_record(data))
    (tmp_path / "gb-password").write_text(SECRETS["gb"])
    config = tmp_path / "edge.yaml"
    config.write_text(
        f"""\
config_version: 1
site: {{name: 测试, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}}
storage: {{data_dir: {data}}}
web: {{listen: "127.0.0.1:9"}}
cameras:
  - {{id: cam1, kind: rtsp, url: "rtsp://admin:{SECRETS["camera_url"]}@127.0.0.1:9/x",
      enabled: false}}
  - {{id: cam2, kind: rtsp, url: "rtsp://127.0.0.1:9/y?token={SECRETS["camera_url"]}",
      username: admin, password: "{SECRETS["camera"]}", enabled: false}}
uplinks:
  hub:
    type: mqtt
    url: "mqtt://gw:{SECRETS["mqtt_url"]}@127.0.0.1:9"
    password: "{SECRETS["mqtt"]}"
    commands: {{secret: "{SECRETS["hmac"]}"}}
  viid:
    type: gat1400
    url: http://127.0.0.1:9
    device_id: "32010600002000000001"
    password: "{SECRETS["viid"]}"
  police:
    type: gb28181
    server_id: "34020000002000000001"
    server_host: 127.0.0.1
    domain: "3402000000"
    device_id: "32010600001180000001"
    password_file: {tmp_path / "gb-password"}
    local_host: 127.0.0.1
""",
        encoding="utf-8",
    )
    log = tmp_path / "edge.log"
    now = time.strftime("%Y-%m-%d %H:%M:%S,000")
    log.write_text(
        "2020-01-01 08:00:00,000 INFO [main] edge.app: ancient-line, older than --days\n"
        f"{now} INFO started\n"
        f"{now} WARNING mqtt: connect to mqtt://gw:{SECRETS['mqtt_url']}@127.0.0.1 failed\n"
        f"{now} WARNING gb28181: auth with {SECRETS['gb']} refused\n"
        f"{now} DEBUG http GET /x?access_token={SECRETS['log']}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_the_bundle_holds_what_support_needs_and_no_secret(
    planted: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE_MQTT_PASSWORD", SECRETS["env"])
    monkeypatch.delenv("EDGE_WEB_PORT", raising=False)
    out = planted / "bundle.tgz"
    rc = main(["diag", "bundle", "--config", str(planted / "edge.yaml"), "--output", str(out),
               "--log-file", str(planted / "edge.log"), "--json"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["path"] == str(out)
    with tarfile.open(out) as tar:
        files = {
            m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
    assert set(files) >= {"logs.txt", "config.json", "health.json", "store.json",
                          "versions.json", "doctor.txt", "environment.txt"}  # fmt: skip
    for name, raw in files.items():
        for where, secret in SECRETS.items():
            assert secret.encode() not in raw, f"{where} secret leaked into {name}"
        assert b"FACE-PIXELS" not in raw and not name.endswith((".jpg", ".png"))
    store = json.loads(files["store.json"])
    assert store["tables"]["events"] == 3 and store["tables"]["outbox"] == 3
    (hub,) = store["outbox"]
    assert hub["unsent"] == 2 and hub["oldest_unsent_age_s"] >= 0
    assert hub["parked"] == 1
    (parked,) = hub["parked_recent"]
    assert parked["seq"] == 2 and parked["kind"] == "alarm"
    assert parked["reason"] == "400: plate_no is not a plate"
    versions = json.loads(files["versions.json"])
    assert versions["edge"] and versions["python"] and "pydantic" in versions["libraries"]
    assert "mqtt: connect to mqtt://***@127.0.0.1 failed" in files["logs.txt"].decode()
    assert b"ancient-line" not in files["logs.txt"]  # only the last --days (3)
    assert b"EDGE_MQTT_PASSWORD=***" in files["environment.txt"]
    config = json.loads(files["config.json"])
    assert config["uplinks"]["hub"]["type"] == "mqtt"
    assert "FAIL  daemon" in files["doctor.txt"].decode()
    assert os.stat(out).st_mode & 0o077 == 0  # the archive is the maintainer's only
