"""The `health` message: the daemon's health summary, trimmed to what the hub needs."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

from edge import health
from edge.runtime import Runtime


async def health_data(rt: Runtime) -> dict[str, Any]:
    return await hub_view(rt, await health.summary(rt))


async def hub_view(rt: Runtime, doc: dict[str, Any]) -> dict[str, Any]:
    """The hub's view of a health summary (`edge.health.summary`)."""
    devices = doc.get("devices") or []
    offline = [d["device"] for d in devices if d.get("available") is False]
    outbox = doc.get("outbox") if isinstance(doc.get("outbox"), list) else []
    loop = asyncio.get_running_loop()
    disk = await loop.run_in_executor(None, shutil.disk_usage, rt.store.data_dir)
    return {
        "status": doc["status"],
        "problems": doc["problems"],
        "version": doc["version"],
        "uptime_s": doc["uptime_s"],
        "tasks": [
            {k: t[k] for k in ("name", "state", "restarts", "last_error")} for t in doc["tasks"]
        ],
        "devices": {
            "total": len(devices),
            "online": sum(1 for d in devices if d.get("available") is True),
            "offline": offline,
        },
        "outbox": [
            {
                k: o[k]
                for k in (
                    "dest",
                    "backlog",
                    "acked_seq",
                    "next_seq",
                    "dropped",
                    "oldest_unacked_age_s",
                )
            }
            for o in outbox or []
        ],
        "disk": {"free_bytes": disk.free, "total_bytes": disk.total},
    }
