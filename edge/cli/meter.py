"""`edge meter read`: one reading from one meter, straight off the line, decoded."""

from __future__ import annotations

import argparse
import asyncio

from edge.cli._common import CliError, add_json, fail, print_json
from edge.cli._tidy import tidy
from edge.codecs import cjt188, dlt645
from edge.codecs.errors import ProtocolError
from edge.codecs.values import Value
from edge.fieldbus.cli_support import FrameTrace, add_line_args, open_line, port_exit_code
from edge.fieldbus.errors import BusError, PortError
from edge.fieldbus.meters import read_cjt188, read_dlt645

PROTOCOLS = ["dlt645", "dlt645-1997", "cjt188"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("meter", help="read a DL/T 645 or CJ/T 188 meter directly")
    ms = p.add_subparsers(dest="meter_command", metavar="ACTION", required=True)
    read = ms.add_parser("read", help="one reading, decoded (the daemon may be stopped)")
    add_line_args(read)
    read.add_argument("--addr", required=True, help="meter address as printed (12 or 14 digits)")
    read.add_argument("--protocol", choices=PROTOCOLS, default="dlt645")
    read.add_argument(
        "--di", help="DL/T 645 data identifier in hex, or a point name (default: forward energy)"
    )
    read.add_argument(
        "--meter-type",
        default="cold_water",
        choices=[t.name.lower() for t in cjt188.MeterType if t.name != "WILDCARD"],
        help="CJ/T 188 meter type",
    )
    read.add_argument("-v", "--verbose", action="store_true", help="print the raw frames")
    add_json(read)
    read.set_defaults(handler=_read)


def _read(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_read_async(args))
    except ValueError as exc:
        raise CliError(f"{exc}; check --addr and --di") from None


def _values(values: list[Value]) -> list[dict[str, object]]:
    return [
        {"point": v.point, "value": tidy(v.value), "unit": v.unit, "name": v.name} for v in values
    ]


async def _read_async(args: argparse.Namespace) -> int:
    bus = open_line(args)
    trace = FrameTrace() if args.verbose else None
    try:
        if args.protocol == "cjt188":
            address = cjt188.normalize_address(args.addr)
            result = await read_cjt188(
                bus, address, int(cjt188.MeterType[args.meter_type.upper()]), trace=trace
            )
            if args.json:
                doc: dict[str, object] = {
                    "protocol": "cjt188",
                    "address": result.address,
                    "family": cjt188.meter_family(result.meter_type),
                    "values": _values(result.values),
                }
                if result.status is not None:
                    doc["status"] = {
                        "valve": result.status.valve.value,
                        "battery_low": result.status.battery_low,
                    }
                print_json(doc)
                return 0
            print(f"meter {result.address} ({cjt188.meter_family(result.meter_type)})")
            for v in result.values:
                print(f"  {v.point:28} {_fmt(v.value)} {v.unit}  {v.name}")
            if result.status is not None:
                print(f"  {'valve':28} {result.status.valve.value}")
                print(f"  {'battery_low':28} {result.status.battery_low}")
            return 0
        version = dlt645.Version.V1997 if args.protocol == "dlt645-1997" else dlt645.Version.V2007
        address = dlt645.normalize_address(args.addr)
        di = _di(args.di, version)
        reply, payload = await read_dlt645(bus, address, di, version, trace=trace)
        if args.json:
            known = dlt645.lookup(di, version) is not None
            print_json(
                {
                    "protocol": f"dlt645-{version}",
                    "address": reply.address,
                    "di": f"{di:0{version.di_len * 2}X}",
                    "values": _values(dlt645.decode_data(di, payload, version)) if known else [],
                    "raw_bcd": None if known else dlt645.bcd_digits(payload),
                }
            )
            return 0
        print(f"meter {reply.address} DL/T 645-{version} DI {di:0{version.di_len * 2}X}")
        if dlt645.lookup(di, version) is None:
            print(f"  (DI not in the table) raw BCD digits: {dlt645.bcd_digits(payload)}")
            return 0
        for v in dlt645.decode_data(di, payload, version):
            print(f"  {v.point:28} {_fmt(v.value)} {v.unit}  {v.name}")
        return 0
    except PortError as exc:
        return fail(args, f"error: {exc}", port_exit_code(exc))
    except (BusError, ProtocolError) as exc:
        return fail(args, f"error: {exc} (check the address, wiring and --baud/--parity)")
    finally:
        await bus.close()


def _di(text: str | None, version: dlt645.Version) -> int:
    if not text:
        return 0x00010000 if version is dlt645.Version.V2007 else 0x9010
    for (ver, di), entry in dlt645.DI_TABLE.items():
        if ver is version and entry.point == text:
            return di
    try:
        return int(text.lower().removeprefix("0x"), 16)
    except ValueError:
        raise ValueError(f"--di {text!r} is neither a hex DI nor a known point") from None


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return "(not supported)" if value is None else str(value)
