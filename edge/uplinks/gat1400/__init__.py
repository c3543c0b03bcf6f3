"""`type: gat1400`: a 视图库 of the public-security video network (see docs/police-uplink.md)."""

from typing import Any

from edge.uplinks.gat1400.config import Gat1400Config as CONFIG
from edge.uplinks.gat1400.sender import Gat1400Uplink as UPLINK


def _cli_test(args: Any) -> int:
    """`edge uplink test gat1400` (and `edge doctor`); imported only when run."""
    from edge.uplinks.gat1400.cli_test import run

    return run(args)


CLI_TEST = _cli_test

__all__ = ["CLI_TEST", "CONFIG", "UPLINK"]
