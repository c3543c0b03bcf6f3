"""One simulated meter's state and answers (DL/T 645-2007/1997, CJ/T 188).

Values drift the way real meters do: energy and volume only ever increase (integrating a load
that swings ±30 % around its mean), voltages and frequency wobble around nominal, the meter
clock follows the gateway clock plus a configurable skew. Faults are the bus's to apply."""

from __future__ import annotations

import datetime as dt
import math
import random

from edge.codecs import cjt188, dlt645
from edge.codecs.cjt188 import Quantity, Status
from edge.codecs.dlt645 import ErrorFlag, Version
from edge.sim.meter_specs import MeterSpec

_SWING = 0.3
_PERIOD_S = 600.0


def _integral(mean_per_h: float, t: float) -> float:
    """∫ mean·(1 + 0.3·sin(2πs/600)) ds over [0, t] seconds, in units·h: never decreasing."""
    w = 2 * math.pi / _PERIOD_S
    return mean_per_h * (t + _SWING / w * (1 - math.cos(w * t))) / 3600


def _swing(mean: float, t: float) -> float:
    return mean * (1 + _SWING * math.sin(2 * math.pi * t / _PERIOD_S))


class SimMeter:
    """One meter's state and answers; faults are applied by the bus."""

    def __init__(self, spec: MeterSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.reads = 0
        self._follow: dict[int, tuple[list[bytes], int]] = {}  # di -> (chunks left, next seq)

    @property
    def address(self) -> str:
        return self.spec.address

    def meter_time(self) -> dt.datetime:
        """The meter's clock: the gateway's wall clock plus the configured skew."""
        wall = dt.datetime.now() + dt.timedelta(seconds=self.spec.clock_offset_s)
        return wall.replace(microsecond=0)

    # --- electricity -------------------------------------------------------------------------

    def electric_points(self, t: float) -> dict[str, float | str | None]:
        s = self.spec
        forward = (s.energy_kwh + _integral(s.power_kw, t)) % 1_000_000
        reverse = s.reverse_kwh % 1_000_000
        points: dict[str, float | str | None] = {}
        for name, total in (
            ("energy_active_forward", forward),
            ("energy_active_reverse", reverse),
            ("energy_active_combined", (forward + reverse) % 800_000),
        ):
            rates = [round(total * f, 2) for f in (0.1, 0.4, 0.3)]
            rates.append(round(total - sum(rates), 2))
            points[f"{name}_total"] = round(total, 2)
            for k, value in enumerate(rates, start=1):
                points[f"{name}_rate{k}"] = max(value, 0.0)
        power = _swing(s.power_kw, t)
        pf = max(min(s.power_factor, 1.0), 0.001)
        share = {"a": 0.4, "b": 0.35, "c": 0.25}
        points["power_active_total"] = power
        points["power_reactive_total"] = power * math.tan(math.acos(pf))
        points["power_apparent_total"] = power / pf
        points["power_factor_total"] = pf
        points["frequency"] = s.frequency_hz + 0.02 * math.sin(t / 37.0)
        for k, (phase, part) in enumerate(share.items()):
            volts = s.voltage_v * (1 + 0.01 * math.sin(t / 53.0 + k)) + self.rng.uniform(-0.2, 0.2)
            points[f"voltage_{phase}"] = volts
            points[f"current_{phase}"] = power * part * 1000 / (volts * pf)
            points[f"power_active_{phase}"] = power * part
            points[f"power_reactive_{phase}"] = power * part * math.tan(math.acos(pf))
            points[f"power_apparent_{phase}"] = power * part / pf
            points[f"power_factor_{phase}"] = pf
        when = self.meter_time()
        points["date"] = when.date().isoformat()
        points["time"] = when.strftime("%H:%M:%S")
        points["comm_address"] = s.address
        points["meter_number"] = s.address
        return points

    def dlt_payload(self, entry: dlt645.DataId, t: float) -> bytes:
        points = self.electric_points(t)
        count = len(entry.points) if entry.points else (5 if entry.rates else 1)
        values = [points.get(p) for p in entry.element_points(count)]
        return dlt645.encode_data(entry.di, values, entry.version)

    def answer_dlt(self, frame: dlt645.Frame, t: float) -> bytes | None:
        version = self.spec.version
        assert version is not None
        request = dlt645.decode_request(frame)
        reply_addr = self.address
        if self.spec.echo_wildcard and frame.address != self.address:
            reply_addr = frame.address
        fn = request.function
        if fn == dlt645.READ_ADDRESS_2007:
            return dlt645.build_address_reply(self.address, preamble=4)
        if fn == version.read_function and request.di is not None:
            self.reads += 1
            entry = dlt645.lookup(request.di, version)
            if entry is None:
                return dlt645.build_error_reply(reply_addr, ErrorFlag.NO_DATA, version, preamble=4)
            data = dlt645.DataReply(reply_addr, version, request.di, self.dlt_payload(entry, t))
            return self._maybe_split(data)
        if fn == version.follow_function and request.di is not None:
            return self._follow_on(reply_addr, version, request.di)
        return dlt645.build_error_reply(
            reply_addr, ErrorFlag.OTHER, version, function=fn, preamble=4
        )

    def _maybe_split(self, reply: dlt645.DataReply) -> bytes:
        room = max(self.spec.max_data_len - reply.version.di_len - 1, 1)
        payload = reply.payload
        if len(payload) + reply.version.di_len <= self.spec.max_data_len:
            self._follow.pop(reply.di, None)
            return dlt645.build_data_reply(
                reply.address, reply.di, payload, reply.version, preamble=4
            )
        chunks = [payload[k : k + room] for k in range(0, len(payload), room)]
        self._follow[reply.di] = (chunks[1:], 1)
        return dlt645.build_data_reply(
            reply.address, reply.di, chunks[0], reply.version, more=True, preamble=4
        )

    def _follow_on(self, address: str, version: Version, di: int) -> bytes:
        left, seq = self._follow.get(di, ([], 0))
        if not left:
            return dlt645.build_error_reply(
                address, ErrorFlag.NO_DATA, version, function=version.follow_function, preamble=4
            )
        chunk, rest = left[0], left[1:]
        if rest:
            self._follow[di] = (rest, seq + 1)
        else:
            self._follow.pop(di, None)
        return dlt645.build_data_reply(
            address, di, chunk, version, follow=True, more=bool(rest), seq=seq, preamble=4
        )

    def dlt_error(self, frame: dlt645.Frame, bits: int) -> bytes:
        version = self.spec.version or Version.V2007
        return dlt645.build_error_reply(
            self.address, bits, version, function=frame.function, preamble=4
        )

    # --- water / heat / gas --------------------------------------------------------------------

    def metering(self, t: float) -> cjt188.MeteringData:
        s = self.spec
        status = Status.make(s.valve, s.battery_low)
        when = self.meter_time()
        total = round((s.flow_total_m3 + _integral(s.flow_rate_m3h, t)) % 1_000_000, 2)
        if cjt188.meter_family(s.meter_type) != "heat":
            return cjt188.WaterData(
                current=Quantity(total, cjt188.UNIT_CODES["m3"]),
                settlement=Quantity(round(s.flow_total_m3, 2), cjt188.UNIT_CODES["m3"]),
                time=when,
                status=status,
            )
        heat = round((s.heat_kwh + _integral(s.heat_power_kw, t)) % 1_000_000, 2)
        return cjt188.HeatData(
            settlement_heat=Quantity(round(s.heat_kwh, 2), cjt188.UNIT_CODES["kWh"]),
            current_heat=Quantity(heat, cjt188.UNIT_CODES["kWh"]),
            heat_power=Quantity(round(_swing(s.heat_power_kw, t), 2), cjt188.UNIT_CODES["kW"]),
            flow_rate=Quantity(round(_swing(s.flow_rate_m3h, t), 4), cjt188.UNIT_CODES["m3/h"]),
            total_flow=Quantity(total, cjt188.UNIT_CODES["m3"]),
            supply_temp=round(s.supply_temp_c + 0.5 * math.sin(t / 41.0), 2),
            return_temp=round(s.return_temp_c + 0.5 * math.sin(t / 43.0), 2),
            working_hours=int(t // 3600),
            time=when,
            status=status,
        )

    def answer_cjt(self, frame: cjt188.Frame, t: float) -> bytes | None:
        request = cjt188.decode_request(frame)
        order = self.spec.di_order or request.di_order
        s = self.spec
        if request.function == cjt188.READ_ADDRESS and request.di == cjt188.DI_ADDRESS:
            return cjt188.build_address_reply(
                s.meter_type, s.address, request.ser, di_order=order, preamble=2
            )
        if request.function == cjt188.READ_DATA and request.di == cjt188.DI_METERING:
            self.reads += 1
            return cjt188.build_metering_reply(
                s.meter_type, s.address, self.metering(t), request.ser, di_order=order, preamble=2
            )
        return self.cjt_error(frame, Status.make(s.valve, s.battery_low).raw | 0x0100)

    def cjt_error(self, frame: cjt188.Frame, status: int) -> bytes:
        ser = frame.data[2] if len(frame.data) >= 3 else 0
        s = self.spec
        return cjt188.build_error_reply(
            s.meter_type, s.address, ser, status, function=frame.function, preamble=2
        )
