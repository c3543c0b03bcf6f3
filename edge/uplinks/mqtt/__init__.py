"""`type: mqtt`: the district hub (see docs/uplink.md for the wire format)."""

from typing import Any

from edge.uplinks.mqtt.config import MqttUplinkConfig as CONFIG
from edge.uplinks.mqtt.sender import MqttUplink as UPLINK


def _cli_test(args: Any) -> int:
    """`edge uplink test mqtt` (and `edge doctor`); imported only when run."""
    from edge.uplinks.mqtt.cli_test import run

    return run(args)


CLI_TEST = _cli_test

__all__ = ["CLI_TEST", "CONFIG", "UPLINK"]
