from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.config.types import Section

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LoggingConfig(Section):
    format: Literal["human", "json"] = Field(
        default="human",
        title="Log format",
        description="json for journald/collectors, human for a terminal.",
    )
    level: Level = Field(default="INFO", title="Log level", description="Root log level.")
    levels: dict[str, Level] = Field(
        default_factory=dict,
        title="Per-logger levels",
        description="e.g. {edge.fieldbus: DEBUG} to see raw frames of one subsystem.",
    )
