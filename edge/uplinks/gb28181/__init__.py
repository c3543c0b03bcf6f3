"""`type: gb28181`: the gateway as a GB/T 28181 device (see docs/police-uplink.md)."""

from typing import Any

from edge.uplinks.gb28181.config import Gb28181UplinkConfig as CONFIG
from edge.uplinks.gb28181.uplink import Gb28181Uplink as UPLINK


def _cli_test(args: Any) -> int:
    """`edge uplink test gb28181` (and `edge doctor`); imported only when run."""
    from edge.uplinks.gb28181.probe import cli_test

    return cli_test(args)


CLI_TEST = _cli_test

__all__ = ["CLI_TEST", "CONFIG", "UPLINK"]
