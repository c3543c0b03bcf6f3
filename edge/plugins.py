"""What a plugin module declares, and how one is loaded.

A plugin module defines `CONFIG` (a pydantic model with `type: Literal["name"]`)
and its implementation under the attribute its kind names (`DRIVER`, `UPLINK`,
`SOURCE`). A module in a plugin folder without them is an error, not skipped:
a driver that silently vanished from the `devices:` union would only show as
"unknown type" in a config that used to work. Which modules are plugins, and
when they are imported, is `edge.registry`'s job.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel


class PluginError(TypeError):
    """A plugin module does not declare what its kind requires."""


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
        raise PluginError(f"{model.__name__} needs `type: Literal['name']`")
    return str(get_args(ann)[0])


def load_plugin(module_name: str, impl_attr: str) -> Plugin:
    module = importlib.import_module(module_name)
    config = getattr(module, "CONFIG", None)
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        raise PluginError(f"plugin module {module_name} defines no CONFIG model")
    impl = getattr(module, impl_attr, None)
    if impl is None:
        raise PluginError(f"plugin module {module_name} defines no {impl_attr}")
    return Plugin(_type_literal(config), config, impl, module_name)


def load_plugins(module_names: list[str], impl_attr: str) -> dict[str, Plugin]:
    """Plugins by `type`, in the order given; a `type` declared twice is an error."""
    found: dict[str, Plugin] = {}
    for name in module_names:
        plugin = load_plugin(name, impl_attr)
        if plugin.type_name in found:
            first = found[plugin.type_name].module
            raise PluginError(f"type {plugin.type_name!r} declared twice: {first}, {name}")
        found[plugin.type_name] = plugin
    return found
