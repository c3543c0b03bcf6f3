"""The console's security as an attacker on the guard-room LAN, or a guard, would meet it."""

from __future__ import annotations

import aiohttp
from webauth import PASSWORDS, browser_like, daemon_headers, login

from edge.app import Daemon


async def test_nothing_but_login_health_and_static_answers_without_a_session(
    console: tuple[Daemon, str],
) -> None:
    _, url = console
    async with browser_like() as http:
        for path in ("/api/events", "/api/alarms", "/api/devices", "/api/queue", "/api/auth/me"):
            async with http.get(url + path) as r:
                assert r.status == 401, path
        async with http.post(url + "/api/gates/g1/open", json={"reason": "x"}) as r:
            assert r.status == 401
        async with http.get(url + "/", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login"
        for path in ("/login", "/api/health", "/static/i18n/zh-CN.json"):
            async with http.get(url + path) as r:
                assert r.status in (200, 503), path


async def test_a_guard_logs_in_sees_events_and_logs_out(console: tuple[Daemon, str]) -> None:
    _, url = console
    async with browser_like() as http:
        csrf = await login(http, url, "zhang", PASSWORDS["zhang"])
        cookie = next(c for c in http.cookie_jar if c.key == "edge_session")
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        async with http.get(url + "/api/events") as r:
            assert r.status == 200
        async with http.get(url + "/api/auth/me") as r:
            assert (await r.json())["role"] == "guard"
        async with http.post(url + "/api/auth/logout", headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200
        async with http.get(url + "/api/events") as r:
            assert r.status == 401


async def test_a_wrong_password_is_refused_and_guessing_is_rate_limited(
    console: tuple[Daemon, str],
) -> None:
    d, url = console
    async with browser_like() as http:
        for _ in range(3):  # login_attempts: 3
            body = {"user": "zhang", "password": "wrong-guess"}
            async with http.post(url + "/api/auth/login", json=body) as r:
                assert r.status == 401
        body = {"user": "zhang", "password": PASSWORDS["zhang"]}
        async with http.post(url + "/api/auth/login", json=body) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) > 0
        # the same address is also stopped for another name
        body = {"user": "li", "password": PASSWORDS["li"]}
        async with http.post(url + "/api/auth/login", json=body) as r:
            assert r.status == 429
    refused = [a for a in await d.store.audit_entries(action="login")]
    assert sum(a["detail"]["outcome"] == "refused" for a in refused) == 3


async def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(
    console: tuple[Daemon, str],
) -> None:
    _, url = console
    async with browser_like() as http:
        body = {"user": "nobody", "password": "whatever-1"}
        async with http.post(url + "/api/auth/login", json=body) as r:
            assert r.status == 401
            assert (await r.json())["error"] == "wrong user name or password"


async def test_state_changes_need_the_csrf_token_and_a_same_origin(
    console: tuple[Daemon, str],
) -> None:
    _, url = console
    async with browser_like() as http:
        csrf = await login(http, url, "zhang", PASSWORDS["zhang"])
        async with http.post(url + "/api/alarms/nope/ack", json={}) as r:
            assert r.status == 403 and "CSRF" in (await r.json())["error"]
        async with http.post(
            url + "/api/alarms/nope/ack", json={}, headers={"X-CSRF-Token": csrf + "x"}
        ) as r:
            assert r.status == 403
        evil = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        async with http.post(url + "/api/alarms/nope/ack", json={}, headers=evil) as r:
            assert r.status == 403
        async with http.post(
            url + "/api/alarms/nope/ack", json={}, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 409  # through the gate: the alarm does not exist


async def test_a_guard_cannot_reach_installer_routes(console: tuple[Daemon, str]) -> None:
    _, url = console
    async with browser_like() as guard, browser_like() as installer:
        await login(guard, url, "zhang", PASSWORDS["zhang"])
        await login(installer, url, "li", PASSWORDS["li"])
        async with guard.get(url + "/api/queue") as r:
            assert r.status == 403
        async with installer.get(url + "/api/queue") as r:
            assert r.status == 200


async def test_an_alarm_ack_is_audited_with_the_logged_in_user_not_the_body(
    console: tuple[Daemon, str],
) -> None:
    d, url = console
    alarm = await d.store.raise_alarm("door.forced", "d1", "东门被撬", "critical")
    async with browser_like() as http:
        csrf = await login(http, url, "zhang", PASSWORDS["zhang"])
        body = {"by": "someone else", "note": "已到现场"}
        async with http.post(
            f"{url}/api/alarms/{alarm.id}/ack", json=body, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 200
    entry = (await d.store.audit_entries(action="alarm.ack"))[0]
    assert entry["actor"] == "user:zhang"


async def test_the_local_token_lets_the_cli_in_as_the_user_it_names(
    console: tuple[Daemon, str],
) -> None:
    d, url = console
    assert d.web.token_file is not None and d.web.token_file.stat().st_mode & 0o077 == 0
    async with (
        aiohttp.ClientSession(headers=daemon_headers(d)) as http,
        http.get(url + "/api/queue") as r,
    ):
        assert r.status == 200
    async with (
        aiohttp.ClientSession(headers={"Authorization": "Bearer guessed"}) as http,
        http.get(url + "/api/events") as r,
    ):
        assert r.status == 401


async def test_every_answer_carries_the_security_headers(console: tuple[Daemon, str]) -> None:
    _, url = console
    async with browser_like() as http:
        for path in ("/login", "/api/events", "/static/auth/login.js"):
            async with http.get(url + path) as r:
                csp = r.headers["Content-Security-Policy"]
                assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
                assert r.headers["X-Content-Type-Options"] == "nosniff"
