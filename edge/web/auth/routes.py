"""Login, logout and "who am I" for the console."""

from __future__ import annotations

import json
import math
from pathlib import Path

from aiohttp import web

from edge.web.auth import passwords
from edge.web.auth.guard import PRINCIPAL, Gatekeeper
from edge.web.auth.policy import EVERYONE, PUBLIC, add
from edge.web.auth.ratelimit import LoginLimiter
from edge.web.auth.sessions import COOKIE

GATEKEEPER = web.AppKey("gatekeeper", Gatekeeper)
LIMITER = web.AppKey("login_limiter", LoginLimiter)
MAX_FIELD = 128


def _client(request: web.Request) -> str:
    return request.remote or "?"


async def login(request: web.Request) -> web.Response:
    from edge.web.api import RT  # the runtime key lives with the API

    gk, limiter = request.app[GATEKEEPER], request.app[LIMITER]
    try:
        body = await request.json()
        name, password = str(body["user"]).strip(), str(body["password"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return web.json_response({"error": 'send {"user": ..., "password": ...}'}, status=400)
    if not name or len(name) > MAX_FIELD or len(password) > MAX_FIELD:
        return web.json_response({"error": "wrong user name or password"}, status=401)
    address = _client(request)
    wait = limiter.retry_after_s(name, address)
    if wait > 0:
        return web.json_response(
            {"error": "too many failed logins, try again later", "retry_after_s": math.ceil(wait)},
            status=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    user = gk.users.get(name)
    ok = await passwords.verify(user.password_hash if user else None, password)
    store = request.app[RT].store
    if not ok or user is None:
        limiter.failed(name, address)
        await store.audit(f"user:{name}", "login", address, {"outcome": "refused"})
        return web.json_response({"error": "wrong user name or password"}, status=401)
    limiter.succeeded(name)
    session, cookie = gk.sessions.create(user.name, user.role)
    await store.audit(f"user:{name}", "login", address, {"outcome": "done"})
    resp = web.json_response(
        {
            "user": user.name,
            "role": str(user.role),
            "display_name": user.display_name,
            "csrf": session.csrf,
        }
    )
    resp.set_cookie(
        COOKIE,
        cookie,
        max_age=int(gk.sessions.max_s),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=gk.tls,
    )
    return resp


async def logout(request: web.Request) -> web.Response:
    who = request[PRINCIPAL]
    if who.session is not None:
        request.app[GATEKEEPER].sessions.end(who.session.id)
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


async def me(request: web.Request) -> web.Response:
    who = request[PRINCIPAL]
    user = request.app[GATEKEEPER].users.get(who.name)
    return web.json_response(
        {
            "user": who.name,
            "role": str(who.role),
            "display_name": user.display_name if user else who.name,
            "csrf": who.session.csrf if who.session else None,
        }
    )


def setup(
    app: web.Application, gatekeeper: Gatekeeper, limiter: LoginLimiter, static: Path
) -> None:
    app[GATEKEEPER] = gatekeeper
    app[LIMITER] = limiter

    async def login_page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(static / "login.html")

    add(app, "GET", "/login", login_page, PUBLIC)
    add(app, "POST", "/api/auth/login", login, PUBLIC)
    add(app, "POST", "/api/auth/logout", logout, EVERYONE)
    add(app, "GET", "/api/auth/me", me, EVERYONE)
