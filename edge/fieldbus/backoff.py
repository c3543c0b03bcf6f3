"""When to poll a device next: its interval while it answers, a doubling backoff once not.

Each device has its own; the bus does not slow down for a dead device. While a
device is down it gets a single attempt per backoff period (no retries, and a
multi-request poll stops at the first failure), so it costs the others at most
one timeout per period.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass
class Backoff:
    initial_s: float
    max_s: float
    failures: int = 0

    @property
    def down(self) -> bool:
        return self.failures > 0

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self) -> None:
        self.failures += 1

    def delay(self, interval_s: float) -> float:
        """Seconds from the end of this poll to the start of the next."""
        if not self.failures:
            return interval_s
        backoff = min(self.initial_s * 2 ** (self.failures - 1), self.max_s)
        return max(interval_s, backoff)


def start_offset(device_id: str, interval_s: float, cap_s: float = 30.0) -> float:
    """A stable spread of first polls over the interval, so devices do not poll in lock-step.

    Derived from the ID rather than random so a restart keeps the same rhythm.
    """
    fraction = zlib.crc32(device_id.encode()) / 0xFFFFFFFF
    return fraction * min(interval_s, cap_s)
