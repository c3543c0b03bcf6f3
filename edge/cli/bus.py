"""`edge bus scan`: who is on this line? DL/T 645 (2007 and 1997) and CJ/T 188 meters,
and Modbus unit IDs.

Meters: probing with wildcard addresses, lowest byte first: `AA AA AA AA AA 07` reaches
every meter whose address ends in 07. A clean reply carries the meter's full address; a
garbled one means several answered at once, so that branch is split on the next byte.
DL/T 645 asks for forward active energy (every meter has it, in either edition), CJ/T 188
for the metering block with the wildcard meter type (water, heat and gas meters answer).
Silence costs one timeout per probe, hence the progress bar on stderr.

Modbus: one holding-register read per unit ID; any answer, even an exception,
means a unit is there (a TCP gateway's "target did not respond" does not).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.cli._common import CliError, add_json, fail, print_json
from edge.codecs import cjt188, dlt645
from edge.codecs.errors import ProtocolError
from edge.fieldbus.cli_support import Progress, add_line_args, open_line, port_exit_code
from edge.fieldbus.errors import BusError, BusTimeout, DeviceErrorReply, PortError
from edge.fieldbus.meters import CjtMatcher, DltMatcher, read_dlt645_address
from edge.fieldbus.modbus import ModbusRtuLink
from edge.fieldbus.serial_bus import SerialBus
from edge.fieldbus.serial_port import Matcher

# Forward active energy: every meter has it, in either edition.
PROBE_DI = {dlt645.Version.V2007: 0x00010000, dlt645.Version.V1997: 0x9010}


@dataclass(frozen=True)
class MeterProtocol:
    """One meter protocol the scan searches: address length and the probe to send."""

    name: str
    address_bytes: int
    request: Callable[[str], bytes]
    matcher: Callable[[str], Matcher[Any]]


PROTOCOLS = {
    "dlt645-2007": MeterProtocol(
        "dlt645-2007",
        6,
        lambda a: dlt645.build_read(a, PROBE_DI[dlt645.Version.V2007], dlt645.Version.V2007),
        DltMatcher,
    ),
    "dlt645-1997": MeterProtocol(
        "dlt645-1997",
        6,
        lambda a: dlt645.build_read(a, PROBE_DI[dlt645.Version.V1997], dlt645.Version.V1997),
        DltMatcher,
    ),
    "cjt188": MeterProtocol(
        "cjt188", 7, lambda a: cjt188.build_read(a, cjt188.MeterType.WILDCARD), CjtMatcher
    ),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bus", help="field-bus diagnostics")
    bs = p.add_subparsers(dest="bus_command", metavar="ACTION", required=True)
    scan = bs.add_parser(
        "scan", help="find DL/T 645 (both editions), CJ/T 188 meters and Modbus units on a line"
    )
    add_line_args(scan)
    scan.set_defaults(timeout=0.3)
    scan.add_argument(
        "--protocols",
        default=",".join(PROTOCOLS),
        help=f"meter protocols to search, comma-separated (default: {','.join(PROTOCOLS)})",
    )
    scan.add_argument("--no-meters", action="store_true", help="skip the meter search")
    scan.add_argument("--modbus", action="store_true", help="also probe Modbus RTU unit IDs")
    scan.add_argument("--units", default="1-247", help="Modbus unit range, e.g. 1-32")
    add_json(scan)
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
    except ValueError:
        raise CliError(f"--units {args.units!r} is not a range within 0-247, e.g. 1-32") from None
    names = [] if args.no_meters else [n.strip() for n in args.protocols.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise CliError(f"--protocols: unknown {', '.join(unknown)}; use {', '.join(PROTOCOLS)}")
    return asyncio.run(_scan_async(args, units, [PROTOCOLS[n] for n in names]))


async def _scan_async(
    args: argparse.Namespace, units: list[int], protocols: list[MeterProtocol]
) -> int:
    """JSON: {"port", "meters": [{"protocol", "address"}], "modbus": [{"unit", "note"}]}."""
    bus = open_line(args, retries=0)
    meters: list[dict[str, str]] = []
    modbus: list[dict[str, Any]] = []
    try:
        for proto in protocols:
            found = await scan_meters(bus, proto)
            for address in sorted(found):
                meters.append({"protocol": proto.name, "address": address})
                if not args.json:
                    print(f"{proto.name} {address}")
        if args.modbus:
            present = await scan_modbus(ModbusRtuLink(bus), units)
            for unit, note in present:
                modbus.append({"unit": unit, "note": note.strip(" ()")})
                if not args.json:
                    print(f"modbus unit {unit}{note}")
    except PortError as exc:
        return fail(args, f"error: {exc}", port_exit_code(exc))
    finally:
        await bus.close()
    if args.json:
        print_json({"port": args.port, "meters": meters, "modbus": modbus})
    if not meters and not modbus:
        print("nothing answered; check the wiring, baud rate and parity", file=sys.stderr)
        return 1
    return 0


async def _probe(bus: SerialBus, pattern: str, proto: MeterProtocol) -> tuple[str | None, bool]:
    """(address of a clean reply, whether anything at all answered)."""
    try:
        ex = await bus.transact(proto.request(pattern), proto.matcher(pattern), attempts=1)
    except BusTimeout:
        return None, False
    except PortError:
        raise  # not a collision: the line itself is gone (and splitting would never end)
    except (BusError, ProtocolError):
        return None, True  # garbled or bad checksum: replies collided
    reply = ex.value
    address = getattr(reply, "address", None)
    return (address if isinstance(address, str) else None), True


async def scan_dlt645(bus: SerialBus, version: dlt645.Version) -> set[str]:
    """Kept for callers of the DL/T 645-only search."""
    return await scan_meters(bus, PROTOCOLS[f"dlt645-{version}"])


async def scan_meters(bus: SerialBus, proto: MeterProtocol) -> set[str]:
    found: set[str] = set()
    if proto.name == "dlt645-2007":  # read-address (13H) exists only in 2007
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
    await _descend(bus, "", found, proto)
    return found


async def _descend(bus: SerialBus, suffix: str, found: set[str], proto: MeterProtocol) -> None:
    """Probe every value of the next lower byte under `suffix` (the already-fixed low bytes)."""
    fixed = len(suffix) // 2
    if fixed >= proto.address_bytes:
        return
    progress = Progress(100, f"{proto.name} probe") if fixed == 0 else None
    split: list[str] = []
    for byte in range(100):
        tail = f"{byte:02d}{suffix}"
        pattern = "AA" * (proto.address_bytes - 1 - fixed) + tail
        address, answered = await _probe(bus, pattern, proto)
        if address is not None and "AA" not in address.upper():
            found.add(address)
        elif answered:
            split.append(tail)
        if progress:
            progress.step(1 if address else 0)
    if progress:
        progress.close()
    for tail in split:
        await _descend(bus, tail, found, proto)


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
        except PortError:
            raise
        except (BusError, ProtocolError) as exc:
            if not isinstance(exc, BusTimeout):
                note = f" (garbled answer: {exc})"
        if note is not None:
            present.append((unit, note))
        progress.step(1 if note is not None else 0)
    progress.close()
    return present
