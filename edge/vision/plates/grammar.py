"""The Chinese licence-plate grammar (GA 36), used to reject and repair reader output.

Readers are generic text recognisers with no plate prior; a read that does not fit one of
the formats below is either wrong or a plate type we do not know. `best_valid` searches the
reader's per-character alternatives for the most probable string that fits.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are never issued: they read as 1 and 0
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS
SUFFIXES = "警学挂港澳领"
#: GA 36-2018: the energy letter of a new-energy plate (D/A/B/C/E pure electric, F/G/H/J/K other).
NEV_LETTERS = "DABCEFGHJK"
#: Every character a plate can carry; anything else in a read is noise or a separator.
PLATE_CHARS = frozenset(PROVINCES + LETTERS + DIGITS + SUFFIXES + "使")
#: What a generic reader writes for a plate character it has seen as something else.
LOOKALIKES = {"O": "0", "I": "1"}
SEPARATORS = "·•・.-_ \u00b7\u2022\u30fb:"


class PlateFormat(StrEnum):
    ORDINARY = "ordinary"  # 京A12345: blue small / yellow large
    NEW_ENERGY_SMALL = "new_energy_small"  # 沪AD12345
    NEW_ENERGY_LARGE = "new_energy_large"  # 粤B12345D
    POLICE = "police"  # 鄂F8888警
    COACH = "coach"  # 琼A6716学
    TRAILER = "trailer"  # 粤A1234挂
    HK_MACAO = "hk_macao"  # 粤ZR066港
    CONSULATE = "consulate"  # 沪A1234领
    EMBASSY = "embassy"  # 使198476, 198476使
    MILITARY = "military"  # VA30093
    FARM = "farm"  # 皖1149885 (agricultural, double row)


_P, _L, _A, _D = f"[{PROVINCES}]", f"[{LETTERS}]", f"[{ALNUM}]", "[0-9]"
_PATTERNS: list[tuple[PlateFormat, re.Pattern[str]]] = [
    (PlateFormat.ORDINARY, re.compile(f"{_P}{_L}{_A}{{5}}")),
    (PlateFormat.NEW_ENERGY_SMALL, re.compile(f"{_P}{_L}[{NEV_LETTERS}]{_A}{_D}{{4}}")),
    (PlateFormat.NEW_ENERGY_LARGE, re.compile(f"{_P}{_L}{_D}{{5}}[{NEV_LETTERS}]")),
    (PlateFormat.POLICE, re.compile(f"{_P}{_L}{_A}{{4}}警")),
    (PlateFormat.COACH, re.compile(f"{_P}{_L}{_A}{{4}}学")),
    (PlateFormat.TRAILER, re.compile(f"{_P}{_L}{_A}{{4}}挂")),
    (PlateFormat.HK_MACAO, re.compile(f"粤Z{_A}{{4}}[港澳]")),
    (PlateFormat.CONSULATE, re.compile(f"{_P}{_L}{_A}{{4}}领")),
    (PlateFormat.EMBASSY, re.compile(f"使{_D}{{6}}|{_D}{{6}}使")),
    (PlateFormat.MILITARY, re.compile(f"{_L}{{2}}{_D}{{5}}")),
    (PlateFormat.FARM, re.compile(f"{_P}{_D}{{7}}")),
]


#: The formats a plate of each background colour can carry (colour names as in
#: `color.PlateColour`). Green is new energy (8 characters; the large one is yellow-green,
#: which a colour model calls either) or an agricultural plate (8 characters too).
COLOUR_FORMATS: dict[str, frozenset[PlateFormat]] = {
    "green": frozenset(
        {PlateFormat.NEW_ENERGY_SMALL, PlateFormat.NEW_ENERGY_LARGE, PlateFormat.FARM}
    ),
    "blue": frozenset({PlateFormat.ORDINARY}),
    "yellow": frozenset(
        {
            PlateFormat.ORDINARY,
            PlateFormat.COACH,
            PlateFormat.TRAILER,
            PlateFormat.NEW_ENERGY_LARGE,
        }
    ),
}
#: Shapes a reader confuses at a position whose class the format fixes: (letter, digit).
SHAPE_TWINS = (("D", "0"), ("B", "8"), ("Z", "2"), ("S", "5"), ("G", "6"), ("T", "1"))


def normalise(raw: str) -> str:
    """Upper-case, fold full-width forms, drop separators and anything no plate carries."""
    text = unicodedata.normalize("NFKC", raw).upper()
    out = []
    for ch in text:
        if ch in SEPARATORS:
            continue
        ch = LOOKALIKES.get(ch, ch)
        if ch in PLATE_CHARS:
            out.append(ch)
    return "".join(out)


def plate_format(text: str) -> PlateFormat | None:
    """The first format `text` fits exactly, or None."""
    for fmt, pat in _PATTERNS:
        if pat.fullmatch(text):
            return fmt
    return None


def is_valid(text: str) -> bool:
    return plate_format(text) is not None


def fits_colour(text: str, colour: str) -> bool:
    """Whether `text` is a plate format a `colour` plate carries (True for colours the
    grammar does not constrain: white and black plates are decided from their text)."""
    allowed = COLOUR_FORMATS.get(colour)
    return allowed is None or plate_format(text) in allowed


def certain_repair(text: str, colour: str) -> str | None:
    """The one plate of `colour` that `text` becomes by swapping shape twins (0/D, 8/B, ...)
    at positions whose class (letter or digit) the format fixes, or None.

    Only a unique answer is returned: a green 皖A022939 can only be 皖AD22939 (the third
    character of a small new-energy plate is a letter), but a read two formats could
    repair either way is left for the vote to settle.
    """
    allowed = COLOUR_FORMATS.get(colour)
    if allowed is None or plate_format(text) in allowed:
        return None
    twins = {a: b for pair in SHAPE_TWINS for a, b in (pair, pair[::-1])}
    found: set[str] = set()
    for i, ch in enumerate(text):
        if ch in twins:
            cand = text[:i] + twins[ch] + text[i + 1 :]
            if plate_format(cand) in allowed:
                found.add(cand)
    return found.pop() if len(found) == 1 else None


Alternatives = Sequence[tuple[str, float]]
"""Candidates for one read position, best first: (character or "" to drop it, probability)."""


def best_valid(
    positions: Sequence[Alternatives],
    max_changes: int = 2,
    max_expansions: int = 400,
    formats: frozenset[PlateFormat] | None = None,
) -> list[tuple[str, float]] | None:
    """The most probable valid string choosing one alternative per position.

    A best-first search over "how much probability we give up": the greedy string costs 0,
    each swap to an alternative costs log(p_best / p_alt). At most `max_changes` positions
    change, so a read is repaired, never rewritten. Returns the chosen (character,
    probability) per kept position, or None when nothing valid is within reach.
    `formats` limits what counts as valid (a green plate: the 8-character formats).
    """
    if not positions or any(not alts for alts in positions):
        return None
    costs: list[list[float]] = []
    for alts in positions:
        top = max(alts[0][1], 1e-9)
        costs.append([math.log(top / max(p, 1e-9)) for _, p in alts])
    start = tuple(0 for _ in positions)
    heap: list[tuple[float, tuple[int, ...]]] = [(0.0, start)]
    seen = {start}
    expansions = 0
    while heap and expansions < max_expansions:
        cost, choice = heapq.heappop(heap)
        expansions += 1
        text = "".join(positions[i][c][0] for i, c in enumerate(choice))
        fmt = plate_format(text)
        if fmt is not None and (formats is None or fmt in formats):
            picked = (positions[i][c] for i, c in enumerate(choice))
            return [(ch, p) for ch, p in picked if ch]
        if sum(1 for c in choice if c) >= max_changes:
            continue
        for i, c in enumerate(choice):
            # Only move a position once (from its best): keeps each state reachable one way.
            if c != 0:
                continue
            for j in range(1, len(positions[i])):
                nxt = (*choice[:i], j, *choice[i + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (cost + costs[i][j], nxt))
    return None
