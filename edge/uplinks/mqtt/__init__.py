"""`type: mqtt`: the district hub (see docs/uplink.md for the wire format)."""

from edge.uplinks.mqtt.config import MqttUplinkConfig as CONFIG
from edge.uplinks.mqtt.sender import MqttUplink as UPLINK

__all__ = ["CONFIG", "UPLINK"]
