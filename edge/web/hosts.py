"""Which `Host` headers the local API answers: a defence against DNS rebinding.

A page on an attacker's site can make a browser resolve the attacker's name to 127.0.0.1 (or
the gateway's LAN address) and then read the API as if same-origin. The browser still sends the
attacker's name in `Host`, so only requests naming the box are answered: loopback names, any
IP literal (a literal cannot be rebound), the host name in `web.listen`, and the names the
installer lists in `web.allowed_hosts`. Everything else gets 403 before any handler runs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_name(header: str) -> str | None:
    """The name in a `Host` header without its port, lower-cased; None if malformed."""
    value = header.strip().lower()
    if value.startswith("["):  # [v6]:port
        end = value.find("]")
        rest = value[end + 1 :]
        if end == -1 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return value[1:end] or None
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheck:
    """Accepts a request whose `Host` names this box."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = LOOPBACK_NAMES | {a.lower().rstrip(".") for a in allowed}

    def accepts(self, header: str | None) -> bool:
        if not header:
            return False
        name = host_name(header)
        return name is not None and (name in self.allowed or _is_ip(name))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.accepts(request.headers.get("Host")):
            return web.json_response(
                {
                    "error": "this gateway does not answer to that host name; "
                    "add it to web.allowed_hosts if it is the gateway's own"
                },
                status=403,
            )
        return await handler(request)
