"""Credentials in camera URLs: inject them for the decoder, hide them everywhere else
(with `edge.redact`, the one redaction helper; re-exported here for the camera code).

FFmpeg's own error messages repeat the URL it was given, credentials included, so
every error text that leaves a source goes through `scrub` first.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit

from edge.redact import MASK, redact_url, scrub

__all__ = ["MASK", "inject_credentials", "redact_url", "scrub", "split_credentials"]


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
