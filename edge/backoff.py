"""Retry delays: exponential, capped, jittered; for reconnects and task restarts.

Jitter matters on a gateway with a dozen cameras behind one PoE switch: after the
switch reboots they would otherwise all reconnect in the same instant, forever.
(Device polling has its own deterministic schedule: `edge.fieldbus.backoff`.)
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, min_s: float, max_s: float, *, rng: random.Random | None = None) -> None:
        if min_s <= 0 or max_s < min_s:
            raise ValueError("need 0 < min_s <= max_s")
        self.min_s = min_s
        self.max_s = max_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Delay before the next attempt; each call counts one more failure."""
        ceiling = min(self.max_s, self.min_s * 2.0**self.failures)
        self.failures += 1
        # Half fixed, half random: never hammer (>= ceiling/2), never synchronise.
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0
