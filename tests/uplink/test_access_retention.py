"""Access lists seed once; owed records pruned past the hard cap show as a seq gap."""

from __future__ import annotations

from pathlib import Path

from mqtt_broker import Broker
from mqtt_hub import HubClient
from uplink_helpers import DaemonFactory, config_text, wait_until

import edge.access
from edge.access import AccessLists, ListChange
from edge.app import Daemon
from edge.config import parse_config
from edge.events import Event
from edge.store.retention import Retention


async def test_config_seeds_the_lists_once_at_start(tmp_path: Path) -> None:
    text = (
        config_text(tmp_path / "data", "")
        + 'access:\n  plate_allowlist: ["苏A12345", "苏a 6666 6"]\n'
    )
    d = Daemon(parse_config(text, "test.yaml", {}))
    await d.start()
    try:
        lists = AccessLists(d.store)
        assert sorted(await lists.entries("plates")) == ["苏A12345", "苏A66666"]
        await lists.apply([ListChange("plates", "patch", remove=["苏A12345"])], "hub:test")
        await edge.access.start(d.rt)  # a restart with the same config
        assert sorted(await lists.entries("plates")) == ["苏A66666"], "a hub change is not undone"
    finally:
        await d.stop()


async def test_owed_records_pruned_past_the_hard_cap_show_as_a_gap(
    broker: Broker, hub: HubClient, daemon: DaemonFactory
) -> None:
    await broker.stop()
    d = await daemon(broker.url)
    for i in range(10):
        await d.store.add_event(Event("alarm", "smoke-1", {"n": i}))
    tiny = d.config.storage.model_copy(update={"max_bytes": 1, "hard_max_bytes": 1})
    res = await Retention(d.store, tiny).run_once()
    assert res.owed == 10
    kept = [Event("access", "door-1", {"n": i}) for i in range(3)]
    for e in kept:
        await d.store.add_event(e)
    await broker.start()
    await wait_until(lambda: len(hub.events()) >= 3, 15, "the records still owed")
    assert [m["seq"] for m in hub.events()] == [11, 12, 13]
    stats = (await d.store.outbox_stats())[0]
    assert stats["dropped"] == 10
