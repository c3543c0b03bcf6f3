"""Discovery of plugins that declare `CONFIG` (a model with a `type` literal).

Drivers and uplinks are one file each; the YAML union is assembled from
whatever is present, so adding one never means editing a list somewhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel


@dataclass(frozen=True)
class Plugin:
    type_name: str
    config: type[BaseModel]
    impl: Any
    module: str


def _type_literal(model: type[BaseModel]) -> str:
    field = model.model_fields.get("type")
    ann = field.annotation if field else None
    if ann is None or get_origin(ann) is not Literal or len(get_args(ann)) != 1:
        raise TypeError(f"{model.__name__} needs `type: Literal['name']`")
    return str(get_args(ann)[0])


def discover(package: ModuleType, impl_attr: str) -> dict[str, Plugin]:
    found: dict[str, Plugin] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        config = getattr(module, "CONFIG", None)
        if config is None:
            continue
        type_name = _type_literal(config)
        if type_name in found:
            raise TypeError(
                f"type {type_name!r} declared twice: {found[type_name].module}, {module}"
            )
        found[type_name] = Plugin(
            type_name, config, getattr(module, impl_attr, None), module.__name__
        )
    return found
