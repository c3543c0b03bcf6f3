"""`thresholds:` on a device (or its profile): when a point's value means an alarm."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge.config.types import Seconds, Section

Severity = Literal["info", "warning", "critical"]


class ThresholdRule(Section):
    """Raise an alarm when `point` is above (or below) a limit for `min_duration_s`.

    It clears only once the value is back past the limit by `hysteresis`, so a
    reading hovering at the limit does not open and close alarms all day.
    """

    point: str = Field(title="Point", description="Reading point name, e.g. level or smoke.")
    above: float | None = Field(default=None, title="Above", description="Alarm when value > this.")
    below: float | None = Field(default=None, title="Below", description="Alarm when value < this.")
    hysteresis: float = Field(
        default=0.0, ge=0, title="Hysteresis", description="Clear only past the limit by this."
    )
    min_duration_s: Seconds = Field(
        default=0.0, title="Minimum duration", description="Condition must hold this long."
    )
    severity: Severity = Field(
        default="warning", title="Severity", description="info, warning or critical."
    )
    name: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_.-]*$",
        title="Rule name",
        description="Part of the alarm key; defaults to <point>_above / <point>_below.",
    )
    message: str = Field(default="", title="Message", description="Shown to guards.")

    @model_validator(mode="after")
    def _one_limit(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above / below")
        return self

    @property
    def key_name(self) -> str:
        return self.name or f"{self.point}_{'above' if self.above is not None else 'below'}"
