"""The JSON Schema for editors, and key lookup for 'did you mean' hints."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from edge.config.model import config_model
from edge.config.yamlmarks import Path_


def json_schema() -> str:
    schema = config_model().model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://compound-edge.local/schema/config-v1.json"
    return json.dumps(schema, ensure_ascii=False, indent=2)


def known_keys(path: Path_, data: Any) -> list[str]:
    model = _model_at(config_model(), path, data)
    return list(model.model_fields) if model else []


def _model_at(model: Any, path: Path_, data: Any) -> type[BaseModel] | None:
    node = data
    ann: Any = model
    for part in path:
        ann = _pick(ann, node)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            if field is None:
                return None
            ann = field.annotation
        else:
            args = get_args(ann)
            if get_origin(ann) in (list, dict) and args:
                ann = args[-1]
            else:
                return None
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (node[part] if isinstance(node, list) and isinstance(part, int) else None)
        )
    ann = _pick(ann, node)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _pick(ann: Any, node: Any) -> Any:
    """Resolve Optional/Annotated/discriminated unions against the data at hand."""
    while True:
        origin = get_origin(ann)
        if origin is typing.Annotated:
            ann = get_args(ann)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(ann) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            tag = node.get("type") if isinstance(node, dict) else None
            chosen = next(
                (
                    m
                    for m in models
                    if tag is not None and tag in get_args(m.model_fields["type"].annotation)
                    if "type" in m.model_fields
                ),
                models[0] if len(models) == 1 else None,
            )
            if chosen is None:
                return members[0] if len(members) == 1 else None
            ann = chosen
            continue
        return ann
