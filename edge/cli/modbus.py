"""`edge modbus read`: registers from one unit, over TCP or RTU, straight off the wire."""

from __future__ import annotations

import argparse
import asyncio

from edge.cli._common import CliError, add_json, fail, print_json
from edge.cli._tidy import tidy
from edge.codecs.errors import ProtocolError
from edge.config.buses import ModbusTcpBusConfig, SerialBusConfig
from edge.fieldbus.cli_support import FrameTrace, port_exit_code
from edge.fieldbus.errors import BusError, PortError
from edge.fieldbus.modbus import ModbusLink, ModbusRtuLink, ModbusTcpLink
from edge.fieldbus.registers import WIDTH, RegisterPoint, decode_point
from edge.fieldbus.serial_bus import SerialBus

FUNCTIONS = ["holding_registers", "input_registers", "coils", "discrete_inputs"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("modbus", help="read Modbus registers directly (TCP or RTU)")
    ms = p.add_subparsers(dest="modbus_command", metavar="ACTION", required=True)
    read = ms.add_parser("read", help="read a register range of one unit")
    read.add_argument(
        "--url",
        required=True,
        help="tcp://host:502 for Modbus TCP; a serial port or socket://host:port for RTU",
    )
    read.add_argument("--unit", type=int, default=1, help="unit (slave) ID")
    read.add_argument("--register", type=int, required=True, help="first address (0-based)")
    read.add_argument("--count", type=int, default=1, help="registers (or bits) to read")
    read.add_argument("--function", choices=FUNCTIONS, default="holding_registers")
    read.add_argument(
        "--type", choices=sorted(WIDTH), help="decode as this type (bool/int16/.../float32)"
    )
    read.add_argument("--byte-order", choices=["big", "little"], default="big")
    read.add_argument("--word-order", choices=["big", "little"], default="big")
    read.add_argument("--scale", type=float, default=1.0)
    read.add_argument("--baud", type=int, default=9600, help="RTU baud rate")
    read.add_argument("--parity", choices=["N", "E", "O"], default="N", help="RTU parity")
    read.add_argument("--timeout", type=float, default=1.0)
    read.add_argument("-v", "--verbose", action="store_true", help="print the raw frames")
    add_json(read)
    read.set_defaults(handler=_read)


def make_link(args: argparse.Namespace) -> ModbusLink:
    url: str = args.url
    if url.startswith("tcp://"):
        host, _, port = url.removeprefix("tcp://").rpartition(":")
        if not host:
            host, port = port, "502"
        return ModbusTcpLink(
            ModbusTcpBusConfig(
                id="cli", type="modbus_tcp", host=host, port=int(port), timeout_s=args.timeout
            )
        )
    return ModbusRtuLink(
        SerialBus(
            SerialBusConfig(
                id="cli",
                type="serial",
                port=url,
                baudrate=args.baud,
                parity=args.parity,
                timeout_s=args.timeout,
                inter_frame_gap_s=0.005,
            )
        )
    )


def _read(args: argparse.Namespace) -> int:
    return asyncio.run(_read_async(args))


async def _read_async(args: argparse.Namespace) -> int:
    try:
        link = make_link(args)  # pymodbus clients must be made inside the loop
    except ValueError:
        raise CliError(
            f"--url {args.url!r} is not tcp://host:port, a serial port or socket://host:port"
        ) from None
    trace = FrameTrace() if args.verbose else None
    try:
        data = await link.read(args.function, args.register, args.count, args.unit, trace=trace)
    except PortError as exc:
        return fail(args, f"error: {exc}", port_exit_code(exc))
    except (BusError, ProtocolError) as exc:
        return fail(args, f"error: {exc} (check the unit ID, address and line settings)")
    finally:
        await link.close()
    decoded: list[object] | None = None
    if args.type:
        try:
            point = RegisterPoint(
                name="value",
                function=args.function,
                address=0,
                type=args.type,
                byte_order=args.byte_order,
                word_order=args.word_order,
                scale=args.scale,
            )
        except ValueError as exc:
            raise CliError(f"cannot decode as {args.type}: {exc}") from None
        width = point.width
        decoded = [
            tidy(decode_point(point, data[k : k + width])) for k in range(0, len(data), width)
        ]
    if args.json:
        # {"unit", "function", "register", "raw": [int|bool], "type", "values": [...]|null}
        print_json(
            {
                "unit": args.unit,
                "function": args.function,
                "register": args.register,
                "raw": list(data),
                "type": args.type,
                "values": decoded,
            }
        )
        return 0
    for k, v in enumerate(data):
        shown = str(v) if isinstance(v, bool) else f"{v:5d}  0x{v:04X}"
        print(f"{args.register + k:5d}: {shown}")
    if decoded is not None:
        print(
            f"{args.type}: "
            + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in decoded)
        )
    return 0
