"""Per-destination data policy: what a recipient may see of an event.

Each destination is authorised for different data (the district hub gets no
face crops and sees ID numbers only by their last digits), so the policy runs
on every record just before it is encoded for that destination. Which *kinds*
a destination gets is decided earlier, by `UplinkBase.kinds`, when the event
is committed.

Field paths are dotted and start at `data`: `data.id_number`,
`data.person.id_number`; `*` matches every key of an object or every element
of a list (`data.people.*.id_number`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import Field, field_validator

from edge.config.types import Section
from edge.events import Event, ImageRole


def _check_path(path: str) -> str:
    parts = path.split(".")
    if parts[0] != "data" or len(parts) < 2 or not all(parts):
        raise ValueError(f"field path {path!r} must look like data.<field>[.<field>...]")
    return path


class MaskRule(Section):
    """Replace a value by its last characters, e.g. 320106199001011234 → ************1234."""

    field: str = Field(title="Field path", description="Dotted path such as data.id_number.")
    keep_last: int = Field(
        default=4,
        ge=0,
        le=64,
        title="Characters kept at the end",
        description="Values no longer than twice this keep only half their characters.",
    )
    char: str = Field(
        default="*",
        min_length=1,
        max_length=1,
        title="Mask character",
        description="Replaces each hidden character.",
    )

    @field_validator("field")
    @classmethod
    def _path(cls, v: str) -> str:
        return _check_path(v)


class DataPolicy(Section):
    """Which fields are dropped or masked, and which image roles never leave."""

    drop: list[str] = Field(
        default_factory=list,
        title="Dropped fields",
        description="Dotted paths removed from `data` (e.g. data.embedding).",
    )
    mask: list[MaskRule] = Field(
        default_factory=list,
        title="Masked fields",
        description="Dotted paths whose values are masked but for their last characters.",
    )
    drop_image_roles: list[ImageRole] = Field(
        default_factory=list,
        title="Image roles withheld",
        description="Images with these roles are neither sent nor referenced: "
        + ", ".join(r.value for r in ImageRole)
        + " (one vocabulary with the producers, so a misspelt role is a config error).",
    )

    @field_validator("drop")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        return [_check_path(p) for p in v]


def mask_value(value: Any, keep_last: int, char: str = "*") -> Any:
    """Mask strings and numbers; mask every leaf of lists and objects; keep null.

    A value no longer than twice `keep_last` keeps only half its characters, so
    masking never gives a short value away whole."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return {k: mask_value(v, keep_last, char) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v, keep_last, char) for v in value]
    text = str(value)
    keep = min(keep_last, len(text) // 2) if len(text) <= keep_last * 2 else keep_last
    return char * (len(text) - keep) + (text[len(text) - keep :] if keep else "")


def _walk(node: Any, parts: list[str], fn: Any) -> None:
    """Call fn(container, key) for every match of `parts` below `node`."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else ([head] if head in node else [])
    elif isinstance(node, list):
        if head == "*":
            keys = list(range(len(node)))
        elif head.isdigit() and int(head) < len(node):
            keys = [int(head)]
        else:
            keys = []
    else:
        return
    for k in keys if rest else reversed(keys):  # deleting from a list: back to front
        if rest:
            _walk(node[k], rest, fn)
        else:
            fn(node, k)


class Policy:
    """A compiled `DataPolicy`. `apply` edits the event's `data` in place: it must be
    the caller's own copy, as the outbox's reads are (`OutboxItem`)."""

    def __init__(self, cfg: DataPolicy) -> None:
        self.cfg = cfg
        self._drop = [p.split(".")[1:] for p in cfg.drop]
        self._mask = [(m.field.split(".")[1:], m.keep_last, m.char) for m in cfg.mask]
        self._roles = {ImageRole(r) for r in cfg.drop_image_roles}
        self.empty = not (self._drop or self._mask or self._roles)

    def apply(self, event: Event) -> Event:
        if self.empty:
            return event
        for parts in self._drop:
            _walk(event.data, parts, _delete)
        for parts, keep, char in self._mask:
            _walk(event.data, parts, _masker(keep, char))
        if self._roles and event.images:
            kept = tuple(im for im in event.images if im.role not in self._roles)
            if len(kept) != len(event.images):
                event = dataclasses.replace(event, images=kept)
        return event


def _delete(container: Any, key: Any) -> None:
    del container[key]


def _masker(keep: int, char: str) -> Any:
    def fn(container: Any, key: Any) -> None:
        container[key] = mask_value(container[key], keep, char)

    return fn
