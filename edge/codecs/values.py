"""The typed reading every meter codec hands up, whatever its wire format.

One type for DL/T 645 and CJ/T 188 so drivers turn either into `Reading`s the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Value:
    """One typed reading: float for numbers, str for dates/times/digit strings, None if the
    meter filled the field with FF (not supported)."""

    point: str
    value: float | str | None
    unit: str
    name: str


__all__ = ["Value"]
