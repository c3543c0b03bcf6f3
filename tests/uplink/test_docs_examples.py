"""docs/uplink.md's examples are valid against the JSON Schemas in docs/schemas/, the single
source of field names (generated from wire.py and edge/payloads.py; test_wire checks they are
current). Every JSON example must name its schema, so none goes unchecked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "uplink.md"
SCHEMAS = ROOT / "docs" / "schemas"
BLOCK = re.compile(r"(?:<!-- schema: (?P<schema>[\w.-]+) -->\n)?```json\n(?P<body>.*?)```", re.S)


def examples() -> list[tuple[str | None, str]]:
    return [(m["schema"], m["body"]) for m in BLOCK.finditer(DOC.read_text("utf-8"))]


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text("utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        schema["$id"], Resource.from_contents(schema)
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def check(name: str, doc: Any) -> None:
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator(name).iter_errors(doc)
    ]
    assert not errors, f"{name}: {errors}"


def test_every_json_example_names_its_schema() -> None:
    found = examples()
    assert len(found) >= 6
    assert [s for s, _ in found if s is None] == [], "a JSON example without <!-- schema: … -->"


@pytest.mark.parametrize(("schema", "body"), examples())
def test_the_example_is_valid(schema: str, body: str) -> None:
    doc = json.loads(body)
    check(schema, doc)
    if schema == "event.json":  # and its data against its kind's payload
        check(f"data-{doc['kind']}.json", doc["data"])
    if schema == "command-envelope.json":  # and the signed body inside it
        inner = json.loads(doc["body"])
        check("command-body.json", inner)
        check(f"command-{inner['name']}-args.json", inner["args"])


def test_the_schemas_catch_the_old_spellings() -> None:
    """The documented field names are the payload's: `colour`, roles like `plate_crop`."""
    event = json.loads(examples()[0][1])
    wrong_role = {**event, "images": [{**event["images"][0], "role": "plate"}]}
    with pytest.raises(AssertionError, match="role"):
        check("event.json", wrong_role)
    assert "colour" in json.loads((SCHEMAS / "data-plate.json").read_text())["properties"]
    assert "color" not in json.loads((SCHEMAS / "data-plate.json").read_text())["properties"]
