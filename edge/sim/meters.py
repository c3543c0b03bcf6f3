"""A simulated RS-485 meter bus: DL/T 645-2007/1997 and CJ/T 188 meters behind TCP or a pty.

Used by the tests, the demo and the benchmarks as a real peer for the field-bus code. It behaves
like a half-duplex bus, not like a server:

* a meter answers only frames addressed to it, in its own protocol (a 2007 meter ignores 1997
  frames); ``AA`` wildcard bytes match any address; ``99…99`` broadcasts are never answered;
* a wildcard request that matches several meters (e.g. read-address with two meters on the bus)
  makes them all talk at once: the simulator sends the bitwise AND of their replies, as a
  collision on a real line gives the master a frame whose checksum fails;
* faults are injected per meter at run time (``silent``, ``late``, ``garbled``, ``bad_checksum``,
  ``error_reply``);
* with ``baud`` set, every transaction takes the time its bytes need on the wire (11 bits per
  byte for 8E1) plus ``turnaround_s``, so benchmarks see realistic polling rates.

Values drift the way real meters do: energy and volume only ever increase (integrating a load
that swings ±30 % around its mean), voltages and frequency wobble around nominal, the meter
clock follows the gateway clock plus a configurable skew.

The pieces, one job a module: `meter_specs` (what the bus holds, faults, YAML settings),
`meter_models` (one meter's values and answers), `meter_bus` (who answers, collisions, wire
time, one link's bytes); this module puts links behind TCP or a pty and re-exports what a
test or the demo builds a simulator from.

CLI: ``python -m edge.sim.meters --tcp 127.0.0.1:0 --pty --meters spec.yaml`` prints
``tcp HOST:PORT`` and ``pty /dev/pts/N`` lines once it is listening, then runs until signalled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable
from pathlib import Path

from edge.sim.meter_bus import BITS_PER_BYTE, BusLink, BusStats, MeterBus
from edge.sim.meter_specs import (
    Fault,
    FaultKind,
    MeterSpec,
    Protocol,
    SimConfig,
    demo_config,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Transports


async def _wait_fd(register: Callable[..., None], remove: Callable[[int], bool], fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    register(fd, wake)
    try:
        await ready
    finally:
        remove(fd)


def _unlatch_pty_speed(fd: int) -> None:
    """Park the pty at 50 Bd so the next client's open is a change the kernel accepts.

    Linux ptys drop PARENB, and (on recent kernels) a tcsetattr that asks for parity at the
    speed already set fails with EINVAL. pyserial opening "9600 8E1" a second time on the same
    pty would then fail; real serial ports do not behave like this.
    """
    with contextlib.suppress(termios.error):
        attrs = termios.tcgetattr(fd)
        if attrs[4] != termios.B50 or attrs[5] != termios.B50:
            attrs[4] = attrs[5] = termios.B50
            termios.tcsetattr(fd, termios.TCSANOW, attrs)


class MeterSimulator:
    """The bus behind its transports. Use as ``async with MeterSimulator(config) as sim``."""

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.bus = MeterBus(config, clock)
        self._servers: list[asyncio.Server] = []
        self._links: set[BusLink] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._fds: list[int] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self.pty_path: str | None = None

    @property
    def stats(self) -> BusStats:
        return self.bus.stats

    def set_fault(
        self,
        address: str,
        kind: FaultKind | str = FaultKind.NONE,
        *,
        delay_s: float | None = None,
        error_bits: int | None = None,
    ) -> None:
        """Change a meter's fault while running (``kind="none"`` heals it)."""
        self.bus.set_fault(address, kind, delay_s=delay_s, error_bits=error_bits)

    async def __aenter__(self) -> MeterSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        server = await asyncio.start_server(self._serve_tcp, host, port)
        self._servers.append(server)
        sockname = server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        link = BusLink(self.bus, send)
        self._links.add(link)
        self._writers.add(writer)
        try:
            while data := await reader.read(512):
                await link.received(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(link)
            self._writers.discard(writer)
            await link.close()
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def start_pty(self) -> str:
        """Open a pty pair and serve the bus on it; returns the slave path for pyserial.

        The simulator keeps its own handle on the slave so clients may open and close it
        repeatedly without the master side seeing EIO.
        """
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF mangling: a pty is a terminal by default
        os.set_blocking(master, False)
        self._fds += [master, slave]
        self.pty_path = os.ttyname(slave)
        loop = asyncio.get_running_loop()

        async def send(data: bytes) -> None:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(master, view) :]
                except BlockingIOError:
                    await _wait_fd(loop.add_writer, loop.remove_writer, master)

        link = BusLink(self.bus, send)
        self._links.add(link)
        task = asyncio.create_task(self._serve_pty(master, slave, link))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self.pty_path

    async def _serve_pty(self, master: int, slave: int, link: BusLink) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await _wait_fd(loop.add_reader, loop.remove_reader, master)
                try:
                    data = os.read(master, 4096)
                except BlockingIOError:
                    continue
                if data:
                    _unlatch_pty_speed(slave)
                    await link.received(data)
        finally:
            await link.close()

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()  # the handler sees EOF and finishes
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for link in list(self._links):
            await link.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()


# --------------------------------------------------------------------------------------------
# CLI


def _parse_endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


async def _run(args: argparse.Namespace) -> int:
    config = SimConfig.load(args.meters) if args.meters else demo_config()
    if args.baud is not None:
        config.baud = args.baud
    if args.time_scale is not None:
        config.time_scale = args.time_scale
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with MeterSimulator(config) as sim:
        if args.tcp:
            host, port = await sim.start_tcp(*args.tcp)
            print(f"tcp {host}:{port}", flush=True)
        if args.pty:
            print(f"pty {await sim.start_pty()}", flush=True)
        for meter in config.meters:
            print(f"meter {meter.address} {meter.protocol.value}", flush=True)
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge.sim.meters", description="Simulated DL/T 645 / CJ/T 188 meter bus"
    )
    parser.add_argument("--tcp", type=_parse_endpoint, help="listen on HOST:PORT (port 0: any)")
    parser.add_argument("--pty", action="store_true", help="also serve on a new pty")
    parser.add_argument("--meters", type=Path, help="YAML spec (default: one meter of each kind)")
    parser.add_argument("--baud", type=int, help="emulate wire time at this baud rate (8E1)")
    parser.add_argument("--time-scale", type=float, help="simulated seconds per real second")
    args = parser.parse_args(argv)
    if not args.tcp and not args.pty:
        parser.error("give --tcp HOST:PORT and/or --pty")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        return asyncio.run(_run(args))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


__all__ = [
    "BITS_PER_BYTE",
    "BusStats",
    "Fault",
    "FaultKind",
    "MeterSimulator",
    "MeterSpec",
    "Protocol",
    "SimConfig",
    "demo_config",
    "main",
]


if __name__ == "__main__":
    raise SystemExit(main())
