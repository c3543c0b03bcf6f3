"""The wire format: what the encoder emits matches the documented schemas, and the
schema files in docs/ are the ones the models generate."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from edge.events import Event, ImageRef
from edge.uplinks.link import files_in
from edge.uplinks.mqtt import schemas
from edge.uplinks.mqtt.config import MqttUplinkConfig
from edge.uplinks.mqtt.encode import Encoder
from edge.uplinks.mqtt.wire import EventMessage, ImageMessage
from edge.uplinks.policy import DataPolicy, Policy, mask_value

SITE = "32010600002160000001"
CST = timezone(timedelta(hours=8))


def event(
    data: dict[str, object], images: list[dict[str, object]] | None = None, kind: str = "plate"
) -> Event:
    return Event(
        kind,
        "cam-gate",
        dict(data),
        tuple(ImageRef(**im) for im in images or ()),  # type: ignore[arg-type]
        datetime.fromtimestamp(1_760_000_000.123, UTC),
        "0190f6a4-1111-7000-8000-000000000001",
    )


def encoder(tmp_path: Path, **cfg: object) -> Encoder:
    config = MqttUplinkConfig.model_validate({"type": "mqtt", "url": "mqtt://h:1883", **cfg})
    return Encoder(config, f"compound/{SITE}", SITE, CST, files_in(tmp_path))


def test_schema_files_are_up_to_date() -> None:
    assert schemas.stale() == [], "run scripts/gen-schemas"


def test_event_message_matches_its_schema(tmp_path: Path) -> None:
    out = encoder(tmp_path).encode(7, event({"plate": "苏A12345", "colour": "blue"}))
    ((topic, payload),) = out.messages
    assert topic == f"compound/{SITE}/events/plate"
    msg = EventMessage.model_validate_json(payload)
    assert (msg.seq, msg.site, msg.kind) == (7, SITE, "plate")
    assert msg.ts == "2025-10-09T16:53:20.123+08:00"
    assert json.loads(payload)["schema"] == "compound-edge/uplink/1"


def test_images_are_sent_before_the_event_or_referenced_when_too_large(tmp_path: Path) -> None:
    small = tmp_path / "images" / "a.jpg"
    small.parent.mkdir()
    small.write_bytes(b"\xff\xd8small")
    images = [
        {
            "role": "plate_crop",
            "path": "images/a.jpg",
            "sha256": "ab",
            "size_bytes": 7,
            "content_type": "image/jpeg",
        },
        {
            "role": "scene",
            "path": "images/big.jpg",
            "sha256": "cd",
            "size_bytes": 900_000,
            "content_type": "image/jpeg",
        },
        {
            "role": "scene",
            "path": "images/gone.jpg",
            "sha256": "ef",
            "size_bytes": 10,
            "content_type": "image/jpeg",
        },
    ]
    out = encoder(tmp_path, images="send").encode(3, event({"plate": "x"}, images))
    assert [t.split("/")[2] for t, _ in out.messages] == ["images", "events"]
    image = ImageMessage.model_validate_json(out.messages[0][1])
    assert base64.b64decode(image.data.b64) == b"\xff\xd8small" and image.seq == 3
    listed = EventMessage.model_validate_json(out.messages[1][1])
    assert [(i.topic is not None, i.omitted) for i in listed.images] == [
        (True, None),
        (False, "too_large"),
        (False, "missing"),
    ]
    referenced = encoder(tmp_path, images="reference").encode(3, event({}, images))
    assert len(referenced.messages) == 1
    assert len(EventMessage.model_validate_json(referenced.messages[0][1]).images) == 3
    none = encoder(tmp_path, images="none").encode(3, event({}, images))
    assert EventMessage.model_validate_json(none.messages[0][1]).images == []


def test_an_oversized_event_is_truncated_not_stuck(tmp_path: Path) -> None:
    enc = encoder(tmp_path, max_payload_bytes=4096)
    out = enc.encode(9, event({"blob": "x" * 10_000}))
    msg = EventMessage.model_validate_json(out.messages[0][1])
    assert msg.truncated and msg.data == {"truncated_bytes": 10_011}  # {"blob":"x…x"}
    assert len(out.messages[0][1]) <= 4096 and enc.truncated == 1


def test_readings_go_to_their_own_topic(tmp_path: Path) -> None:
    ev = event({"device": "m1", "points": []}, kind="reading")
    assert encoder(tmp_path).encode(1, ev).messages[0][0] == f"compound/{SITE}/readings"


@pytest.mark.parametrize(
    ("value", "keep", "masked"),
    [
        ("320106199001011234", 4, "**************1234"),
        ("1234", 4, "**34"),  # a short value never shows whole
        (13912345678, 4, "*******5678"),
        (None, 4, None),
        (["ab12345", "cd67890"], 2, ["*****45", "*****90"]),
    ],
)
def test_mask_value(value: object, keep: int, masked: object) -> None:
    assert mask_value(value, keep) == masked


def test_policy_drops_masks_and_withholds_image_roles() -> None:
    policy = Policy(
        DataPolicy.model_validate(
            {
                "drop": ["data.embedding", "data.people.*.photo"],
                "mask": [{"field": "data.people.*.id_number", "keep_last": 4}],
                "drop_image_roles": ["face_crop"],
            }
        )
    )
    image = {"path": "images/x.jpg", "sha256": "ab", "size_bytes": 1}
    record = event(
        {
            "embedding": [1, 2],
            "people": [{"id_number": "110101198001010011", "photo": "b64"}, {"name": "x"}],
        },
        [{"role": "face_crop", **image}, {"role": "scene", **image}],
    )
    out = policy.apply(record)
    assert out.data == {"people": [{"id_number": "**************0011"}, {"name": "x"}]}
    assert [im.role for im in out.images] == ["scene"]


def test_an_unknown_image_role_in_a_policy_is_a_config_error_at_its_line() -> None:
    from edge.config.loader import ConfigError, parse_config

    text = """config_version: 1
site: {name: T, site_id: "32010600002160000001", gateway_id: "32010600001180000001"}
uplinks:
  hub:
    type: mqtt
    policy:
      drop_image_roles:
        - scene
        - crop
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text, "edge.yaml", {})
    assert "edge.yaml:9" in str(err.value) and "face_crop" in str(err.value)


def test_policy_paths_must_start_at_data() -> None:
    with pytest.raises(ValueError, match=r"data\.<field>"):
        DataPolicy.model_validate({"drop": ["id"]})


def test_config_refuses_unsafe_command_settings(tmp_path: Path) -> None:
    base = {"type": "mqtt", "url": "mqtt://h:1883"}
    with pytest.raises(ValueError, match="secret of 16"):
        MqttUplinkConfig.model_validate({**base, "commands": {"secret": "short"}})
    with pytest.raises(ValueError, match="needs an mqtts:// url"):
        MqttUplinkConfig.model_validate({**base, "commands": {"auth": "mtls"}})
    secret = tmp_path / "hmac"
    secret.write_text("a-long-enough-shared-secret\n")
    cfg = MqttUplinkConfig.model_validate({**base, "commands": {"secret_file": str(secret)}})
    assert cfg.commands.secret is not None
    assert cfg.commands.secret.get_secret_value() == "a-long-enough-shared-secret"
    with pytest.raises(ValueError, match="mqtt://host:port"):
        MqttUplinkConfig.model_validate({"type": "mqtt", "url": "http://h"})
