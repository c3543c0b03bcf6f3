"""`type: gb28181`: the gateway as a GB/T 28181 device (see docs/police-uplink.md)."""

from edge.uplinks.gb28181.config import Gb28181UplinkConfig as CONFIG
from edge.uplinks.gb28181.uplink import Gb28181Uplink as UPLINK

__all__ = ["CONFIG", "UPLINK"]
