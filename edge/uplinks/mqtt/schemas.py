"""JSON Schema files for the hub's messages, generated from `wire.py` so the
documentation cannot drift from the code (a test compares them)."""

from __future__ import annotations

import json
from pathlib import Path

from edge.uplinks.mqtt.wire import MESSAGES, SCHEMA

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def render() -> dict[str, str]:
    """File name → JSON text, for every message model."""
    out = {}
    for stem, model in MESSAGES.items():
        doc = model.model_json_schema(by_alias=True, mode="serialization")
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
