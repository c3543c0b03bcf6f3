"""Failed logins counted per user name and per client address.

Both keys count: one address guessing many names is stopped by the address; many addresses
guessing one guard's password are stopped by the name. A success does not clear the address
counter (a guessing address cannot reset itself with its own valid login).
"""

from __future__ import annotations

import time
from collections import deque


class LoginLimiter:
    # Keys kept at most: an address spraying names cannot grow memory without bound; the
    # oldest key is forgotten first.
    MAX_KEYS = 4096

    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def retry_after_s(self, user: str, address: str) -> float:
        """0 when a login may be tried now, else seconds until one may."""
        now = time.monotonic()
        wait = 0.0
        for key in (f"u:{user}", f"a:{address}"):
            q = self._recent(key, now)
            if len(q) >= self.attempts:
                wait = max(wait, q[0] + self.window_s - now)
        return wait

    def failed(self, user: str, address: str) -> None:
        now = time.monotonic()
        for key in (f"u:{user}", f"a:{address}"):
            q = self._failures.setdefault(key, deque(maxlen=self.attempts))
            q.append(now)
        while len(self._failures) > self.MAX_KEYS:
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, user: str) -> None:
        self._failures.pop(f"u:{user}", None)
