"""Pure pieces: credential redaction, backoff, the multipart parser, config models."""

from __future__ import annotations

import random

import pytest
from pydantic import TypeAdapter, ValidationError

from edge.backoff import Backoff
from edge.camera.mjpeg_parser import MjpegParseError, MjpegParser
from edge.camera.redact import inject_credentials, redact_url, scrub, split_credentials
from edge.config.cameras import CameraConfig, FileCamera, RtspCamera

JPEG_A = b"\xff\xd8" + b"A" * 100 + b"--myboundary inside the picture" + b"\xff\xd9"
JPEG_B = b"\xff\xd8" + b"B" * 50 + b"\xff\xd9"


def test_credentials_are_injected_encoded_and_redacted() -> None:
    url = inject_credentials("rtsp://10.0.0.5:554/Streaming/101", "admin", "p@ss:w/rd")
    assert url == "rtsp://admin:p%40ss%3Aw%2Frd@10.0.0.5:554/Streaming/101"
    assert redact_url(url) == "rtsp://***@10.0.0.5:554/Streaming/101"
    assert split_credentials(url) == ("rtsp://10.0.0.5:554/Streaming/101", "admin", "p@ss:w/rd")
    snap = "http://cam/cgi-bin/snapshot.cgi?loginuse=admin&loginpas=secret&chn=1"
    assert "secret" not in redact_url(snap)
    message = f"Server returned 401 for '{url}' (p@ss:w/rd)"
    assert "p@ss" not in scrub(message, ["p@ss:w/rd"])
    assert "admin" not in scrub(message, [])


def test_backoff_grows_capped_with_jitter() -> None:
    b = Backoff(1.0, 8.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(8)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(4.0 <= d <= 8.0 for d in delays[4:])  # capped
    assert len({round(d, 6) for d in delays[4:]}) > 1  # jittered
    b.reset()
    assert b.next_delay() <= 1.0


def part(body: bytes, *, length: bool = True, marker: bytes = b"--myboundary") -> bytes:
    head = marker + b"\r\nContent-Type: image/jpeg\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body + b"\r\n"


@pytest.mark.parametrize("length", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_mjpeg_parser_any_chunking(length: bool, chunk: int) -> None:
    stream = part(JPEG_A, length=length) + part(JPEG_B, length=length) + b"--myboundary\r\n"
    parser = MjpegParser("myboundary")
    got: list[bytes] = []
    for i in range(0, len(stream), chunk):
        got += parser.feed(stream[i : i + chunk])
    if length:
        assert got == [JPEG_A, JPEG_B]
    else:  # without a length, a boundary inside the picture would split it
        assert got[-1] == JPEG_B


def test_mjpeg_parser_tolerates_camera_quirks() -> None:
    # boundary declared with its dashes; bare LF line ends; a non-JPEG part skipped
    parser = MjpegParser('"--frame"')
    text_part = b"--frame\nContent-Type: text/plain\n\nhello\n"
    jpeg_part = b"--frame\nContent-Type: image/jpeg\nContent-Length: %d\n\n" % len(JPEG_B)
    assert parser.feed(text_part + jpeg_part + JPEG_B + b"\n") == [JPEG_B]
    assert parser.parts_skipped == 1


def test_mjpeg_parser_bounds_memory() -> None:
    parser = MjpegParser("b", max_part_bytes=1000)
    parser.feed(b"--b\r\n\r\n")
    with pytest.raises(MjpegParseError):
        parser.feed(b"x" * 2000)


def test_camera_config_kinds_and_secrets() -> None:
    adapter: TypeAdapter[CameraConfig] = TypeAdapter(CameraConfig)
    cam = adapter.validate_python(
        {
            "id": "north-in",
            "kind": "rtsp",
            "url": "rtsp://10.0.0.5/Streaming/101",
            "username": "admin",
            "password": "hunter2",
            "role": "vehicle_gate",
            "pipelines": ["plates"],
            "reconnect_max_s": "1m",
        }
    )
    assert isinstance(cam, RtspCamera)
    assert cam.reconnect_max_s == 60.0
    assert "hunter2" not in repr(cam) and "hunter2" not in cam.model_dump_json()
    assert isinstance(
        adapter.validate_python({"id": "demo", "kind": "file", "path": "/tmp/x"}), FileCamera
    )
    bad = [
        {"id": "x", "kind": "onvif", "url": "rtsp://a"},  # unknown kind
        {"id": "x", "kind": "rtsp", "url": "http://a"},  # wrong scheme
        {"id": "x", "kind": "rtsp", "url": "rtsp://a", "fps": 3},  # extra key
        {
            "id": "x",
            "kind": "mjpeg",
            "url": "http://a",
            "roi": [{"points": [[0, 0], [2, 0], [1, 1]]}],
        },
        {"id": "x", "kind": "rtsp", "url": "rtsp://a", "reconnect_min_s": 10, "reconnect_max_s": 5},
        {"id": "x", "kind": "rtsp", "url": "rtsp://a", "pipelines": ["cars"]},
    ]
    for entry in bad:
        with pytest.raises(ValidationError):
            adapter.validate_python(entry)


def test_every_camera_field_is_documented() -> None:
    schema = TypeAdapter(CameraConfig).json_schema()
    for name, model in schema["$defs"].items():
        for field, spec in model.get("properties", {}).items():
            assert "title" in spec, f"{name}.{field} has no title"
