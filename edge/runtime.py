"""The composition root: what every driver, pipeline, uplink and API handler is given."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge.camera.session import Cameras

if TYPE_CHECKING:  # plugins import this module while the config models are being built
    from edge.config import EdgeConfig
    from edge.cpu import CpuPool
    from edge.devices import DeviceTracker
    from edge.hub import Hub
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
    started_at: float = field(default_factory=time.time)
    health_providers: dict[str, HealthProvider] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    cameras: Cameras = field(default_factory=Cameras)
    """One shared session per camera (`rt.cameras.session(id)`): analysis, live view and
    GB/T 28181 plays subscribe to it; none opens a connection of its own."""

    def add_health(self, name: str, provider: HealthProvider) -> None:
        """Subsystems add a section to /api/health (cameras, uplinks, buses, ...)."""
        self.health_providers[name] = provider
