"""`edge uplink test gb28181`: register, one keepalive, and the catalog the platform would see.

Each step prints what was sent and the platform's answer (status line, the
challenge's realm/nonce/qop, granted Expires), so an installer can tell a
wrong address (no answer), a wrong device ID (404/403) and a wrong password
(403 after the challenge) apart. The password is never printed. The probe
registers under its own Call-ID, which to the platform is a new registration
of the same device: a running daemon's keepalive then gets 404 and it
registers again by itself. The probe unregisters when done.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from edge.codecs import sip, sipdigest
from edge.codecs.errors import ProtocolError
from edge.config import EdgeConfig
from edge.uplinks.gb28181.agent import Gb28181Agent
from edge.uplinks.gb28181.config import Gb28181UplinkConfig
from edge.uplinks.gb28181.registration import RegisterRefused
from edge.uplinks.gb28181.transport import SipTimeout, SipTransport


def _show(direction: str, msg: sip.SipMessage) -> None:
    arrow = "→" if direction == "out" else "←"
    print(f"        {arrow} {msg.summary()}")
    if not msg.is_request:
        challenge = msg.get("WWW-Authenticate")
        if challenge:
            try:
                c = sipdigest.Challenge.parse(challenge)
                print(f"          challenge: realm={c.realm} nonce={c.nonce} qop={c.qop or '-'}")
            except ProtocolError as exc:
                print(f"          challenge unreadable: {exc}")
        if msg.get("Expires"):
            print(f"          Expires: {msg.get('Expires')}")


async def run_probe(config: EdgeConfig, cfg: Gb28181UplinkConfig, timeout_s: float) -> int:
    rt: Any = SimpleNamespace(config=config, store=None, services={}, add_health=lambda *_: None)
    agent = Gb28181Agent("probe", cfg, rt, online=lambda _cam: False)
    print(
        f"gb28181 uplink test: device {cfg.device_id} → platform {cfg.server_id} at "
        f"{cfg.server_host}:{cfg.server_port}/{cfg.transport} (realm {cfg.realm})"
    )
    transport = SipTransport(
        cfg.transport,
        (cfg.server_host, cfg.server_port),
        local_host=cfg.local_host,
        local_port=cfg.local_port,
        on_request=agent.on_request,
    )
    transport.trace = _show
    t0 = time.perf_counter()
    try:
        await transport.open(timeout_s)
    except OSError as exc:
        print(f"  FAIL  open {cfg.transport}: {exc}")
        return 1
    print(
        f"  ok    open {cfg.transport} from {transport.local_host}:{transport.local_port} "
        f"({_ms(t0)})"
    )
    agent.registration.transport = transport
    registered = False
    try:
        t0 = time.perf_counter()
        try:
            expires = await asyncio.wait_for(
                agent.registration.register(cfg.expires_whole_s), timeout_s * 3
            )
        except (SipTimeout, TimeoutError):
            print("  FAIL  register: no answer (address, port, transport or a firewall)")
            return 1
        except (RegisterRefused, ProtocolError, OSError) as exc:
            print(f"  FAIL  register: {exc}")
            return 1
        registered = True
        print(f"  ok    register (expires {expires} s, {_ms(t0)})")
        t0 = time.perf_counter()
        try:
            answer = await agent.registration.keepalive()
        except SipTimeout:
            print("  FAIL  keepalive: no answer")
            return 1
        if answer.status != 200:
            print(f"  FAIL  keepalive answered {answer.status} {answer.reason}")
            return 1
        print(f"  ok    keepalive ({_ms(t0)})")
        items = agent.channels.items()
        print(
            f"  catalog the platform would see ({len(items)} entries, SumNum {len(items)}, "
            f"{cfg.page_size} per MESSAGE; status is live only in the daemon):"
        )
        for item in items:
            print(f"        {item.device_id}  {item.name}  parent {item.parent_id}")
        return 0
    finally:
        if registered:
            try:
                await asyncio.wait_for(agent.registration.register(0), timeout_s)
                print("  ok    unregister (Expires: 0)")
            except (SipTimeout, TimeoutError, RegisterRefused, OSError) as exc:
                print(f"  warn  unregister: {exc}")
        await transport.close()


def _ms(t0: float) -> str:
    return f"{(time.perf_counter() - t0) * 1000:.0f} ms"


def cli_test(args: Any) -> int:
    """`edge uplink test gb28181 --config FILE [--name NAME]`."""
    from edge.cli._common import err
    from edge.config import load_config
    from edge.config.uplinks import pick_uplink

    if not args.config:
        err("give --config (and --name): a GB/T 28181 test needs the uplink's settings")
        return 2
    try:
        config = load_config(args.config)
    except Exception as exc:
        err(f"cannot use these settings: {exc}")
        return 2
    try:
        cfg = pick_uplink(config.uplinks, "gb28181", args.name)
    except ValueError as exc:
        err(str(exc))
        return 2
    assert isinstance(cfg, Gb28181UplinkConfig)
    return asyncio.run(run_probe(config, cfg, args.timeout))
