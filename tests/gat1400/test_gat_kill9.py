"""kill -9 of the daemon while a 视图库 is refusing records: nothing lost, same IDs on resend.

A real daemon (`python -m edge run`) in a subprocess drains a backlog into the
strict peer, which accepts the first records and then answers 设备忙 (busy).
The daemon is killed with SIGKILL while records are being refused; a new
daemon on the same data dir must deliver every record exactly under the IDs
the killed one had already used.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gat_helpers import REPO, config_text, plate_jpeg, scene_jpeg
from viid_peer import ViidPeer, wait_for

from edge.events import Event
from edge.store import Store

N = 40
ACCEPT_FIRST = 12


async def backlog(data_dir: Path) -> list[str]:
    """Commit N plate passes with images owed to `viid`, as the camera workers would."""
    store = Store(data_dir, destinations={"viid": lambda kind: kind in ("plate", "face")})
    await store.open()
    writer = asyncio.create_task(store.run_writer())
    ids = []
    scene, crop = scene_jpeg(), plate_jpeg()
    try:
        for i in range(N):
            images = (
                await store.save_image(scene, "scene"),
                await store.save_image(crop, "plate_crop"),
            )
            data = {
                "camera": "gate-in",
                "plate": f"苏B{i:05d}",
                "confidence": 0.9,
                "colour": "blue",
            }
            ev = await store.add_event(Event("plate", "gate-in", data, images))
            ids.append(ev.id)
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await store.close()
    return ids


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(config)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))},
        )


@pytest.mark.slow
async def test_kill9_while_refused_loses_nothing_and_resends_the_same_ids(
    peer: ViidPeer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    await backlog(data_dir)
    config = tmp_path / "edge.yaml"
    config.write_text(config_text(data_dir, peer.url, "    batch_max_objects: 4\n"))
    peer.next_codes = [0] * ACCEPT_FIRST
    peer.busy = True
    proc = start(config, tmp_path / "daemon.log")
    try:
        await wait_for(
            lambda: len(peer.ids(code=2)) >= 3 or proc.poll() is not None,
            60,
            "accepted records, then busy refusals",
        )
        assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
        os.kill(proc.pid, signal.SIGKILL)
        assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    accepted_before = set(peer.ids(code=0))
    refused_before = set(peer.ids(code=2))
    assert len(accepted_before) == ACCEPT_FIRST and refused_before

    peer.busy = False
    proc = start(config, tmp_path / "daemon.log")
    try:
        await wait_for(
            lambda: len(set(peer.ids(code=0))) >= N or proc.poll() is not None,
            60,
            f"all {N} records accepted after the restart",
        )
        assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
        accepted = set(peer.ids(code=0))
        assert len(accepted) == N, "records lost or sent under new IDs"
        assert refused_before <= accepted, "a record was resent with another ID"
        assert not peer.violations
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert peer.unregistered, "the clean stop did not unregister"
