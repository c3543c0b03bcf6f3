"""GA/T 1400 requests over aiohttp: register (digest), keepalive, time, unregister, list POSTs.

One `ViidClient` per registration. It knows the protocol's answers, not the
daemon: the uplink (sender.py) and `edge uplink test gat1400` both drive it.

A 401 on anything but the second Register means the 视图库 forgot us (restart,
session expiry): `SessionLost`, and the caller registers again. The nonce of a
challenge is used for exactly one request (nc=00000001, fresh cnonce), as the
strict servers require; a Register refused with 401 twice is a wrong account.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from typing import Any

import aiohttp

from edge.codecs import gat1400 as g
from edge.codecs import http_digest as hd
from edge.codecs.errors import ProtocolError


class ViidError(Exception):
    """The 视图库 answered something unusable, or not at all."""


class SessionLost(ViidError):
    """401 or a non-zero StatusCode on a system call: register again."""


class RegisterRefused(ViidError):
    """Registration refused (wrong account, or a non-zero StatusCode)."""


@dataclass(frozen=True)
class Answer:
    """What the 视图库 said, for logs and `edge uplink test`."""

    status: int
    body: Any
    text: str

    def summary(self, limit: int = 200) -> str:
        return f"HTTP {self.status} {self.text[:limit]}".rstrip()


@dataclass(frozen=True)
class TimeReading:
    server: g.SystemTime
    offset_s: float  # server clock minus ours
    round_trip_s: float


class ViidClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        device_id: str,
        username: str,
        password: str,
        timeout_s: float,
    ) -> None:
        self.http = session
        self.base_url = base_url.rstrip("/")
        self.prefix = _path_prefix(self.base_url)
        self.device_id = device_id
        self.username = username
        self._password = password
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.headers = g.headers(device_id)
        self.last_answer: Answer | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        auth: str | None = None,
    ) -> tuple[Answer, dict[str, str]]:
        headers = dict(self.headers)
        if auth is not None:
            headers["Authorization"] = auth
        try:
            async with self.http.request(
                method, self.base_url + path, data=body, headers=headers, timeout=self.timeout
            ) as resp:
                raw = await resp.read()
                answer = Answer(resp.status, _json(raw), raw.decode("utf-8", "replace"))
                self.last_answer = answer
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                # A server may offer Basic and Digest in two headers: keep the Digest one.
                offers = resp.headers.getall("WWW-Authenticate", [])
                digest = [o for o in offers if o.strip().lower().startswith("digest")]
                if digest:
                    hdrs["www-authenticate"] = digest[0]
                return answer, hdrs
        except TimeoutError:
            raise ViidError(f"{method} {path}: no answer in {self.timeout.total:.0f} s") from None
        except aiohttp.ClientError as exc:
            raise ViidError(f"{method} {path}: {type(exc).__name__}: {exc}") from None

    async def register(self) -> g.ResponseStatus:
        body = _dumps(g.register_body(self.device_id))
        first, hdrs = await self.request("POST", g.REGISTER, body)
        if first.status == 401:
            challenge_text = hdrs.get("www-authenticate")
            if not challenge_text:
                raise RegisterRefused("401 without a WWW-Authenticate challenge")
            try:
                challenge = hd.Challenge.parse(challenge_text)
            except hd.DigestError as exc:
                raise RegisterRefused(f"unusable challenge: {exc}") from None
            auth = hd.authorization(
                challenge,
                method="POST",
                uri=self.prefix + g.REGISTER,
                username=self.username,
                password=self._password,
            )
            second, _ = await self.request("POST", g.REGISTER, body, auth)
            if second.status == 401:
                raise RegisterRefused(
                    f"digest refused for user {self.username!r} (wrong user name or password?)"
                )
            first = second
        status = self._status(first, "Register")
        if not status.ok:
            raise RegisterRefused(f"Register: {status.describe()}")
        return status

    async def keepalive(self) -> g.ResponseStatus:
        answer, _ = await self.request(
            "POST", g.KEEPALIVE, _dumps(g.keepalive_body(self.device_id))
        )
        status = self._status(answer, "Keepalive")
        if not status.ok:
            raise SessionLost(f"Keepalive: {status.describe()}")
        return status

    async def unregister(self) -> Answer:
        answer, _ = await self.request(
            "POST", g.UNREGISTER, _dumps(g.unregister_body(self.device_id))
        )
        return answer

    async def system_time(self, site: timezone) -> TimeReading:
        t0 = time.time()
        answer, _ = await self.request("GET", g.TIME)
        t1 = time.time()
        if answer.status == 401:
            raise SessionLost("Time: 401 (not registered)")
        if answer.status != 200:
            raise ViidError(f"Time: {answer.summary()}")
        try:
            st = g.SystemTime.from_json(answer.body)
            server = st.moment(site)
        except ProtocolError as exc:
            raise ViidError(f"Time: {exc}") from None
        # LocalTime has whole seconds, truncated: its true value is on average 0.5 s later.
        ours = datetime.fromtimestamp((t0 + t1) / 2, UTC)
        offset = (server - ours).total_seconds() + 0.5
        return TimeReading(st, round(offset, 1), round(t1 - t0, 3))

    async def post_list(self, endpoint: str, body: bytes) -> list[g.ResponseStatus]:
        answer, _ = await self.request("POST", endpoint, body)
        if answer.status == 401:
            raise SessionLost(f"POST {endpoint}: 401 (registration lost)")
        if answer.status != 200:
            raise ViidError(f"POST {endpoint}: {answer.summary()}")
        try:
            return g.parse_response_status_list(answer.body)
        except ProtocolError as exc:
            raise ViidError(f"POST {endpoint}: {exc}: {answer.text[:200]}") from None

    def _status(self, answer: Answer, what: str) -> g.ResponseStatus:
        if answer.status == 401:
            raise SessionLost(f"{what}: 401 (not registered)")
        if answer.status != 200:
            raise ViidError(f"{what}: {answer.summary()}")
        try:
            return g.parse_response_status(answer.body)
        except ProtocolError as exc:
            raise ViidError(f"{what}: {exc}: {answer.text[:200]}") from None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _path_prefix(base_url: str) -> str:
    """A base URL like http://h:p/gateway keeps its path before /VIID (and in the digest uri)."""
    from urllib.parse import urlsplit

    return urlsplit(base_url).path.rstrip("/")
