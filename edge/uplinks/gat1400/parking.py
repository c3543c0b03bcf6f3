"""Records a 视图库 refused for good, kept with its reason instead of being dropped.

A parked record leaves the destination's outbox (so it stops blocking the
records behind it) and is written here first, with the peer's StatusCode and
StatusString, so `edge queue` and the page show it and an installer can fix
the cause (an APE ID the 视图库 does not know, a field it will not take).

SEAMS.md gives parking to the shared link kit (helper "uplinks"); until that
lands in the store, the lot is an append-only JSON-lines file per destination
under `<data_dir>/parked/`, written (and fsynced) before the record is
acknowledged. When the store gains `park(dest, seq, reason)`, `ParkingLot`
delegates to it and only this module changes.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RECENT = 20


@dataclass(frozen=True)
class Parked:
    seq: int
    event_id: str
    kind: str
    object_id: str
    reason: str
    status_code: int | None
    ts: float


class ParkingLot:
    def __init__(self, data_dir: Path, dest: str) -> None:
        self.path = data_dir / "parked" / f"{dest}.jsonl"
        self.count = 0
        self.recent: deque[Parked] = deque(maxlen=RECENT)
        self._lock = asyncio.Lock()
        self._load()

    def _load(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                self.recent.append(Parked(**json.loads(line)))
                self.count += 1
            except (ValueError, TypeError):
                continue  # a torn last line after a crash: the record is still in the outbox

    async def park(
        self,
        *,
        seq: int,
        event_id: str,
        kind: str,
        object_id: str,
        reason: str,
        status_code: int | None,
    ) -> Parked:
        p = Parked(seq, event_id, kind, object_id, reason[:500], status_code, time.time())
        async with self._lock:
            await asyncio.to_thread(self._append, p)
            self.count += 1
            self.recent.append(p)
        return p

    def _append(self, p: Parked) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def all(self) -> list[Parked]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(Parked(**json.loads(line)))
            except (ValueError, TypeError):
                continue
        return out

    def health(self) -> dict[str, Any]:
        return {
            "parked": self.count,
            "parked_recent": [
                {"seq": p.seq, "event_id": p.event_id, "object_id": p.object_id, "reason": p.reason}
                for p in list(self.recent)[-5:]
            ],
        }
