"""The root of the YAML file. One module per section; this one only assembles them."""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any, Literal

from pydantic import Field, create_model, model_validator

from edge.config.access import AccessConfig
from edge.config.buses import BusConfig
from edge.config.cameras import CameraConfig
from edge.config.logging import LoggingConfig
from edge.config.scene import HOLDABLE_DEVICES
from edge.config.site import SiteConfig
from edge.config.storage import StorageConfig
from edge.config.types import Key, KeyProblems, Section
from edge.config.vision import VisionConfig
from edge.config.web import WebConfig

CONFIG_VERSION = 1


def _union(plugins: dict[str, Any], what: str, tag: str = "type") -> Any:
    models = [p.config for p in plugins.values()]
    if not models:
        return Annotated[dict[str, Any], Field(description=f"No {what} types are installed.")]
    if len(models) == 1:
        return models[0]
    return Annotated[functools.reduce(operator.or_, models), Field(discriminator=tag)]


class EdgeConfig(Section):
    """compound-edge configuration (one YAML file).

    This class types the sections; `devices`, `cameras` and `uplinks` are validated by the
    model `config_model()` builds from the plugin registry when called (a subclass of this
    one, so what it returns is an `EdgeConfig`). Validate with `config_model()`.
    """

    config_version: Literal[1] = Field(
        title="Config version", description="Bumped when the file's shape changes; now 1."
    )
    site: SiteConfig = Field(title="Site", description="The compound and its GB/T 28181 IDs.")
    storage: StorageConfig = Field(
        title="Storage", description="Where events are kept, and how much disk they may take."
    )
    buses: list[BusConfig] = Field(
        default_factory=list,
        title="Buses",
        description="RS-485 lines and Modbus TCP links; devices name theirs by id.",
    )
    devices: list[Any] = Field(
        default_factory=list,
        title="Devices",
        description="Meters, sensors and gates; `type` picks the driver.",
    )
    cameras: list[CameraConfig] = Field(
        default_factory=list, title="Cameras", description="Video sources and what to analyse."
    )
    vision: VisionConfig = Field(
        default_factory=VisionConfig,
        title="Vision",
        description="Models and thresholds for face and plate recognition.",
    )
    access: AccessConfig = Field(
        default_factory=AccessConfig, title="Access", description="Who may pass the gates."
    )
    uplinks: dict[str, Any] = Field(
        default_factory=dict,
        title="Uplinks",
        description="Upstream destinations by name; `type` picks the protocol.",
    )
    web: WebConfig = Field(
        default_factory=WebConfig, title="Web", description="Address of the local API and page."
    )
    logging: LoggingConfig = Field(
        default_factory=LoggingConfig, title="Logging", description="Log format and levels."
    )

    @model_validator(mode="after")
    def _references(self) -> EdgeConfig:
        problems = [
            *_duplicates("buses", [b.id for b in self.buses], "bus id"),
            *_duplicates("devices", [getattr(d, "id", None) for d in self.devices], "device id"),
            *_duplicates("cameras", [c.id for c in self.cameras], "camera id"),
        ]
        bus_ids = [b.id for b in self.buses]
        channels: dict[str, int] = {}
        for i, cam in enumerate(self.cameras):
            if cam.gb_channel_id is None:
                continue
            if cam.gb_channel_id in channels:
                problems.append(
                    (
                        ("cameras", i, "gb_channel_id"),
                        f"duplicate gb_channel_id {cam.gb_channel_id} "
                        f"(also cameras[{channels[cam.gb_channel_id]}])",
                    )
                )
            channels.setdefault(cam.gb_channel_id, i)
        for i, dev in enumerate(self.devices):
            bus = getattr(dev, "bus", None)
            if bus is not None and bus not in bus_ids:
                problems.append(
                    (("devices", i, "bus"), f"no bus with id {bus!r} (known: {bus_ids})")
                )
        problems += _rule_relays(self)
        if problems:
            raise KeyProblems(problems)
        return self


@functools.cache
def config_model() -> type[EdgeConfig]:
    """The config model with the `devices:`, `cameras:` and `uplinks:` unions of the installed
    plugins (camera kinds: the table in `edge.camera.kinds`), so a new type needs no edit here."""
    from edge.registry import registry

    reg = registry()
    fields: dict[str, Any] = {}
    for name, plugins, what, tag in (
        ("devices", reg.drivers, "device", "type"),
        ("cameras", reg.cameras, "camera", "kind"),
        ("uplinks", reg.uplinks, "uplink", "type"),
    ):
        info = EdgeConfig.model_fields[name]
        union = _union(dict(plugins), what, tag)
        ann = dict[str, union] if name == "uplinks" else list[union]  # type: ignore[valid-type]
        fields[name] = (
            ann,
            Field(
                default_factory=info.default_factory,  # type: ignore[arg-type]
                title=info.title,
                description=info.description,
            ),
        )
    model: type[EdgeConfig] = create_model(
        "EdgeConfig", __base__=EdgeConfig, __doc__=EdgeConfig.__doc__, **fields
    )
    return model


def _rule_relays(cfg: EdgeConfig) -> list[tuple[Key, str]]:
    """A scene rule's relay must be a device that can be held on: a typo would otherwise
    show only when the e-bike is in the lift and nothing holds the doors."""
    types = {getattr(d, "id", None): getattr(d, "type", "?") for d in cfg.devices}
    holdable = sorted(str(i) for i, t in types.items() if t in HOLDABLE_DEVICES)
    out: list[tuple[Key, str]] = []
    for i, cam in enumerate(cfg.cameras):
        first: dict[str, int] = {}
        for j, rule in enumerate(cam.rules):
            relay = getattr(rule, "relay", None)
            key: Key = ("cameras", i, "rules", j, "relay")
            if relay is not None and first.setdefault(relay, j) != j:
                # a relay is held per camera: one rule's clear would release the other's hold
                out.append((key, f"{relay} is also held by rules[{first[relay]}] of this camera"))
            if relay is None or types.get(relay) in HOLDABLE_DEVICES:
                continue
            if relay in types:
                why = f"{relay} is a {types[relay]} device, which cannot be held on"
            else:
                why = f"no modbus_relay device {relay!r}"
            out.append((key, f"{why} (modbus_relay devices: {holdable})"))
    return out


def _duplicates(section: str, ids: list[str | None], what: str) -> list[tuple[Key, str]]:
    """Each repeated id, reported at the repeat's own `id:` key."""
    first: dict[str, int] = {}
    out: list[tuple[Key, str]] = []
    for i, ident in enumerate(ids):
        if ident is None:
            continue
        if ident in first:
            out.append(
                ((section, i, "id"), f"duplicate {what} {ident!r} (also {section}[{first[ident]}])")
            )
        else:
            first[ident] = i
    return out
