"""Actions: each entry point (API, CLI, a direct caller such as a rule) leaves one audit
row naming its actor, the reason and the outcome; refusals are audited too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from webauth import PASSWORDS, browser_like, login, with_users

from edge import actions
from edge.actions import ActionRefused, Actor
from edge.app import Daemon
from edge.cli.main import main
from edge.config import parse_config


class RecordingGate:
    """A gate driver's contract (`GateOpener`); gate drivers come with access control."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str]] = []

    async def open_gate(self, *, reason: str, actor: str) -> dict[str, Any]:
        self.opened.append((reason, actor))
        return {"opened": True}


@pytest.fixture
async def daemon(minimal_yaml: str) -> AsyncIterator[tuple[Daemon, str, RecordingGate]]:
    d = Daemon(parse_config(with_users(minimal_yaml), "edge.yaml", {}))
    await d.start()
    gate = RecordingGate()
    d.rt.services["device.gate-1"] = gate
    yield d, f"http://127.0.0.1:{d.web.port}", gate
    await d.stop()


def _rows(audit: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    return [
        (a["actor"], a["action"], a["target"], a["detail"]["reason"], a["detail"]["outcome"])
        for a in reversed(audit)
    ]


async def test_the_cli_acts_through_the_daemon_as_itself(
    daemon: tuple[Daemon, str, RecordingGate],
) -> None:
    d, url, gate = daemon
    alarm = await d.store.raise_alarm("smoke:b1", "sm-1", "烟感报警", severity="critical")

    def edge(*argv: str) -> int:
        return main([*argv, "--url", url, "--by", "王工", "--token-file", str(d.web.token_file)])

    assert await asyncio.to_thread(edge, "alarm", "ack", alarm.id, "--note", "on my way") == 0
    assert await asyncio.to_thread(edge, "alarm", "close", alarm.id) == 0
    assert await asyncio.to_thread(edge, "alarm", "close", alarm.id) == 1  # already closed
    assert await asyncio.to_thread(edge, "gate", "open", "gate-1", "--reason", "delivery") == 0
    assert await asyncio.to_thread(edge, "gate", "open", "gate-9", "--reason", "test") == 1
    assert gate.opened == [("delivery", "cli:王工")]
    [row] = await d.store.alarms()
    assert row["state"] == "closed" and row["closed_by"] == "王工"
    assert _rows(await d.store.audit_entries()) == [
        ("cli:王工", "alarm.ack", alarm.id, "on my way", "done"),
        ("cli:王工", "alarm.close", alarm.id, "", "done"),
        ("cli:王工", "alarm.close", alarm.id, "", "refused"),
        ("cli:王工", "gate.open", "gate-1", "delivery", "done"),
        ("cli:王工", "gate.open", "gate-9", "test", "refused"),
    ]


async def test_the_api_opens_a_gate_as_the_guard_who_asked(
    daemon: tuple[Daemon, str, RecordingGate],
) -> None:
    d, url, gate = daemon
    async with browser_like() as http:
        h = {"X-CSRF-Token": await login(http, url, "zhang", PASSWORDS["zhang"])}
        body = {"by": "someone else", "reason": "visitor at the door"}
        async with http.post(f"{url}/api/gates/gate-1/open", json=body, headers=h) as resp:
            assert resp.status == 200 and (await resp.json())["result"]["opened"] is True
        async with http.post(f"{url}/api/gates/gate-1/open", json={}, headers=h) as resp:
            assert resp.status == 400 and "why" in (await resp.json())["error"]
        async with http.post(f"{url}/api/gates/lobby/open", json=body, headers=h) as resp:
            assert resp.status == 409 and "no gate 'lobby'" in (await resp.json())["error"]
    assert gate.opened == [("visitor at the door", "user:zhang")]
    assert _rows(await d.store.audit_entries(action="gate.open")) == [
        ("user:zhang", "gate.open", "gate-1", "visitor at the door", "done"),
        ("user:zhang", "gate.open", "lobby", "visitor at the door", "refused"),
    ]


async def test_direct_callers_are_audited_and_refusals_name_the_fault(
    daemon: tuple[Daemon, str, RecordingGate],
) -> None:
    from edge.access import ListChange

    d, _, _ = daemon
    rule = Actor("rule", "night-lockdown")
    result = await actions.change_access_lists(
        d.rt,
        [ListChange("plates", "patch", add=["苏A·12345"])],
        actor=rule,
        reason="new tenant",
    )
    assert result.data["lists"][0]["count"] == 1
    with pytest.raises(ActionRefused, match="not a plate number"):
        await actions.change_access_lists(
            d.rt, [ListChange("plates", "patch", add=["x"])], actor=rule, reason="typo"
        )
    diag = await actions.request_diag(d.rt, actor=Actor("system", "selftest"), reason="boot")
    assert diag.data["health"]["status"] == "ok"
    assert _rows(await d.store.audit_entries()) == [
        ("rule:night-lockdown", "access.change", "plates", "new tenant", "done"),
        ("rule:night-lockdown", "access.change", "plates", "typo", "refused"),
        ("system:selftest", "diag", "health", "boot", "done"),
    ]
    with pytest.raises(ValueError):
        Actor("robot", "x")  # type: ignore[arg-type]
