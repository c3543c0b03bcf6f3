"""`buses:`: one entry per RS-485 line or Modbus TCP endpoint; devices name theirs by `id`.

Timing lives on the bus, not the device, because it is a property of the wire and the
converter: every device on a line shares its baud rate, its gap and its turnaround.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge.config.types import AtKey, PositiveSeconds, Seconds, Section


class BusBase(Section):
    id: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$", title="Bus ID", description="Devices name their bus by it."
    )
    timeout_s: PositiveSeconds = Field(
        default=1.0, title="Request timeout", description="Per request, before a retry."
    )
    retries: int = Field(
        default=1,
        ge=0,
        le=10,
        title="Retries",
        description="Per request, while the device answers; a device that stopped answering "
        "gets one attempt per backoff period, so it costs the others one timeout at most.",
    )
    backoff_initial_s: PositiveSeconds = Field(
        default=5.0,
        title="First backoff",
        description="Wait before trying a device again after it stopped answering; doubles "
        "on each further failure (never shorter than the device's poll interval).",
    )
    backoff_max_s: PositiveSeconds = Field(
        default=300.0, title="Longest backoff", description="Cap for the doubling backoff."
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> BusBase:
        if self.backoff_max_s < self.backoff_initial_s:
            raise AtKey("backoff_max_s", "must be at least backoff_initial_s")
        return self


class SerialBusConfig(BusBase):
    """One RS-485 line: a local port, `socket://host:port` or `rfc2217://host:port`."""

    type: Literal["serial"] = Field(title="Type", description="A serial line (RS-485).")
    port: str = Field(title="Port", description="/dev/ttyUSB0, socket://10.0.0.5:4001, ...")
    baudrate: int = Field(
        default=2400, gt=0, title="Baud rate", description="Meters: 2400 (old 1200); sensors: 9600."
    )
    parity: Literal["N", "E", "O"] = Field(
        default="E", title="Parity", description="DL/T 645 and CJ/T 188 use even (E)."
    )
    bytesize: Literal[7, 8] = Field(default=8, title="Data bits", description="Almost always 8.")
    stopbits: Literal[1, 2] = Field(default=1, title="Stop bits", description="Usually 1.")
    inter_frame_gap_s: Seconds = Field(
        default=0.02,
        le=2,
        title="Inter-frame gap",
        description="Silence kept between transactions; slow meters and converters need it.",
    )


class ModbusTcpBusConfig(BusBase):
    """A Modbus TCP endpoint (a sensor or an RS-485 gateway)."""

    type: Literal["modbus_tcp"] = Field(title="Type", description="A Modbus TCP endpoint.")
    host: str = Field(title="Host", description="Name or address of the sensor or gateway.")
    port: int = Field(
        default=502, gt=0, le=65535, title="TCP port", description="502 unless changed."
    )


BusConfig = Annotated[SerialBusConfig | ModbusTcpBusConfig, Field(discriminator="type")]
