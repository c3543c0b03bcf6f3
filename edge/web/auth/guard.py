"""The middlewares every request passes: who is asking, may they, is it really them
(CSRF, Origin), and the security headers on every answer."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from edge.actions import Actor
from edge.config.web import Role
from edge.web.auth.policy import PUBLIC, Handler, roles_for
from edge.web.auth.sessions import COOKIE, Session, Sessions
from edge.web.auth.users import Users

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"

# No inline script or style anywhere: the page is ES modules and stylesheets from 'self'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: a console user (by session) or the CLI (by local token)."""

    name: str
    role: Role
    session: Session | None  # None for the local token

    def actor(self, body: dict[str, Any] | None = None) -> Actor:
        if self.session is not None:
            return Actor("user", self.name)
        by = str((body or {}).get("by", "")).strip()[:64]
        return Actor("cli", by or self.name)


PRINCIPAL = web.RequestKey("principal", Principal)


class Gatekeeper:
    def __init__(self, users: Users, sessions: Sessions, token: str, tls: bool) -> None:
        self.users = users
        self.sessions = sessions
        self.token = token
        self.tls = tls

    def principal(self, request: web.Request) -> Principal | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[7:].strip().encode()
            if self.token and hmac.compare_digest(given, self.token.encode()):
                return Principal("local", Role.MAINTAINER, None)
            return None
        s = self.sessions.lookup(request.cookies.get(COOKIE))
        if s is None:
            return None
        user = self.users.get(s.user)
        if user is None or user.role != s.role:  # removed or re-roled: log in again
            self.sessions.end_user(s.user)
            return None
        return Principal(s.user, s.role, s)

    @staticmethod
    def same_origin(request: web.Request) -> bool:
        """An `Origin` header, when the browser sends one, must name this very host."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        return urlsplit(origin).netloc.lower() == request.host.lower()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        if request.match_info.http_exception is not None:
            return await handler(request)  # 404/405 as aiohttp answers them
        unsafe = request.method not in SAFE_METHODS
        if (unsafe or request.headers.get("Upgrade", "").lower() == "websocket") and (
            not self.same_origin(request)
        ):
            return _refuse(403, "cross-site request refused")
        roles = roles_for(request.app, route)
        if roles == PUBLIC:
            return await handler(request)
        who = self.principal(request)
        if who is None:
            if request.method == "GET" and not request.path.startswith("/api/"):
                raise web.HTTPSeeOther("/login")
            return _refuse(401, "log in first")
        if who.role not in roles:
            return _refuse(403, "your role may not do this")
        if unsafe and who.session is not None:
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), who.session.csrf.encode()):
                return _refuse(403, "missing or wrong CSRF token: reload the page")
        request[PRINCIPAL] = who
        return await handler(request)

    async def headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Security headers on every answer, errors and files included."""
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.path.startswith("/api/"):
            h.setdefault("Cache-Control", "no-store")
        if self.tls:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
