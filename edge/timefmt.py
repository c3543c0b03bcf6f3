"""Times are stored in UTC milliseconds and written out as RFC 3339 with the site's offset."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_REL = re.compile(r"^(\d+)(s|m|h|d)$")


def site_tz(offset: str) -> timezone:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def rfc3339(ts_ms: int, tz: timezone) -> str:
    return (
        datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(tz).isoformat(timespec="milliseconds")
    )


def parse_since(text: str, now: datetime | None = None) -> int:
    """Accept epoch ms, RFC 3339, or a relative age like 15m / 2h / 7d."""
    text = text.strip()
    now = now or datetime.now(UTC)
    m = _REL.match(text)
    if m:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return int((now.timestamp() - int(m.group(1)) * unit) * 1000)
    if text.isdigit():
        return int(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("a time needs an offset, e.g. 2026-11-22T08:00:00+08:00")
    return int(dt.timestamp() * 1000)


def span(seconds: float) -> str:
    """A duration as an operator reads it in a status line: `45 s`, `12 min`, `3.5 h`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
