"""The access lists: what an entry is, its key, and changes to them.

The rows live in the store (`edge.store.access`). A change that touches several
lists (a resident and their plate) commits in one transaction, so a gate never
sees half an update. Each list carries a version that moves on every change;
the hub reads it back in the reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from edge.config.access import AccessConfig, VisitorPass
from edge.store import Store
from edge.store.access import ListResult, ListRows

__all__ = ["LISTS", "AccessLists", "ListChange", "ListResult", "entry_key", "normalize_plate"]

ListName = Literal["plates", "plate_blocklist", "residents", "visitors"]
LISTS: tuple[ListName, ...] = ("plates", "plate_blocklist", "residents", "visitors")
KEYED_BY_ID = ("residents", "visitors")

_PLATE_NOISE = re.compile(r"[\s·•.\-_]")


def normalize_plate(text: str) -> str:
    """One spelling per plate: upper case, without the dots and spaces people type."""
    return _PLATE_NOISE.sub("", text).upper()


def entry_key(list_name: str, entry: Any) -> tuple[str, dict[str, Any]]:
    """The key an entry is stored under, and its data. Raises ValueError when malformed."""
    if list_name not in LISTS:
        raise ValueError(f"unknown list {list_name!r} (known: {', '.join(LISTS)})")
    if list_name == "residents":
        if not isinstance(entry, dict) or not str(entry.get("id", "")).strip():
            raise ValueError("a resident is an object with a non-empty 'id'")
        return str(entry["id"]).strip(), dict(entry)
    if list_name == "visitors":
        if not isinstance(entry, dict):
            raise ValueError("a visitor pass is an object with id, plate or face, valid_from/until")
        try:
            visitor = VisitorPass.model_validate(entry)
        except ValidationError as exc:
            where = entry.get("id", "?")
            raise ValueError(f"visitor pass {where!r}: {_first_error(exc)}") from None
        return visitor.id, visitor.model_dump(mode="json")
    data = {"plate": entry} if isinstance(entry, str) else entry
    if not isinstance(data, dict) or not isinstance(data.get("plate"), str):
        raise ValueError("a plate entry is a string or an object with 'plate'")
    key = normalize_plate(data["plate"])
    if not 5 <= len(key) <= 10:
        raise ValueError(f"{data['plate']!r} is not a plate number")
    return key, {**data, "plate": key}


@dataclass(frozen=True)
class ListChange:
    """`replace` sets the whole list to `entries`; `patch` adds (or updates) `add`
    and deletes `remove` (keys, or entries whose key is taken)."""

    name: str
    mode: Literal["replace", "patch"]
    entries: list[Any] = field(default_factory=list)
    add: list[Any] = field(default_factory=list)
    remove: list[Any] = field(default_factory=list)


def _removal_key(list_name: str, item: Any) -> str:
    if isinstance(item, str):
        return normalize_plate(item) if list_name not in KEYED_BY_ID else item.strip()
    return entry_key(list_name, item)[0]


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    where = ".".join(str(x) for x in e["loc"])
    return f"{where}: {e['msg']}" if where else str(e["msg"])


def normalise(ch: ListChange) -> ListRows:
    """The change with every entry keyed and checked; ValueError names the entry at fault."""
    if ch.name not in LISTS:
        raise ValueError(f"unknown list {ch.name!r} (known: {', '.join(LISTS)})")
    if ch.mode not in ("replace", "patch"):
        raise ValueError(f"mode is replace or patch, not {ch.mode!r}")
    if ch.mode == "replace":
        return ListRows(ch.name, "replace", dict(entry_key(ch.name, e) for e in ch.entries))
    return ListRows(
        ch.name,
        "patch",
        dict(entry_key(ch.name, e) for e in ch.add),
        [_removal_key(ch.name, item) for item in ch.remove],
    )


class AccessLists:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def apply(self, changes: list[ListChange], actor: str) -> list[ListResult]:
        """Validate every change first (naming the entry at fault), then apply them all in
        one transaction (all or nothing)."""
        return await self.store.apply_access_changes([normalise(ch) for ch in changes], actor)

    async def seed(self, cfg: AccessConfig) -> list[str]:
        """Load the config's lists into the store, once: a list the hub (or an
        earlier seed) has set is left alone. Returns the lists seeded."""
        return await self.store.seed_access_lists(
            [
                normalise(ListChange("plates", "replace", list(cfg.plate_allowlist))),
                normalise(ListChange("plate_blocklist", "replace", list(cfg.plate_blocklist))),
                normalise(
                    ListChange(
                        "visitors", "replace", [v.model_dump(mode="json") for v in cfg.visitors]
                    )
                ),
            ]
        )

    async def entries(self, list_name: str) -> dict[str, dict[str, Any]]:
        return await self.store.access_entries(list_name)

    async def contains(self, list_name: str, key: str) -> bool:
        k = normalize_plate(key) if list_name not in KEYED_BY_ID else key
        return await self.store.access_contains(list_name, k)

    async def versions(self) -> dict[str, dict[str, Any]]:
        return await self.store.access_versions()
