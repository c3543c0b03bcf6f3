"""One health summary, shared by /api/health, `edge status`, systemd STATUS and the uplinks.

Subsystems add sections with `rt.add_health(name, provider)`; a section's
`problems` list (plain sentences) makes the whole daemon `degraded`."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from edge import __version__
from edge.redact import redact_data
from edge.runtime import Runtime
from edge.sdnotify import watchdog_interval_s

log = logging.getLogger(__name__)

# How long work may wait for a successful commit before the writer counts as stuck and the
# systemd watchdog is withheld. Longer than SQLite's busy_timeout (5 s), so one slow lock
# wait is not a fault; the environment override exists for tests and slow storage.
WRITER_STUCK_S = float(os.environ.get("EDGE_WRITER_STUCK_S", "10"))


def writer_healthy(rt: Runtime) -> bool:
    """False once queued work has waited WRITER_STUCK_S without a commit succeeding,
    whether the commit hangs (dying SD card) or keeps failing (database locked)."""
    since = rt.store.stalled_since
    return since is None or time.monotonic() - since < WRITER_STUCK_S


async def summary(rt: Runtime) -> dict[str, Any]:
    tasks = [t.as_dict() for t in rt.supervisor.health()]
    problems = [
        f"task {t['name']} is {t['state']}" for t in tasks if t["state"] in ("restarting", "failed")
    ]
    if not writer_healthy(rt):
        problems.append("store writer is stuck")
    doc: dict[str, Any] = {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "version": __version__,
        "pid": os.getpid(),  # `edge logs` finds where its stderr goes (/proc/PID/fd/2)
        # The WatchdogSec systemd gave this process (None: not started under a watchdog).
        "watchdog_s": 2 * iv if (iv := watchdog_interval_s()) else None,
        "site": {
            "name": rt.config.site.name,
            "site_id": rt.config.site.site_id,
            "utc_offset": rt.config.site.utc_offset,  # so clients show times in the site's zone
        },
        "uptime_s": round(time.time() - rt.started_at, 1),
        "tasks": tasks,
        "store": rt.store.writer_health(),
        "devices": rt.devices.snapshot(),
    }
    try:
        doc["outbox"] = await rt.store.outbox_stats()
    except Exception as exc:
        doc["outbox"] = {"error": str(exc)}
    for name, provider in rt.health_providers.items():
        try:
            doc[name] = provider()
        except Exception as exc:
            doc[name] = {"error": str(exc)}
            problems.append(f"{name}: health check failed: {exc}")
            continue
        if isinstance(doc[name], dict):
            problems.extend(doc[name].get("problems", []))
    _fresh_backlogs(doc)
    doc["status"] = "degraded" if problems else "ok"
    redacted: dict[str, Any] = redact_data(doc)  # last_error texts repeat URLs with passwords
    return redacted


def _fresh_backlogs(doc: dict[str, Any]) -> None:
    """An uplink's own section keeps figures it refreshes every few seconds; the outbox
    was just read, so its section says the same as the `outbox` list of this document
    (a guard who just saw two records arrive must not read a backlog of one)."""
    if not isinstance(doc.get("outbox"), list):
        return
    for row in doc["outbox"]:
        section = doc.get(f"uplink.{row['dest']}")
        if isinstance(section, dict) and "backlog" in section:
            section["backlog"] = row["backlog"]
            section["oldest_age_s"] = row["oldest_unacked_age_s"]
            section["parked"] = row["parked"]


def status_line(doc: dict[str, Any]) -> str:
    running = sum(1 for t in doc["tasks"] if t["state"] == "running")
    backlog = sum(o.get("backlog", 0) for o in doc.get("outbox", []) if isinstance(o, dict))
    text = f"{doc['status']}: {running}/{len(doc['tasks'])} tasks running, backlog {backlog}"
    if doc["problems"]:
        text += "; " + "; ".join(doc["problems"][:3])
    return text
