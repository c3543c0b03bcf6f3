"""HTTP plumbing shared by the MJPEG and snapshot sources: timeouts and camera auth.

IP cameras mostly want Digest (Hikvision, Dahua), some only Basic. Digest is tried
first (aiohttp's middleware answers the challenge, so the password never crosses the
wire); Basic is used only when the camera's challenge asks for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from edge.camera.errors import CameraAuthError, CameraError


class HttpCamera:
    def __init__(
        self,
        url: str,
        username: str | None,
        password: str | None,
        *,
        open_timeout_s: float,
        read_timeout_s: float,
    ) -> None:
        self.url = url
        self._username = username
        self._password = password
        self._basic = False
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=open_timeout_s,
            sock_connect=open_timeout_s,
            sock_read=read_timeout_s,
        )

    def session(self) -> aiohttp.ClientSession:
        middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
        if self._username is not None and not self._basic:
            middlewares = (aiohttp.DigestAuthMiddleware(self._username, self._password or ""),)
        return aiohttp.ClientSession(timeout=self._timeout, middlewares=middlewares)

    @asynccontextmanager
    async def get(self, session: aiohttp.ClientSession) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET the URL; a 2xx response or a clear CameraError."""
        try:
            for _ in range(2):
                async with session.get(self.url, headers=self._auth_headers()) as resp:
                    if self._wants_basic(resp):
                        self._basic = True  # and ask again, right away, with Basic
                        continue
                    _check_status(resp.status, resp.reason)
                    yield resp
                    return
            raise CameraAuthError("401 Unauthorized: the camera refused the username/password")
        except aiohttp.ClientResponseError as exc:
            _check_status(exc.status, exc.message)
            raise CameraError(f"HTTP error {exc.status}") from None
        except aiohttp.ClientConnectionError as exc:
            raise CameraError(f"connection failed: {type(exc).__name__}") from None

    def _auth_headers(self) -> dict[str, str]:
        if self._basic and self._username is not None:
            return {
                "Authorization": aiohttp.encode_basic_auth(self._username, self._password or "")
            }
        return {}

    def _wants_basic(self, resp: aiohttp.ClientResponse) -> bool:
        challenge = resp.headers.get("WWW-Authenticate", "")
        return (
            resp.status == 401
            and not self._basic
            and self._username is not None
            and challenge.lower().startswith("basic")
        )


def _check_status(status: int, reason: str | None) -> None:
    if status in (401, 403):
        raise CameraAuthError(f"{status} {reason or ''}: the camera refused the username/password")
    if status == 404:
        raise CameraError("404 Not Found: check the path in the url")
    if status >= 400:
        raise CameraError(f"HTTP {status} {reason or ''}".strip())
