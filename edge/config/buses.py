from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge.config.types import PositiveSeconds, Seconds, Section


class BusBase(Section):
    id: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$", title="Bus ID", description="Devices name their bus by it."
    )
    timeout_s: PositiveSeconds = Field(
        default=1.0, title="Request timeout", description="Per request, before a retry."
    )
    retries: int = Field(default=1, ge=0, le=10, title="Retries", description="Per request.")


class SerialBusConfig(BusBase):
    """One RS-485 line: a local port, `socket://host:port` or `rfc2217://host:port`."""

    type: Literal["serial"]
    port: str = Field(title="Port", description="/dev/ttyUSB0, socket://10.0.0.5:4001, ...")
    baudrate: int = Field(default=2400, gt=0, title="Baud rate")
    parity: Literal["N", "E", "O"] = Field(default="E", title="Parity")
    bytesize: Literal[7, 8] = Field(default=8, title="Data bits")
    stopbits: Literal[1, 2] = Field(default=1, title="Stop bits")
    inter_frame_gap_s: Seconds = Field(
        default=0.02,
        le=2,
        title="Inter-frame gap",
        description="Silence kept between transactions; slow meters and converters need it.",
    )


class ModbusTcpBusConfig(BusBase):
    """A Modbus TCP endpoint (a sensor or an RS-485 gateway)."""

    type: Literal["modbus_tcp"]
    host: str = Field(title="Host")
    port: int = Field(default=502, gt=0, le=65535, title="TCP port")


BusConfig = Annotated[SerialBusConfig | ModbusTcpBusConfig, Field(discriminator="type")]
