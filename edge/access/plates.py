"""Plate matching for gate decisions: exact, tolerant where configured, and near-misses.

The reader's known confusions (O/0, D/0, 8/B, one character) would lock a resident out at
the barrier if every read had to be exact, so a resident or visitor plate may match
through them, only where the installer allowed it and only for a confident read. The
blacklist never matches tolerantly (a stranger one character away from a banned plate is
not banned); a near-miss to it is raised to the guard as an alert instead, because a
banned driver with a dirty or altered plate looks exactly like that.

Lookups stay O(plate length) with 10,000 entries: tolerant matches try the few
substitutions the configured pairs allow, and near-misses use a deletion index (every entry
indexed under each one-character deletion, the symmetric-delete trick).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edge.access.lists import normalize_plate

DEFAULT_PAIRS = ("O0", "D0", "8B")


@dataclass(frozen=True)
class Tolerance:
    """What a tolerant match may forgive."""

    pairs: tuple[str, ...] = DEFAULT_PAIRS
    any_one_char: bool = False


def variants(plate: str, tolerance: Tolerance) -> set[str]:
    """Spellings one forgiven substitution away (the plate itself excluded).

    The first character (the province) is never substituted: a Chinese character has no
    look-alike digit, and a resident's 粤B… is not a 湘B….
    """
    out: set[str] = set()
    swaps: dict[str, set[str]] = {}
    for pair in tolerance.pairs:
        a, b = pair[0], pair[1]
        swaps.setdefault(a, set()).add(b)
        swaps.setdefault(b, set()).add(a)
    for i in range(1, len(plate)):
        for other in swaps.get(plate[i], ()):
            out.add(plate[:i] + other + plate[i + 1 :])
    return out


def one_edit(a: str, b: str) -> bool:
    """Levenshtein distance exactly one (one substitution, insertion or deletion)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


class PlateSet:
    """A list of plates with exact, tolerant and near-miss lookups."""

    def __init__(self, plates: Iterable[str] = ()) -> None:
        self.plates: set[str] = {normalize_plate(p) for p in plates}
        self._deletions: dict[str, set[str]] | None = None

    def __len__(self) -> int:
        return len(self.plates)

    def __contains__(self, plate: object) -> bool:
        return isinstance(plate, str) and normalize_plate(plate) in self.plates

    def exact(self, plate: str) -> str | None:
        key = normalize_plate(plate)
        return key if key in self.plates else None

    def tolerant(self, plate: str, tolerance: Tolerance) -> str | None:
        """The one entry a forgiven confusion reaches; None when none or ambiguous."""
        key = normalize_plate(plate)
        if tolerance.any_one_char:
            hits = {p for p in self.near(key) if len(p) == len(key) and p[:1] == key[:1]}
        else:
            hits = {v for v in variants(key, tolerance) if v in self.plates}
        return next(iter(hits)) if len(hits) == 1 else None

    def near(self, plate: str) -> set[str]:
        """Entries exactly one edit away (not the plate itself)."""
        key = normalize_plate(plate)
        index = self._index()
        candidates: set[str] = set(index.get(key, ()))
        for d in _deletions(key):
            candidates.update(index.get(d, ()))
            if d in self.plates:
                candidates.add(d)
        return {c for c in candidates if one_edit(c, key)}

    def _index(self) -> dict[str, set[str]]:
        if self._deletions is None:
            index: dict[str, set[str]] = {}
            for p in self.plates:
                for d in _deletions(p):
                    index.setdefault(d, set()).add(p)
            self._deletions = index
        return self._deletions


def _deletions(plate: str) -> set[str]:
    return {plate[:i] + plate[i + 1 :] for i in range(len(plate))}
