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


async def test_forged_command_is_refused_and_audited(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    d = await ready(hub, daemon, broker)
    gate = FakeGate()
    d.rt.services["device.gate-1"] = gate
    args = {"gate": "gate-1", "reason": "let me in"}
    forged = command("gate_open", args, "req-forged", secret="not-the-shared-secret!")
    reply = await send(hub, "gate_open", forged, "req-forged")
    assert reply["ok"] is False and reply["status"] == "rejected"
    assert reply["error"] == "bad signature"
    unsigned = json.dumps({"body": json.loads(forged)["body"]})
    reply = await send(hub, "gate_open", unsigned, "req-forged")
    assert reply["error"] == "missing signature"
    assert gate.opened == []
    # The forged attempts did not burn the request ID: the genuine one still runs.
    reply = await send(hub, "gate_open", command("gate_open", args, "req-forged"), "req-forged")
    assert reply["ok"] is True and reply["result"] == {"gate": "gate-1", "opened": True}
    assert gate.opened == [("let me in", "hub:operator-7")]
    rows = audit_rows(d)
    assert [(r["action"], json.loads(r["detail"])["status"]) for r in rows] == [
        ("cmd.gate_open", "rejected"),
        ("cmd.gate_open", "rejected"),
        ("cmd.gate_open", "done"),
    ]
    assert rows[0]["target"] == "req-forged"


async def test_bad_schema_stale_and_misrouted_commands_are_refused_clearly(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    await ready(hub, daemon, broker)
    cases = [
        ("gate_open", "r1", command("gate_open", {"gate": "g"}, "r1"), "reason: Field required"),
        ("diag", "r2", command("diag", {}, "r2", age_s=3600), "command is 3600 s old"),
        ("diag", "r3", command("diag", {}, "r3", site="32010600002160000009"), "is for site"),
        ("diag", "r4", command("diag", {}, "r4", body_name="allowlist"), "arrived on cmd/diag"),
        ("diag", "unknown", '{"body": "{not json", "signature": "00"}', "bad signature"),
        ("diag", "unknown", "garbage", "bad envelope"),
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
    actions = [json.loads(r["detail"])["status"] for r in audit_rows(d)]
    assert actions == ["done", "done", "duplicate", "failed"]


async def test_diag_returns_the_health_summary(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    await ready(hub, daemon, broker)
    reply = await send(hub, "diag", command("diag", {}, "d-1"), "d-1")
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
