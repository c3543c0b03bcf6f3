"""Who may pass: the plate allowlist and blocklist and the resident list.

The lists live in the store (so a restart keeps what the hub last sent); the
config's `access:` section seeds them once, and the hub's `cmd/allowlist`
replaces or patches them. Gate decisions come in a later wave.
"""

from edge.access.gates import GateOpener, find_gate
from edge.access.lists import LISTS, AccessLists, ListChange, ListResult, normalize_plate

__all__ = [
    "LISTS",
    "AccessLists",
    "GateOpener",
    "ListChange",
    "ListResult",
    "find_gate",
    "normalize_plate",
]
