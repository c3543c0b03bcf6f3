"""Thin a stream to a target rate by its timestamps (no timers involved)."""

from __future__ import annotations


class RateGate:
    """Pass frames at most `fps` per second on average.

    A frame passes when it is at or after the due time; the next due time advances by
    one period from the previous one, so a 10 fps stream sampled at 4 fps gives 4, not
    3.3. After a stall the schedule restarts instead of bursting to catch up.
    """

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps <= 0:
            raise ValueError("fps must be > 0")
        self.period = 0.0 if fps is None else 1.0 / fps
        self._due: float | None = None

    def passes(self, mono: float) -> bool:
        if self.period == 0.0:
            return True
        if self._due is None or mono - self._due >= self.period:
            self._due = mono + self.period
            return True
        if mono >= self._due - 1e-6:
            self._due += self.period
            return True
        return False
