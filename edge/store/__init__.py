"""SQLite store: one writer, many readers, an outbox per destination, bounded size."""

from sqlite3 import IntegrityError as DuplicateEvent  # an event ID committed before

from edge.store.access import ListResult, ListRows
from edge.store.alarms import Alarm
from edge.store.outbox import OutboxItem
from edge.store.space import StorageFull
from edge.store.store import Store
from edge.store.writer import dumps, now_ms

__all__ = [
    "Alarm",
    "DuplicateEvent",
    "ListResult",
    "ListRows",
    "OutboxItem",
    "StorageFull",
    "Store",
    "dumps",
    "now_ms",
]
