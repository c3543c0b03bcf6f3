"""Device drivers: one module per `type` in the YAML `devices:` list.

A module defines `CONFIG` (based on `edge.config.devices.DeviceBase`, with
`type: Literal["name"]`) and `DRIVER` (constructed as `DRIVER(config, runtime)`,
with `async def run(self) -> None` run under the supervisor).
"""

from __future__ import annotations

import functools
import sys

from edge.plugins import Plugin, discover


@functools.cache
def registry() -> dict[str, Plugin]:
    return discover(sys.modules[__name__], "DRIVER")
