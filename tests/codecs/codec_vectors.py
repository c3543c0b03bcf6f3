"""The shared protocol vectors and what a poller does with a frame, for every codec test here.

A plain module rather than conftest: the vectors parametrise tests at collection time, which a
fixture cannot do. Named so it does not clash with helpers of other test folders (test folders
are not packages and share one import namespace).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge.codecs import cjt188, dlt645
from edge.codecs.errors import BcdError, ChecksumError, ProtocolError

Entry = dict[str, Any]


def shared_dir() -> Path:
    """``shared/`` sits beside the clone (``/work/main/../shared`` here, ``../shared`` in CI)."""
    return Path(__file__).resolve().parents[2].parent / "shared"


def load_vectors(name: str) -> list[Entry]:
    """Entries of ``shared/protocols/vectors/<name>``."""
    path = shared_dir() / "protocols" / "vectors" / name
    entries: list[Entry] = json.loads(path.read_text(encoding="utf-8"))
    return entries


def rejects(entry: Entry) -> bool:
    """Whether the vector is a frame the codec must refuse."""
    return str(entry["decoded"].get("expect", "")).startswith("reject")


def expected_error(entry: Entry) -> type[ProtocolError]:
    """The narrowest error a rejected vector's ``expect: reject: <reason>`` promises."""
    reason = str(entry["decoded"]["expect"]).split(":", 1)[-1].lower()
    if "checksum" in reason:
        return ChecksumError
    if "bcd" in reason:
        return BcdError
    return ProtocolError


def decode_dlt645(raw: bytes) -> object:
    """Everything a poller would do with the bytes: frame, reply/request, typed values."""
    frame = dlt645.parse(raw)
    if not frame.is_reply:
        return dlt645.decode_request(frame)
    reply = dlt645.decode_reply(frame)
    if isinstance(reply, dlt645.DataReply) and dlt645.lookup(reply.di, reply.version):
        return dlt645.decode_data(reply.di, reply.payload, reply.version)
    return reply


def decode_cjt188(raw: bytes) -> object:
    """Frame, then reply or request (901F bodies are typed by ``decode_reply``)."""
    frame = cjt188.parse(raw)
    return cjt188.decode_reply(frame) if frame.is_reply else cjt188.decode_request(frame)
