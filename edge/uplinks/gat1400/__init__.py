"""`type: gat1400`: a 视图库 of the public-security video network (see docs/police-uplink.md)."""

from edge.uplinks.gat1400.config import Gat1400Config as CONFIG
from edge.uplinks.gat1400.sender import Gat1400Uplink as UPLINK

__all__ = ["CONFIG", "UPLINK"]
