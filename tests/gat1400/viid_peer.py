"""A strict 视图库 (VIID server) for the tests, written from GA/T 1400 and the captures.

What it enforces (a violation is recorded in `violations` and answered as a
real server would, so a test fails on either):
- `User-Identify` on every request, and equal to the DeviceID of system bodies;
- Register by HTTP digest: 401 challenge first, then `Authorization` with
  MD5, qop=auth (or none, `qop=False`), `nc` of 8 hex digits, the `opaque`
  echoed, the `uri` the request's path; every nonce is good for ONE request:
  a reused nonce gets 401;
- after Register, requests from an unregistered `User-Identify` get 401 with
  a new challenge (as wvp does), so a client must register again;
- posted objects pass `viid_rules` (ID lengths and embedded type codes,
  images that decode to their stated size, code tables, time format) and
  carry no ShotTime in the peer's future (its clock is `now + skew_s`);
- answers: `ResponseStatusObject` for system calls and one
  `ResponseStatusListObject` entry per object, StatusCode as a number or, with
  `codes_as_strings`, as a string.

Faults a test can inject: `password` (a wrong one on the client), `codes`
(per-object StatusCode by object ID, or `next_codes` for the next objects
whatever their ID), `forget()` (401 mid-session), `stop()`/`start()` (server
down, same port), `delay_s` (slow answers), `skew_s` (clock offset).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from viid_rules import check_face, check_motor_vehicle

from edge.codecs import http_digest as hd

CST = timezone(timedelta(hours=8))
SERVER_ID = "32010600005030000001"  # type 503: 视图库
REALM = "viid"
LISTS = {
    "/VIID/MotorVehicles": ("MotorVehicleListObject", "MotorVehicleObject", "MotorVehicleID"),
    "/VIID/Faces": ("FaceListObject", "FaceObject", "FaceID"),
}


@dataclass
class Received:
    endpoint: str
    object_id: str
    obj: dict[str, Any]
    code: int


@dataclass
class ViidPeer:
    username: str = "hik"
    password: str = "hik12345"
    qop: bool = True
    codes_as_strings: bool = False
    skew_s: float = 0.0
    delay_s: float = 0.0
    delay_paths: tuple[str, ...] = ("/VIID/MotorVehicles", "/VIID/Faces")
    port: int = 0
    violations: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    next_codes: list[int] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    registered: set[str] = field(default_factory=set)
    nonces: dict[str, bool] = field(default_factory=dict)  # nonce -> used
    unregistered: list[str] = field(default_factory=list)
    batches: list[tuple[str, int, int]] = field(default_factory=list)  # path, objects, bytes
    busy: bool = False  # answer StatusCode 2 for every valid object
    basic_too: bool = False  # offer Basic after Digest in a second WWW-Authenticate
    register_code: int = 0  # StatusCode answered to a correct Register
    keepalive_code: int = 0  # StatusCode answered to a Keepalive of a registered device
    decode_images: bool = True  # the bench turns it off to measure the client, not OpenCV
    last_body_bytes: int = 0
    _runner: web.AppRunner | None = None

    # --- control -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/VIID/System/Register", self._register)
        app.router.add_post("/VIID/System/Keepalive", self._keepalive)
        app.router.add_post("/VIID/System/UnRegister", self._unregister)
        app.router.add_get("/VIID/System/Time", self._time)
        for path in LISTS:
            app.router.add_post(path, self._objects)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Down: the port refuses connections (and the sessions are forgotten)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.registered.clear()

    def forget(self) -> None:
        """The 视图库 restarts or expires the session: later requests get 401."""
        self.registered.clear()

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.skew_s)

    def local_time(self) -> str:
        return self.now().astimezone(CST).strftime("%Y%m%d%H%M%S")

    def ids(self, endpoint: str | None = None, code: int | None = 0) -> list[str]:
        return [
            r.object_id
            for r in self.received
            if (endpoint is None or r.endpoint == endpoint) and (code is None or r.code == code)
        ]

    # --- helpers ---------------------------------------------------------------------

    def _violation(self, text: str) -> None:
        self.violations.append(text)

    def _challenge(self) -> web.Response:
        nonce = os.urandom(16).hex()
        self.nonces[nonce] = False
        ch = hd.Challenge(REALM, nonce, ("auth",) if self.qop else (), os.urandom(8).hex())
        resp = web.Response(status=401)
        resp.headers.add("WWW-Authenticate", ch.header())
        if self.basic_too:  # some servers offer Basic as well, in a header of its own
            resp.headers.add("WWW-Authenticate", f'Basic realm="{REALM}"')
        return resp

    def _status(self, request: web.Request, code: int, text: str, obj_id: str) -> dict[str, Any]:
        return {
            "Id": obj_id,
            "RequestURL": request.path,
            "StatusCode": str(code) if self.codes_as_strings else code,
            "StatusString": text,
            "LocalTime": self.local_time(),
        }

    def _answer(self, request: web.Request, code: int, text: str, obj_id: str) -> web.Response:
        return web.json_response(
            {"ResponseStatusObject": self._status(request, code, text, obj_id)}
        )

    async def _body(self, request: web.Request) -> tuple[str | None, Any]:
        self.calls[request.path] += 1
        ident = request.headers.get("User-Identify")
        if not ident:
            self._violation(f"{request.method} {request.path} without User-Identify")
        raw = await request.read()
        self.last_body_bytes = len(raw)
        if raw and not request.headers.get("Content-Type", "").lower().startswith(
            ("application/viid+json", "application/json")
        ):
            self._violation(f"{request.path}: Content-Type {request.headers.get('Content-Type')}")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._violation(f"{request.path}: body is not JSON")
            body = None
        return ident, body

    def _system_device(self, body: Any, key: str, ident: str | None, path: str) -> str | None:
        obj = body.get(key) if isinstance(body, dict) else None
        device = obj.get("DeviceID") if isinstance(obj, dict) else None
        if not isinstance(device, str) or len(device) != 20 or not device.isdigit():
            self._violation(f"{path}: {key}.DeviceID {device!r} is not 20 digits")
            return None
        if device != ident:
            self._violation(f"{path}: User-Identify {ident} != DeviceID {device}")
        return device

    # --- handlers ----------------------------------------------------------------------

    async def _register(self, request: web.Request) -> web.Response:
        ident, body = await self._body(request)
        device = self._system_device(body, "RegisterObject", ident, request.path)
        auth = request.headers.get("Authorization")
        if auth is None:
            return self._challenge()
        try:
            creds = hd.Credentials.parse(auth)
        except hd.DigestError as exc:
            self._violation(f"Register: bad Authorization: {exc}")
            return self._challenge()
        if creds.nonce not in self.nonces or self.nonces[creds.nonce]:
            self.calls["nonce_reuse"] += creds.nonce in self.nonces
            return self._challenge()  # unknown or already used: stale, ask again
        self.nonces[creds.nonce] = True
        if creds.uri != request.path:
            self._violation(f"Register: digest uri {creds.uri!r} != path {request.path!r}")
        if self.qop and creds.qop != "auth":
            self._violation("Register: the challenge had qop=auth, the answer none")
        if not self.qop and creds.qop is not None:
            self._violation("Register: qop in the answer of a challenge without qop")
        if creds.username != self.username or not creds.verify("POST", self.password):
            self.calls["bad_password"] += 1
            return self._challenge()
        if device is None:
            return self._answer(request, 8, "DeviceID invalid", "")
        if self.register_code:
            return self._answer(request, self.register_code, "重启中", device)
        self.registered.add(device)
        return self._answer(request, 0, "注册成功", device)

    async def _keepalive(self, request: web.Request) -> web.Response:
        ident, body = await self._body(request)
        device = self._system_device(body, "KeepaliveObject", ident, request.path)
        if device not in self.registered:
            return self._challenge()
        if self.keepalive_code:
            self.registered.discard(device or "")
            return self._answer(request, self.keepalive_code, "设备未注册", device or "")
        return self._answer(request, 0, "正常", device or "")

    async def _unregister(self, request: web.Request) -> web.Response:
        ident, body = await self._body(request)
        device = self._system_device(body, "UnRegisterObject", ident, request.path)
        if device not in self.registered:
            return web.Response(status=403)
        self.registered.discard(device)
        self.unregistered.append(device)
        return self._answer(request, 0, "注销成功", device)

    async def _time(self, request: web.Request) -> web.Response:
        ident, _ = await self._body(request)
        if ident not in self.registered:
            return self._challenge()
        return web.json_response(
            {
                "SystemTimeObject": {
                    "VIIDServerID": SERVER_ID,
                    "TimeMode": "1",
                    "LocalTime": self.local_time(),
                    "TimeZone": "+08:00",
                }
            }
        )

    async def _objects(self, request: web.Request) -> web.Response:
        ident, body = await self._body(request)
        if ident not in self.registered:
            return self._challenge()
        outer, inner, id_key = LISTS[request.path]
        lst = body.get(outer) if isinstance(body, dict) else None
        objects = lst.get(inner) if isinstance(lst, dict) else None
        if not isinstance(objects, list) or not objects:
            self._violation(f"{request.path}: no {outer}.{inner} list")
            return self._answer(request, 8, "invalid list", "")
        self.batches.append((request.path, len(objects), self.last_body_bytes))
        check = check_face if inner == "FaceObject" else check_motor_vehicle
        horizon = self.now() + timedelta(seconds=2)
        statuses = []
        for i, obj in enumerate(objects):
            obj_id = str(obj.get(id_key, "")) if isinstance(obj, dict) else ""
            problems = check(obj, f"{inner}[{i}]", data=self.decode_images)
            code, text = 0, "正常"
            if problems:
                self.violations.extend(problems)
                code, text = 8, "; ".join(problems)[:200]
            elif _future_shot(obj, horizon):
                code, text = 8, "ShotTime is in the future of the 视图库's clock"
            elif self.next_codes:
                code = self.next_codes.pop(0)
                text = {0: "正常", 2: "设备忙", 4: "无效操作"}.get(code, "错误")
            elif self.busy:
                code, text = 2, "设备忙"
            elif obj_id in self.codes:
                code = self.codes[obj_id]
                text = {2: "设备忙", 4: "无效操作"}.get(code, "错误")
            self.received.append(Received(request.path, obj_id, obj, code))
            statuses.append(self._status(request, code, text, obj_id))
        if self.delay_s and request.path in self.delay_paths:
            await asyncio.sleep(self.delay_s)  # slow: it stored them, the answer comes late
        return web.json_response({"ResponseStatusListObject": {"ResponseStatusObject": statuses}})


def _future_shot(obj: dict[str, Any], horizon: datetime) -> bool:
    images = obj.get("SubImageList", {}).get("SubImageInfoObject", [])
    for im in images:
        shot = datetime.strptime(im["ShotTime"], "%Y%m%d%H%M%S").replace(tzinfo=CST)
        if shot > horizon:
            return True
    return False


async def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    """Poll a condition (no fixed sleeps); fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)
