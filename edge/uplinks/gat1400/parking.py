"""Records a 视图库 refused for good: the recent ones with their object IDs, for health.

The record itself is parked in the store's outbox (the shared drain does it when the
object's future raises `PeerRefused`), where it stops holding the cursor back and
`edge queue` lists it with the peer's reason. This keeps what the store does not know:
the GA/T 1400 object ID and StatusCode of the recent ones, for `/api/health`.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
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
    def __init__(self) -> None:
        self.count = 0
        self.recent: deque[Parked] = deque(maxlen=RECENT)

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
        self.count += 1
        self.recent.append(p)
        return p

    def health(self) -> dict[str, Any]:
        return {
            "parked": self.count,
            "parked_recent": [
                {
                    "seq": p.seq,
                    "id": p.event_id,
                    "kind": p.kind,
                    "object_id": p.object_id,
                    "reason": p.reason,
                }
                for p in list(self.recent)[-5:]
            ],
        }
