"""Downlink commands over a real broker: signed, validated, idempotent, audited."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from mqtt_broker import Broker
from mqtt_hub import HubClient
from uplink_helpers import GATEWAY, SECRET, SITE, DaemonFactory, wait_until

from edge.access import AccessLists
from edge.app import Daemon
from edge.uplinks.mqtt.commands import sign
from edge.uplinks.mqtt.wire import HealthData, HealthMessage, StatusMessage

PREFIX = f"compound/{SITE}"


def command(
    name: str,
    args: dict[str, Any],
    request_id: str,
    secret: str = SECRET,
    site: str = SITE,
    age_s: float = 0,
    body_name: str | None = None,
) -> str:
    body = json.dumps(
        {
            "schema": "compound-edge/cmd/1",
            "request_id": request_id,
            "name": body_name or name,
            "site": site,
            "ts": (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat(),
            "by": "operator-7",
            "args": args,
        },
        ensure_ascii=False,
    )
    return json.dumps({"body": body, "signature": sign(secret, body)})


def signed(name: str, body: str) -> str:
    return json.dumps({"body": body, "signature": sign(SECRET, body)})


async def send(hub: HubClient, name: str, payload: str, request_id: str) -> dict[str, Any]:
    before = len(hub.on(f"/cmd-reply/{request_id}"))
    await hub.publish(f"{PREFIX}/cmd/{name}", payload)
    await wait_until(lambda: len(hub.on(f"/cmd-reply/{request_id}")) > before, 10, "reply")
    body: dict[str, Any] = hub.on(f"/cmd-reply/{request_id}")[-1].body
    return body


def audit_rows(d: Daemon) -> list[sqlite3.Row]:
    conn = sqlite3.connect(d.store.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM audit ORDER BY id").fetchall()
    finally:
        conn.close()


class FakeGate:
    """Gate drivers come later; this stands in for one so the path to it is tested."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str]] = []

    async def open_gate(self, *, reason: str, actor: str) -> dict[str, Any]:
        self.opened.append((reason, actor))
        return {"opened": True}


async def ready(hub: HubClient, daemon: DaemonFactory, broker: Broker) -> Daemon:
    d = await daemon(broker.url)
    await wait_until(lambda: d.rt.services["uplink.hub"].state == "connected", 10, "connect")
    return d


def forgeries(genuine: str) -> list[tuple[str, str]]:
    """Variants of a genuine envelope that must all fail authentication."""
    env = json.loads(genuine)
    body, sig = env["body"], env["signature"]
    flipped = sig[:32] + "".join("0" if c != "0" else "1" for c in sig[32:])
    return [
        ("another secret", command("gate_open", GATE_ARGS, "req-forged", secret="x" * 20)),
        ("unsigned", json.dumps({"body": body})),
        ("right first half, wrong rest", json.dumps({"body": body, "signature": flipped})),
        ("first 8 characters only", json.dumps({"body": body, "signature": sig[:8]})),
        ("one character short", json.dumps({"body": body, "signature": sig[:-1]})),
        ("one character long", json.dumps({"body": body, "signature": sig + "0"})),
        (
            "body altered",
            json.dumps({"body": body.replace("let me in", "let us in"), "signature": sig}),
        ),
        ("not JSON", "garbage"),
    ]


GATE_ARGS = {"gate": "gate-1", "reason": "let me in"}


async def test_forged_commands_get_no_reply_and_are_counted_and_audited(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await ready(hub, daemon, broker)
    gate = FakeGate()
    d.rt.services["device.gate-1"] = gate
    genuine = command("gate_open", GATE_ARGS, "req-forged")
    forged = forgeries(genuine)
    for _what, payload in forged:
        await hub.publish(f"{PREFIX}/cmd/gate_open", payload)
    # Commands are screened in arrival order: once the genuine one is answered, every
    # forgery before it has been seen, and none of them was answered on its request ID.
    reply = await send(hub, "gate_open", genuine, "req-forged")
    assert reply["ok"] is True and reply["result"] == {"gate": "gate-1", "opened": True}
    assert [m.body["status"] for m in hub.on("/cmd-reply/req-forged")] == ["done"]
    assert not hub.on("/cmd-reply/unknown")
    assert gate.opened == [("let me in", "hub:operator-7")]
    counts = d.rt.health_providers["uplink.hub"]()["commands"]
    assert counts["unauthenticated"] == len(forged), [w for w, _ in forged]
    rows = [r for r in audit_rows(d) if r["action"].startswith("cmd.")]
    assert [json.loads(r["detail"])["status"] for r in rows] == ["unauthenticated"] * len(
        forged
    ) + ["done"]
    assert rows[-1]["target"] == "req-forged" and rows[0]["target"] == ""
    # The gate was opened by the same audited action the page and the CLI call, as the hub.
    (opened,) = [r for r in audit_rows(d) if r["action"] == "gate.open"]
    assert (opened["actor"], opened["target"]) == ("hub:operator-7", "gate-1")
    assert json.loads(opened["detail"])["outcome"] == "done"


async def test_bad_schema_stale_and_misrouted_commands_are_refused_clearly(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    await ready(hub, daemon, broker)
    cases = [
        ("gate_open", "r1", command("gate_open", {"gate": "g"}, "r1"), "reason: Field required"),
        ("diag", "r2", command("diag", {}, "r2", age_s=3600), "command is 3600 s old"),
        ("diag", "r3", command("diag", {}, "r3", site="32010600002160000009"), "is for site"),
        ("diag", "r4", command("diag", {}, "r4", body_name="allowlist"), "arrived on cmd/diag"),
        ("diag", "unknown", signed("diag", "{not json"), "bad command body"),
        (
            "diag",
            "unknown",
            signed("diag", '{"request_id": "r5", "args": ' + "[" * 5000 + "]" * 5000 + "}"),
            "bad command body",
        ),
    ]
    for name, rid, payload, expected in cases:
        reply = await send(hub, name, payload, rid)
        assert reply["status"] == "rejected", payload
        assert expected in reply["error"], (expected, reply["error"])


async def test_allowlist_replace_and_patch_are_idempotent_by_request_id(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await ready(hub, daemon, broker)
    lists = AccessLists(d.store)
    replace = {
        "changes": [
            {"list": "plates", "mode": "replace", "entries": ["苏A 12345", {"plate": "苏B66666"}]},
            {"list": "residents", "mode": "replace", "entries": [{"id": "r-1", "unit": "3-201"}]},
        ]
    }
    reply = await send(hub, "allowlist", command("allowlist", replace, "al-1"), "al-1")
    assert reply["ok"], reply
    assert [(x["list"], x["count"]) for x in reply["result"]["lists"]] == [
        ("plates", 2),
        ("residents", 1),
    ]
    assert await lists.contains("plates", "苏A12345")
    patch = {
        "changes": [
            {"list": "plates", "mode": "patch", "add": ["苏C00001"], "remove": ["苏A12345"]}
        ]
    }
    first = await send(hub, "allowlist", command("allowlist", patch, "al-2"), "al-2")
    again = await send(hub, "allowlist", command("allowlist", patch, "al-2"), "al-2")
    assert first["ok"] and again["duplicate"] is True
    assert again["result"] == first["result"], "a repeat gets the first reply, not a rerun"
    assert sorted(await lists.entries("plates")) == ["苏B66666", "苏C00001"]
    assert (await lists.versions())["plates"]["version"] == 2
    bad = {"changes": [{"list": "plates", "mode": "replace", "entries": ["苏D11111", "x"]}]}
    reply = await send(hub, "allowlist", command("allowlist", bad, "al-3"), "al-3")
    assert reply["status"] == "failed" and "not a plate number" in reply["error"]
    assert sorted(await lists.entries("plates")) == ["苏B66666", "苏C00001"], "all or nothing"
    envelope = [
        json.loads(r["detail"])["status"] for r in audit_rows(d) if r["action"] == "cmd.allowlist"
    ]
    assert envelope == ["done", "done", "duplicate", "failed"]
    # Each run (not the duplicate) went through the audited action, as actor kind `hub`.
    changes = [r for r in audit_rows(d) if r["action"] == "access.change"]
    assert [json.loads(r["detail"])["outcome"] for r in changes] == ["done", "done", "refused"]
    assert {r["actor"] for r in changes} == {"hub:operator-7"}


async def test_allowlist_takes_visitor_passes(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await ready(hub, daemon, broker)
    visitor = {
        "id": "v-1",
        "plate": "湘A11111",
        "host": "3-201",
        "valid_from": "2026-12-06T09:00:00",
        "valid_until": "2026-12-06T18:00:00",
        "entries": None,
    }
    add = {"changes": [{"list": "visitors", "mode": "patch", "add": [visitor]}]}
    reply = await send(hub, "allowlist", command("allowlist", add, "vi-1"), "vi-1")
    assert reply["ok"], reply
    entries = await AccessLists(d.store).entries("visitors")
    assert entries["v-1"]["plate"] == "湘A11111" and entries["v-1"]["entries"] is None
    bad = {"changes": [{"list": "visitors", "mode": "patch", "add": [{**visitor, "id": "v-2",
           "valid_until": "2026-12-06T08:00:00"}]}]}  # fmt: skip
    reply = await send(hub, "allowlist", command("allowlist", bad, "vi-2"), "vi-2")
    assert reply["status"] == "failed" and "valid_until" in reply["error"]


async def test_diag_returns_the_health_summary(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await ready(hub, daemon, broker)
    reply = await send(hub, "diag", command("diag", {}, "d-1"), "d-1")
    (audited,) = [r for r in audit_rows(d) if r["action"] == "diag"]
    assert audited["actor"] == "hub:operator-7"
    health = reply["result"]["health"]
    assert health["status"] in ("ok", "degraded")
    assert [o["dest"] for o in health["outbox"]] == ["hub"]
    assert any(t["name"] == "uplink.hub" and t["state"] == "running" for t in health["tasks"])
    HealthData.model_validate(health)
    status = hub.on("/status")[-1].body
    assert StatusMessage.model_validate(status).state == "online"
    assert status["gateway"] == GATEWAY
    await wait_until(lambda: bool(hub.on("/health")), 10, "periodic health")
    assert HealthMessage.model_validate(hub.on("/health")[-1].body).site == SITE


async def test_fire_mode_from_the_hub_is_the_audited_action_the_page_calls(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await ready(hub, daemon, broker)
    keeper = d.rt.services["access"]
    on = {"on": True, "reason": "fire reported by the district centre"}
    reply = await send(hub, "fire_mode", command("fire_mode", on, "f-1"), "f-1")
    assert reply["ok"] is True and reply["result"]["changed"] is True, reply
    assert keeper.fire.on and keeper.fire.by == "hub:operator-7"
    alarms = [a for a in await d.store.alarms(state="raised") if a["key"] == "access:fire_mode"]
    assert len(alarms) == 1 and alarms[0]["severity"] == "critical"
    off = {"on": False, "reason": "all clear"}
    reply = await send(hub, "fire_mode", command("fire_mode", off, "f-2"), "f-2")
    assert reply["ok"] is True and not keeper.fire.on
    rows = [r for r in audit_rows(d) if r["action"] == "access.fire_mode"]
    assert [(r["actor"], r["target"]) for r in rows] == [
        ("hub:operator-7", "on"),
        ("hub:operator-7", "off"),
    ]
    assert json.loads(rows[0]["detail"])["reason"] == on["reason"]
    reply = await send(hub, "fire_mode", command("fire_mode", {"on": True}, "f-3"), "f-3")
    assert reply["status"] == "rejected" and "reason" in reply["error"], reply
    assert not keeper.fire.on
