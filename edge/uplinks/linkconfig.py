"""What every connected destination configures the same way (the link kit's half of
each uplink's CONFIG): reconnect pacing, when an outage makes the gateway
`degraded`, and the data policy. A new destination subclasses `LinkConfig` and
adds `type: Literal["..."]` and its protocol's own fields."""

from __future__ import annotations

from pydantic import Field, model_validator

from edge.config.types import PositiveSeconds, Seconds
from edge.config.uplinks import UplinkBase
from edge.uplinks.policy import DataPolicy


class LinkConfig(UplinkBase):
    connect_timeout_s: PositiveSeconds = Field(
        default=10,
        title="Connect timeout",
        description="For the connection and single requests; 3 × this without any "
        "acknowledgement while records are in flight counts as a dead connection.",
    )
    reconnect_initial_s: PositiveSeconds = Field(
        default=1,
        title="First reconnect delay",
        description="Doubles per failed attempt (jittered), up to reconnect_max_s.",
    )
    reconnect_max_s: PositiveSeconds = Field(
        default=60, title="Longest reconnect delay", description="Cap of the backoff."
    )
    degraded_after_s: Seconds = Field(
        default=300,
        le=7 * 86400,
        title="Outage before degraded (s)",
        description="The daemon reports `degraded` once this destination has been "
        "unreachable this long (0: at the first failed attempt).",
    )
    policy: DataPolicy = Field(
        default_factory=DataPolicy,
        title="Data policy",
        description="Fields dropped or masked and image roles withheld for this destination.",
    )

    @model_validator(mode="after")
    def _backoff(self) -> LinkConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must not be below reconnect_initial_s")
        return self
