"""JSON Schema files for the hub's messages, generated from `wire.py` (the envelopes)
and `edge/payloads.py` (each kind's `data`, as `data-{kind}.json`), so the
documentation cannot drift from the code: a test compares the files, and another
validates every example in docs/uplink.md against them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from edge.payloads import PAYLOADS
from edge.uplinks.mqtt.wire import MESSAGES, SCHEMA

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def _data_schema(kind: str, cls: type) -> dict[str, Any]:
    """A payload dataclass as the `data` of an event of `kind`. Its `extra` holds the
    keys the type does not know, written back beside the known ones: so the object
    allows more properties rather than having an `extra` one."""
    doc = TypeAdapter(cls).json_schema(mode="serialization")
    doc["properties"].pop("extra", None)
    doc["additionalProperties"] = True
    doc["title"] = f"data of a {kind} event"
    doc["description"] = (
        (doc.get("description") or "").strip()
        + " A destination's data policy may drop or mask fields before sending."
    ).strip()
    return doc


def render() -> dict[str, str]:
    """File name → JSON text, for every message model and every kind's `data`."""
    docs: dict[str, dict[str, Any]] = {
        stem: model.model_json_schema(by_alias=True, mode="serialization")
        for stem, model in MESSAGES.items()
    }
    for kind, cls in PAYLOADS.items():
        docs[f"data-{kind}"] = _data_schema(kind, cls)
    out = {}
    for stem, doc in docs.items():
        doc = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://compound-edge.local/schemas/{SCHEMA}/{stem}.json",
            **doc,
        }
        out[f"{stem}.json"] = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    return out


def stale(directory: Path = SCHEMA_DIR) -> list[str]:
    """Files missing or different from what the models generate."""
    return [
        name
        for name, text in render().items()
        if not (directory / name).is_file() or (directory / name).read_text("utf-8") != text
    ]


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    changed = stale(directory)
    for name, text in render().items():
        if name in changed:
            (directory / name).write_text(text, "utf-8")
    return changed
