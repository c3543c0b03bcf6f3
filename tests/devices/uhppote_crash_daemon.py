"""The real daemon (`python -m edge run ...`), killed by SIGKILL the instant the store has
committed the first event taken from a door controller's log, before the daemon can do
anything else: the one moment a crash could leave the event recorded and the controller's
log position not. A kill from outside cannot land there on demand; this one always does.

Usage: python tests/devices/uhppote_crash_daemon.py run --config FILE
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from edge.cli.main import main
from edge.store.store import Store

_committed = Store._committed


def _kill_after_controller_event(self: Store, tx: Any) -> None:
    if any(e.kind == "access" and e.data.get("origin") == "controller" for e in tx.events):
        os.kill(os.getpid(), signal.SIGKILL)
    _committed(self, tx)


Store._committed = _kill_after_controller_event  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main())
