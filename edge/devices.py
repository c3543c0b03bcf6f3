"""Device availability as Home Assistant's coordinator does it: log once on the
way down, once on recovery, never on every failed poll; record every change.
The live flag changes only after the store has the change, so what the API
shows is never ahead of what was recorded."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from edge.flow import Flow

log = logging.getLogger(__name__)


@dataclass
class DeviceStatus:
    device: str
    available: bool | None = None
    last_error: str | None = None
    last_success: float | None = None
    failures: int = 0
    polls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "available": self.available,
            "last_error": self.last_error,
            "last_success": self.last_success,
            "failures": self.failures,
            "polls": self.polls,
            **self.extra,
        }


class DeviceTracker:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.devices: dict[str, DeviceStatus] = {}

    def status(self, device: str) -> DeviceStatus:
        return self.devices.setdefault(device, DeviceStatus(device))

    async def success(self, device: str, **extra: Any) -> None:
        st = self.status(device)
        st.polls += 1
        st.last_success = time.time()
        st.extra.update(extra)
        if st.available is not True:
            if st.available is False:
                log.info("device %s is back after %d failed attempt(s)", device, st.failures)
            await self.flow.device_state(device, True, None, st.extra)
            st.available, st.failures, st.last_error = True, 0, None

    async def failure(self, device: str, error: str) -> None:
        st = self.status(device)
        st.polls += 1
        st.failures += 1
        st.last_error = error
        if st.available is not False:
            log.warning("device %s is unavailable: %s", device, error)
            await self.flow.device_state(device, False, error, st.extra)
            st.available = False

    def snapshot(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.devices.values()]
