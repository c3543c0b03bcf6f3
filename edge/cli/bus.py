"""`edge bus scan`: who is on this line? DL/T 645 meters and Modbus unit IDs.

DL/T 645: first a read-address to the wildcard (answers cleanly only when one
meter is on the line), then probing with wildcard addresses, lowest byte first:
`AA AA AA AA AA 07` reaches every meter whose address ends in 07. A clean reply
carries the meter's full address; a garbled one means several answered at
once, so that branch is split on the next byte. Silence costs one timeout per
probe, hence the progress bar.

Modbus: one holding-register read per unit ID; any answer, even an exception,
means a unit is there (a TCP gateway's "target did not respond" does not).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from edge.codecs import dlt645
from edge.codecs.errors import ProtocolError
from edge.fieldbus.cli_support import Progress, add_line_args, open_line, port_exit
from edge.fieldbus.errors import BusError, BusTimeout, DeviceErrorReply, PortError
from edge.fieldbus.meters import DltMatcher, read_dlt645_address
from edge.fieldbus.modbus import ModbusRtuLink
from edge.fieldbus.serial_bus import SerialBus

# Forward active energy: every meter has it, in either edition.
PROBE_DI = {dlt645.Version.V2007: 0x00010000, dlt645.Version.V1997: 0x9010}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bus", help="field-bus diagnostics")
    bs = p.add_subparsers(dest="bus_command", metavar="ACTION", required=True)
    scan = bs.add_parser("scan", help="find DL/T 645 meters and Modbus units on a line")
    add_line_args(scan)
    scan.set_defaults(timeout=0.3)
    scan.add_argument("--no-dlt645", action="store_true", help="skip the DL/T 645 search")
    scan.add_argument(
        "--dlt645-version",
        choices=["2007", "1997", "both"],
        default="2007",
        help="which edition to probe for (both doubles the time)",
    )
    scan.add_argument("--modbus", action="store_true", help="also probe Modbus RTU unit IDs")
    scan.add_argument("--units", default="1-247", help="Modbus unit range, e.g. 1-32")
    scan.set_defaults(handler=_scan)


def _units(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    first, last = int(lo), int(hi or lo)
    if not 0 <= first <= last <= 247:
        raise ValueError("--units must be within 0-247")
    return list(range(first, last + 1))


def _scan(args: argparse.Namespace) -> int:
    try:
        units = _units(args.units)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_scan_async(args, units))


async def _scan_async(args: argparse.Namespace, units: list[int]) -> int:
    bus = open_line(args, retries=0)
    found_any = False
    try:
        if not args.no_dlt645:
            editions = ["2007", "1997"] if args.dlt645_version == "both" else [args.dlt645_version]
            for edition in editions:
                meters = await scan_dlt645(bus, dlt645.Version(edition))
                for address in sorted(meters):
                    print(f"dlt645-{edition} {address}")
                found_any |= bool(meters)
        if args.modbus:
            present = await scan_modbus(ModbusRtuLink(bus), units)
            for unit, note in present:
                print(f"modbus unit {unit}{note}")
            found_any |= bool(present)
    except PortError as exc:
        return port_exit(exc)
    finally:
        await bus.close()
    if not found_any:
        print("nothing answered", file=sys.stderr)
        return 1
    return 0


async def _probe(bus: SerialBus, pattern: str, version: dlt645.Version) -> tuple[str | None, bool]:
    """(address of a clean reply, whether anything at all answered)."""
    request = dlt645.build_read(pattern, PROBE_DI[version], version)
    try:
        ex = await bus.transact(request, DltMatcher(pattern), attempts=1)
    except BusTimeout:
        return None, False
    except (BusError, ProtocolError):
        return None, True  # garbled or bad checksum: replies collided
    reply = ex.value
    address = getattr(reply, "address", None)
    return (address if isinstance(address, str) else None), True


async def scan_dlt645(bus: SerialBus, version: dlt645.Version) -> set[str]:
    found: set[str] = set()
    if version is dlt645.Version.V2007:  # read-address (13H) exists only in 2007
        try:
            found.add(await read_dlt645_address(bus))
            print(f"read-address: one meter answered ({next(iter(found))})", file=sys.stderr)
        except PortError:
            raise
        except BusTimeout:
            print("read-address: no answer", file=sys.stderr)
        except (BusError, ProtocolError):
            print("read-address: several meters answered at once; probing", file=sys.stderr)
    # Probe even after a clean read-address: a meter that ignores 13H may still be there.
    await _descend(bus, "", found, version)
    return found


async def _descend(bus: SerialBus, suffix: str, found: set[str], version: dlt645.Version) -> None:
    """Probe every value of the next lower byte under `suffix` (the already-fixed low bytes)."""
    fixed = len(suffix) // 2
    if fixed >= 6:
        return
    progress = Progress(100, f"dlt645-{version} probe") if fixed == 0 else None
    split: list[str] = []
    for byte in range(100):
        tail = f"{byte:02d}{suffix}"
        pattern = "AA" * (5 - fixed) + tail
        address, answered = await _probe(bus, pattern, version)
        if address is not None and "AA" not in address:
            found.add(address)
        elif answered:
            split.append(tail)
        if progress:
            progress.step(1 if address else 0)
    if progress:
        progress.close()
    for tail in split:
        await _descend(bus, tail, found, version)


async def scan_modbus(link: ModbusRtuLink, units: list[int]) -> list[tuple[int, str]]:
    present: list[tuple[int, str]] = []
    progress = Progress(len(units), "modbus units")
    for unit in units:
        note: str | None = None
        try:
            await link.read("holding_registers", 0, 1, unit, attempts=1)
            note = ""
        except DeviceErrorReply as exc:
            if "gateway target" not in str(exc):
                note = f" (answers with an exception: {exc})"
        except (BusError, ProtocolError) as exc:
            if not isinstance(exc, BusTimeout):
                note = f" (garbled answer: {exc})"
        if note is not None:
            present.append((unit, note))
        progress.step(1 if note is not None else 0)
    progress.close()
    return present
