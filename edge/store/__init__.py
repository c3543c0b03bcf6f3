"""SQLite store: one writer, many readers, an outbox per destination, bounded size."""

from edge.store.alarms import Alarm
from edge.store.outbox import OutboxItem
from edge.store.space import StorageFull
from edge.store.store import Store

__all__ = ["Alarm", "OutboxItem", "StorageFull", "Store"]
