"""The plugin registry: built when called, the same whatever was imported before.

Which modules are plugins is decided here, by folder, without importing them:
  drivers   every module in `drivers/`              (CONFIG + DRIVER)
  uplinks   every package in `edge/uplinks/`        (CONFIG + UPLINK); plain modules there
            (`outbox`, `policy`, the link kit) are what uplinks share, not plugins
  cameras   the kinds in `edge.camera.kinds.CAMERA_KINDS`, one table (model + openers)
  cli       every module in `edge/cli/` but `main`  (`register(subparsers)`), imported
            only when asked, so `edge run` does not load the vision tools
Plugins are imported when the registry is first built (`registry()`), never as a
side effect of importing a package, so a plugin module imported first cannot
leave itself out (it used to: `drivers.dlt645` before `drivers` lost `dlt645`).
The config model's unions are built from this (`edge.config.config_model()`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any

from edge.plugins import Plugin, PluginError, load_plugins

# Camera kinds come from one table (the daemon and `edge camera probe` dispatch from it);
# their entries are told apart by `kind:`, not `type:`.
CAMERA_TABLE = "edge.camera.kinds"


@dataclass(frozen=True)
class CliGroup:
    name: str
    module: str

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def register(self, sub: Any) -> None:
        register: Callable[[Any], None] | None = getattr(self.load(), "register", None)
        if register is None:
            raise PluginError(f"CLI module {self.module} defines no register(subparsers)")
        register(sub)


@dataclass(frozen=True)
class Registry:
    drivers: Mapping[str, Plugin]
    uplinks: Mapping[str, Plugin]
    cameras: Mapping[str, Plugin]
    cli: Mapping[str, CliGroup]

    def describe(self) -> dict[str, list[list[str]]]:
        """Comparable summary: (type, module) per kind (tests compare registries with it)."""
        return {
            "drivers": [[k, p.module] for k, p in self.drivers.items()],
            "uplinks": [[k, p.module] for k, p in self.uplinks.items()],
            "cameras": [[k, p.module] for k, p in self.cameras.items()],
            "cli": [[k, g.module] for k, g in self.cli.items()],
        }


def _submodules(package: str, *, packages_only: bool = False) -> list[str]:
    """Module names in a package folder, sorted, found without importing them."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(f"plugin folder {package} is not a package")
    infos = pkgutil.iter_modules(list(spec.submodule_search_locations))
    return sorted(
        f"{package}.{i.name}"
        for i in infos
        if not i.name.startswith("_") and (i.ispkg or not packages_only)
    )


def plugin_modules() -> dict[str, list[str]]:
    return {
        "drivers": _submodules("drivers"),
        "uplinks": _submodules("edge.uplinks", packages_only=True),
        "cameras": [CAMERA_TABLE],
        "cli": [m for m in _submodules("edge.cli") if m != "edge.cli.main"],
    }


def build_registry() -> Registry:
    mods = plugin_modules()
    return Registry(
        drivers=MappingProxyType(load_plugins(mods["drivers"], "DRIVER")),
        uplinks=MappingProxyType(load_plugins(mods["uplinks"], "UPLINK")),
        cameras=MappingProxyType(_camera_kinds()),
        cli=MappingProxyType(
            {m.rsplit(".", 1)[1]: CliGroup(m.rsplit(".", 1)[1], m) for m in mods["cli"]}
        ),
    )


def _camera_kinds() -> dict[str, Plugin]:
    from edge.camera.kinds import CAMERA_KINDS

    return {
        name: Plugin(name, kind.config_model(), kind, CAMERA_TABLE)
        for name, kind in CAMERA_KINDS.items()
    }


@functools.cache
def registry() -> Registry:
    """The process's registry, built on first use."""
    return build_registry()
