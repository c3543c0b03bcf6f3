"""Upstream destinations: one module (or package) per `type` under `uplinks:`.

A module defines `CONFIG` (with `type: Literal["name"]`) and `UPLINK`
(constructed as `UPLINK(name, config, runtime)`, with `async def run(self)`).
"""

from __future__ import annotations

import functools
import sys

from edge.plugins import Plugin, discover


@functools.cache
def registry() -> dict[str, Plugin]:
    return discover(sys.modules[__name__], "UPLINK")
