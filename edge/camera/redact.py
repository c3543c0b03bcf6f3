"""Credentials in camera URLs: inject them for the decoder, hide them everywhere else.

FFmpeg's own error messages repeat the URL it was given, credentials included, so
every error text that leaves a source goes through `scrub` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:password|passwd|pass|pwd|loginpas|token|auth|key)=)[^&#]*",
)
MASK = "***"


def inject_credentials(url: str, username: str | None, password: str | None) -> str:
    """Return `url` with `username:password@` in its authority (percent-encoded)."""
    if not username and not password:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(username or "", safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Take `user:pass@` out of a URL typed by a person: (bare URL, user, password)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    bare = urlunsplit(parts._replace(netloc=host))
    return bare, unquote(user) or None, unquote(password) if password else None


def redact_url(url: str) -> str:
    """The URL as it may appear in logs, state and the page."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[-1]}"
    safe = urlunsplit(parts._replace(netloc=netloc))
    return _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, safe)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Remove every secret (raw and percent-encoded) and URL userinfo from `text`."""
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe="")}:
                text = text.replace(form, MASK)
    text = re.sub(r"([a-z][a-z0-9+.-]*://)[^/\s'\"@]*@", rf"\1{MASK}@", text, flags=re.I)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, text)
