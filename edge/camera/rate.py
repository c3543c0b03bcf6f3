"""Thin a stream to a target rate by its timestamps (no timers involved)."""

from __future__ import annotations

#: How early a frame may be, as a fraction of the period, and still count as on time.
EARLY_TOLERANCE = 0.25


class RateGate:
    """Pass frames at most `fps` per second on average.

    A frame passes when it is at or after the due time; the next due time advances by
    one period from the previous one, so a 10 fps stream sampled at 4 fps gives 4, not
    3.3. After a stall the schedule restarts instead of bursting to catch up.

    A frame a little early is on time: up to a quarter period, and less than half the
    interval since the previous frame (so it is the frame nearest the due time, not the
    one before it). Timestamps are taken when a frame leaves the decoder, so they jitter
    by milliseconds; without that slack a stream whose rate equals the target (a 2 fps
    camera analysed at 2 fps) loses about every other frame, each a few ms "early"
    against a schedule set by a slightly late one.
    """

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps <= 0:
            raise ValueError("fps must be > 0")
        self.period = 0.0 if fps is None else 1.0 / fps
        self._due: float | None = None
        self._last: float | None = None

    def passes(self, mono: float) -> bool:
        if self.period == 0.0:
            return True
        interval = mono - self._last if self._last is not None else 0.0
        self._last = mono
        if self._due is None or mono - self._due >= self.period:
            self._due = mono + self.period
            return True
        early = min(self.period * EARLY_TOLERANCE, max(0.0, interval) / 2)
        if mono >= self._due - max(early, 1e-6):
            self._due += self.period
            return True
        return False
