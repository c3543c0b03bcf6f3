"""What the maintainer commands share: opening a line directly, a trace printer, a progress bar.

The commands talk to the port themselves (the daemon may be stopped); a port the
daemon holds is reported as busy, a wrong path as missing, with exit codes the
CLI contract uses (1 failed, 2 bad input).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TextIO

from edge.config.buses import SerialBusConfig
from edge.fieldbus.errors import PortBusy, PortError, PortMissing
from edge.fieldbus.serial_bus import SerialBus


def add_line_args(p: argparse.ArgumentParser, baud: int = 2400, parity: str = "E") -> None:
    p.add_argument(
        "--port", required=True, help="/dev/ttyUSB0, socket://host:port, rfc2217://host:port"
    )
    p.add_argument("--baud", type=int, default=baud, help=f"baud rate (default {baud})")
    p.add_argument("--parity", choices=["N", "E", "O"], default=parity, help="parity")
    p.add_argument("--timeout", type=float, default=1.0, help="per request, seconds")


def open_line(args: argparse.Namespace, retries: int = 1) -> SerialBus:
    logging.getLogger("edge.fieldbus").setLevel(logging.ERROR)  # the command reports itself
    return SerialBus(
        SerialBusConfig(
            id="cli",
            type="serial",
            port=args.port,
            baudrate=args.baud,
            parity=args.parity,
            timeout_s=args.timeout,
            retries=retries,
            inter_frame_gap_s=0.02,
        )
    )


def port_exit(exc: PortError) -> int:
    """Say what is wrong with the port; return the exit code."""
    if isinstance(exc, PortMissing):
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if isinstance(exc, PortBusy):
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"error: {exc}", file=sys.stderr)
    return 1


def port_exit_code(exc: PortError) -> int:
    """2 for a port that does not exist (bad usage), 1 for a busy or failing one."""
    return 2 if isinstance(exc, PortMissing) else 1


class FrameTrace:
    """Prints raw frames for -v: `→` what we sent, `←` what came back."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr

    def __call__(self, direction: str, data: bytes) -> None:
        arrow = "→" if direction == "tx" else "←"
        text = data.hex(" ").upper() if direction in ("tx", "rx") else data.decode()
        print(f"{arrow} {text}", file=self.out)


class Progress:
    """A one-line progress bar on stderr (no dependency, redrawn in place)."""

    def __init__(self, total: int, label: str, out: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self.found = 0
        self.out = out or sys.stderr
        self.live = self.out.isatty()

    def step(self, found: int = 0) -> None:
        self.done += 1
        self.found += found
        if self.live:
            self._draw()

    def _draw(self) -> None:
        width = 30
        filled = int(width * self.done / self.total)
        self.out.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.done}/{self.total}, found {self.found}"
        )
        self.out.flush()

    def close(self) -> None:
        """Finish the line (a log or a pipe gets just this final state)."""
        self._draw()
        self.out.write("\n")
        self.out.flush()
