"""The composition root: what every driver, pipeline, uplink and API handler is given."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.camera.session import Cameras

if TYPE_CHECKING:  # plugins import this module while the config models are being built
    from edge.config import EdgeConfig
    from edge.cpu import CpuPool
    from edge.devices import DeviceTracker
    from edge.flow import Flow
    from edge.hub import Hub
    from edge.rules.reactors import Thresholds
    from edge.store import Store
    from edge.supervisor import Supervisor

HealthProvider = Callable[[], dict[str, Any]]


@dataclass
class Runtime:
    config: EdgeConfig
    store: Store
    hub: Hub
    supervisor: Supervisor
    cpu: CpuPool
    devices: DeviceTracker
    flow: Flow  # where producers hand events: commit, reactors, live hub
    thresholds: Thresholds  # pollers add their devices' threshold engines here
    started_at: float = field(default_factory=time.time)
    health_providers: dict[str, HealthProvider] = field(default_factory=dict)
    # Per-instance services by name: `device.<id>` (drivers; gates are found here),
    # `uplink.<name>`, `buses`, `cameras`.
    services: dict[str, Any] = field(default_factory=dict)
    cameras: Cameras = field(default_factory=Cameras)
    """One shared session per camera (`rt.cameras.session(id)`): analysis, live view and
    GB/T 28181 plays subscribe to it; none opens a connection of its own."""
    config_path: Path | None = None
    """The file `config` was loaded from (`edge run --config`), so the installer's view can
    check it again as `edge config check` does; None for a config built in memory."""

    def add_health(self, name: str, provider: HealthProvider) -> None:
        """Subsystems add a section to /api/health (cameras, uplinks, buses, ...)."""
        self.health_providers[name] = provider


def compose(
    config: EdgeConfig, store: Store, hub: Hub, supervisor: Supervisor, cpu: CpuPool
) -> Runtime:
    """The runtime with its flow and the rules' reactors installed, as the daemon (and a
    test standing in for it) uses it. The caller runs `rt.flow.run` under its supervisor."""
    from edge.devices import DeviceTracker
    from edge.flow import Flow
    from edge.rules import reactors

    flow = Flow(store, hub)
    rt = Runtime(
        config=config,
        store=store,
        hub=hub,
        supervisor=supervisor,
        cpu=cpu,
        devices=DeviceTracker(flow),
        flow=flow,
        thresholds=reactors.Thresholds(),
    )
    rt.add_health("flow", flow.health)
    reactors.install(rt)
    return rt
