"""The real daemon (`python -m edge run ...`), killed by SIGKILL the instant a door
controller has confirmed an opening, before the daemon can record it: the one moment a
power cut would leave a car let in with no `access` event. A kill from outside cannot land
there on demand; this one always does.

Usage: python tests/devices/opening_crash_daemon.py run --config FILE
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from drivers.uhppote import UhppoteGate
from edge.cli.main import main

_open_gate = UhppoteGate.open_gate


async def _kill_once_opened(self: UhppoteGate, *, reason: str, actor: str) -> dict[str, Any]:
    result = await _open_gate(self, reason=reason, actor=actor)
    os.kill(os.getpid(), signal.SIGKILL)
    return result


UhppoteGate.open_gate = _kill_once_opened  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main())
