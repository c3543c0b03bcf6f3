"""Credentials out of everything a person or a peer may read: `config show`, logs,
health, error messages and the diagnostic bundle.

Cameras and brokers take their credentials inside URLs (`rtsp://admin:pw@…`,
`mqtt://gw:pw@…`), and libraries (FFmpeg, aiomqtt) repeat the URL they were given in
their own error messages, so redaction works on free text, not only on known fields.
One helper, used everywhere, so a new output cannot forget a form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

MASK = "***"

# scheme://userinfo@ — userinfo runs to the last '@' before the host's first '/' or a space,
# so an unencoded '@' in a password is covered too.
_USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)[^/\s'\"<>]*@", re.IGNORECASE)
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:password|passwd|pass|pwd|loginpas|token|access_token|auth|key|secret|sig"
    r"|signature)=)[^&#\s'\"]*",
)


def redact_url(url: str) -> str:
    """The URL as it may appear in logs, state, the page and `config show`."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        url = urlunsplit(parts._replace(netloc=f"{MASK}@{parts.netloc.rsplit('@', 1)[-1]}"))
    return _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, url)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every known secret (raw and percent-encoded), every URL's userinfo and
    every credential-like query parameter masked."""
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe="")}:
                text = text.replace(form, MASK)
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + MASK, text)


def redact_data(data: Any, secrets: Iterable[str | None] = ()) -> Any:
    """A JSON-like document (dicts, lists, scalars) with every string scrubbed."""
    known = [s for s in secrets if s]
    if isinstance(data, str):
        return scrub(data, known) if ("://" in data or known) else data
    if isinstance(data, dict):
        return {k: redact_data(v, known) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v, known) for v in data]
    return data
