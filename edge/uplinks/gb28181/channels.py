"""The cameras a platform sees: one channel per camera with a `gb_channel_id`.

The gateway itself is listed first (the parent of every channel), then each
camera with its status ON/OFF taken from the camera's live state (frames
arriving), so a platform operator sees a dead camera as offline rather than
a black picture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.codecs.manscdp import CatalogItem
from edge.config.cameras import AnyCamera
from edge.runtime import Runtime
from edge.uplinks.gb28181.config import Gb28181UplinkConfig

OnlineProbe = Callable[[str], bool]


def live_state_probe(rt: Runtime) -> OnlineProbe:
    """Whether a camera delivers frames now, from its shared session's state.

    An on-demand source (a `file` camera nobody analyses) idles until a consumer, such
    as a play, subscribes: it is playable, so ON, while its file is there and it has
    not failed; a missing file is OFF.
    """

    def online(camera_id: str) -> bool:
        if camera_id not in rt.cameras:
            return False
        session = rt.cameras.session(camera_id)
        state = session.state
        if state.online:
            return True
        source: Any = session.source
        if getattr(source, "on_demand", False) and state.last_error is None:
            path = getattr(source, "path", None)
            return path is not None and Path(path).exists()
        return False

    return online


class Channels:
    def __init__(self, rt: Runtime, cfg: Gb28181UplinkConfig, online: OnlineProbe) -> None:
        self.cfg = cfg
        self.online = online
        self.cameras: list[AnyCamera] = [
            c for c in rt.config.cameras if c.enabled and c.gb_channel_id
        ]
        self._by_channel = {str(c.gb_channel_id): c for c in self.cameras}

    def camera(self, channel_id: str) -> AnyCamera | None:
        return self._by_channel.get(channel_id)

    def gateway_item(self) -> CatalogItem:
        return CatalogItem(
            device_id=self.cfg.device_id,
            name=self.cfg.device_name,
            model="compound-edge",
            civil_code=self.cfg.civil,
            parental=1,
            parent_id=self.cfg.server_id,
            status="ON",
        )

    def camera_item(self, cam: AnyCamera, event: str | None = None) -> CatalogItem:
        return CatalogItem(
            device_id=str(cam.gb_channel_id),
            name=cam.name or cam.id,
            model=cam.kind,
            civil_code=self.cfg.civil,
            address=cam.name or cam.id,
            parent_id=self.cfg.device_id,
            status="ON" if self.online(cam.id) else "OFF",
            event=event,
        )

    def items(self) -> list[CatalogItem]:
        return [self.gateway_item(), *(self.camera_item(c) for c in self.cameras)]

    def states(self) -> dict[str, bool]:
        return {c.id: self.online(c.id) for c in self.cameras}
