"""The bus entry a Modbus device test runs over: Modbus TCP, or RTU framing through a
`socket://` serial URL to the same simulator (no cable, the same timing rules)."""

from __future__ import annotations

from typing import Any


def modbus_bus(framing: str, host: str, port: int) -> dict[str, Any]:
    if framing == "tcp":
        return {"id": "b", "type": "modbus_tcp", "host": host, "port": port, "timeout_s": 0.3}
    return {
        "id": "b",
        "type": "serial",
        "port": f"socket://{host}:{port}",
        "baudrate": 9600,
        "parity": "N",
        "timeout_s": 0.3,
        "inter_frame_gap_s": 0.005,
    }
