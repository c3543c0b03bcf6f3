"""SQLite store: one writer, many readers, an outbox per destination, bounded size."""

from edge.store.store import Alarm, OutboxItem, Store

__all__ = ["Alarm", "OutboxItem", "Store"]
