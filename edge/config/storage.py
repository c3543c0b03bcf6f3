from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge.config.types import AtKey, Bytes, PositiveSeconds, Section


class StorageConfig(Section):
    """Where events live and how much of the disk they may take.

    Pruning order when over budget: images of delivered events, then delivered
    records, oldest first. Records still owed to an uplink go only past
    `hard_max_bytes`, and that raises an alarm.
    """

    data_dir: Path = Field(title="Data directory", description="Database and images live here.")
    synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        title="SQLite synchronous",
        description="NORMAL (WAL): a power cut may lose the last ~batch; FULL: fsync per commit.",
    )
    batch_max_events: int = Field(
        default=2000, ge=1, le=100_000, title="Writer batch size", description="Max per commit."
    )
    retention_days: float = Field(
        default=90,
        gt=0,
        le=3660,
        title="Retention",
        description="Delivered records older are pruned.",
    )
    max_bytes: Bytes = Field(
        default=8 * 1000**3,
        title="Storage budget",
        description="Database plus images; over it, images then delivered records are pruned.",
    )
    hard_max_bytes: Bytes | None = Field(
        default=None,
        title="Hard cap",
        description="Past this, even undelivered records are pruned (with an alarm). "
        "Default: 1.25 × max_bytes.",
    )
    min_free_bytes: Bytes = Field(
        default=200 * 1000**2,
        title="Keep free on disk",
        description="Less free space than this prunes delivered data and raises the "
        "storage.disk_low alarm; less than half of it prunes undelivered data too. A reserve "
        "of half of it (at most 32 MiB) is kept for pruning and alarms on a full disk.",
    )
    prune_interval_s: PositiveSeconds = Field(
        default=60, title="Prune interval", description="How often retention runs."
    )

    @model_validator(mode="after")
    def _caps(self) -> StorageConfig:
        if self.hard_max_bytes is None:
            self.hard_max_bytes = int(self.max_bytes * 1.25)
        elif self.hard_max_bytes < self.max_bytes:
            raise AtKey("hard_max_bytes", "must be at least max_bytes")
        return self
