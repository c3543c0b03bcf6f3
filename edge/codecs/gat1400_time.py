"""GA/T 1400 times: `yyyyMMddHHmmss` in the site's local time, and the zones servers name.

A 视图库 stamps and expects wall-clock times without a zone, so every conversion here is told
which zone it means; `zone` reads the TimeZone a server's SystemTimeObject gives in its own words.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from edge.codecs.errors import ProtocolError

TIME_FORMAT = "%Y%m%d%H%M%S"


def format_time(ts: datetime, tz: timezone) -> str:
    if ts.tzinfo is None:
        raise ValueError("format_time needs an aware datetime")
    return ts.astimezone(tz).strftime(TIME_FORMAT)


def parse_time(text: str, tz: timezone) -> datetime:
    if not isinstance(text, str) or len(text) != 14 or not text.isdigit():
        raise ProtocolError(f"time {text!r} is not yyyyMMddHHmmss")
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=tz)
    except ValueError:
        raise ProtocolError(f"time {text!r} is not a valid date") from None


def zone(text: str | None) -> timezone | None:
    """TimeZone as servers fill it: "+08:00", "GMT+8", "Asia/Shanghai" (taken as +08:00)."""
    if not text:
        return None
    t = text.strip().upper().removeprefix("UTC").removeprefix("GMT")
    if t in ("ASIA/SHANGHAI", "ASIA/CHONGQING", "CST", "PRC"):
        return timezone(timedelta(hours=8))
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    try:
        if ":" in t:
            h, m = t.split(":", 1)
            return timezone(sign * timedelta(hours=int(h), minutes=int(m)))
        return timezone(sign * timedelta(hours=int(t or 0)))
    except ValueError:
        return None
