"""Tables that line up with Chinese text: columns are padded by display width, not len().

A CJK character takes two terminal cells (East Asian Wide/Fullwidth), so `f"{name:24}"`
misaligns every row holding 北门 or 演示小区; these helpers count cells.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def width(text: str) -> int:
    """Terminal cells `text` takes: 2 for wide/fullwidth characters, 0 for combining marks."""
    cells = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        cells += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return cells


def pad(text: str, cells: int, align: str = "<") -> str:
    fill = " " * max(0, cells - width(text))
    return fill + text if align == ">" else text + fill


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """Rows under headers, two spaces apart; `align` holds '<' or '>' per column (default '<').
    The last column is not padded (no trailing blanks)."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    n = len(headers)
    widths = [max(width(r[i]) for r in cells) for i in range(n)]
    lines = []
    for r in cells:
        parts = [
            r[i]
            if i == n - 1 and (align[i : i + 1] or "<") == "<"
            else pad(r[i], widths[i], align[i : i + 1] or "<")
            for i in range(n)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
