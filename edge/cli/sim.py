"""`edge sim field`: the demo's field devices, simulated (meters on one line, Modbus sensors,
the north gate's UHPPOTE access controller).

Starts the meter simulator (DL/T 645 and CJ/T 188 meters behind a TCP socket, as
a transparent RS-485 converter would present them) and the Modbus sensor
simulator (Modbus TCP), with exactly the devices `config/demo.yaml` polls, and the
UHPPOTE controller (UDP) that opens the demo's vehicle gate.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

DEMO_CONTROLLER = 405419896  # config/demo.yaml's north-gate controller


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sim", help="device simulators for the demo and the tests")
    ss = p.add_subparsers(dest="sim_command", metavar="WHAT", required=True)
    field = ss.add_parser("field", help="simulated meters (RS-485 over TCP) and Modbus sensors")
    field.add_argument("--host", default="127.0.0.1")
    field.add_argument("--meters-port", type=int, default=15001, help="meter line (TCP)")
    field.add_argument("--modbus-port", type=int, default=15002, help="Modbus TCP")
    field.add_argument(
        "--uhppote-port", type=int, default=15003, help="UHPPOTE controller (UDP); 0: none"
    )
    field.add_argument("--baud", type=int, help="emulate the meter line's wire time")
    field.set_defaults(handler=_field)


def _field(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_field_async(args))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _field_async(args: argparse.Namespace) -> int:
    from edge.sim.meters import MeterSimulator, demo_config
    from edge.sim.modbus import ModbusSimulator, demo_sensors
    from edge.sim.uhppote import UhppoteSimulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    config = demo_config()
    if args.baud:
        config.baud = args.baud
    async with MeterSimulator(config) as meters, ModbusSimulator(demo_sensors()) as sensors:
        host, port = await meters.start_tcp(args.host, args.meters_port)
        print(f"meters tcp {host}:{port}", flush=True)
        for m in config.meters:
            print(f"  meter {m.address} {m.protocol.value}", flush=True)
        host, port = await sensors.start_tcp(args.host, args.modbus_port)
        print(f"modbus tcp {host}:{port}", flush=True)
        for unit, s in sensors.sensors.items():
            print(f"  unit {unit} {s.spec.profile}", flush=True)
        gate = None
        if args.uhppote_port:
            gate = UhppoteSimulator(serial=DEMO_CONTROLLER, host=args.host, port=args.uhppote_port)
            await gate.start()
            print(f"uhppote udp {gate.address} controller {gate.serial}", flush=True)
        try:
            await stop.wait()
        finally:
            if gate is not None:
                await gate.close()
    return 0
