"""`edge uplink test mqtt`: prove the path to the hub, one step at a time.

Connects with the destination's own settings (URL, credentials, TLS files)
under a distinct client ID (reusing the daemon's would disconnect it),
subscribes to a private test topic, publishes a message at QoS 1, and waits
for it to come back. Each step is reported with its time, so an installer can
tell DNS/TCP from TLS from authentication from ACLs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import sys
import time
from typing import Any

from pydantic import ValidationError

from edge.cli._common import CliError, load_or_raise


def run(args: argparse.Namespace) -> int:
    try:
        cfg, site, gateway = _settings(args)
    except CliError:
        raise
    except ValidationError as exc:
        why = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise CliError(f"cannot use these settings: {why}") from None
    except ValueError as exc:
        raise CliError(f"cannot use these settings: {exc}") from None
    if not cfg.url:
        raise CliError("this destination has no url; set it in the config (or EDGE_MQTT_URL)")
    return asyncio.run(_run(cfg, site, gateway, args.timeout))


def _settings(args: argparse.Namespace) -> Any:
    from edge.config.types import MqttUrl, check_value
    from edge.config.uplinks import pick_uplink
    from edge.uplinks.mqtt.config import MqttUplinkConfig

    if args.config:
        cfg = load_or_raise(args.config)
        chosen = pick_uplink(cfg.uplinks, "mqtt", args.name)
        site, gateway = cfg.site.site_id, cfg.site.gateway_id
        if args.url:
            chosen = chosen.model_copy(update={"url": check_value(MqttUrl, args.url)})
        return chosen, site, gateway
    if not args.url:
        raise CliError("give --config (and --name) or --url mqtt://host:1883")
    return MqttUplinkConfig(type="mqtt", url=args.url), "test", "test"


class _Steps:
    def __init__(self) -> None:
        self.began = time.perf_counter()

    def ok(self, what: str, t0: float) -> None:
        print(f"  ok    {what} ({(time.perf_counter() - t0) * 1000:.0f} ms)")

    def fail(self, what: str, exc: BaseException | str) -> int:
        print(f"  FAIL  {what}: {exc}")
        return 1


async def _run(cfg: Any, site: str, gateway: str, timeout_s: float) -> int:
    import aiomqtt

    from edge.uplinks.mqtt.sender import redacted_url, tls_context

    steps = _Steps()
    nonce = os.urandom(6).hex()
    topic = f"{cfg.prefix(site, gateway)}/test/{nonce}"
    print(f"mqtt uplink test: {redacted_url(cfg.url)}  topic {topic}")
    ctx = None
    if cfg.use_tls:
        t0 = time.perf_counter()
        try:
            ctx = tls_context(cfg)
        except (OSError, ssl.SSLError) as exc:
            return steps.fail("load TLS files", exc)
        steps.ok("load TLS files", t0)
    client = aiomqtt.Client(
        cfg.host,
        cfg.port,
        identifier=f"{cfg.identifier(gateway)}-test-{nonce}",
        username=cfg.username,
        password=cfg.password.get_secret_value() if cfg.password else None,
        tls_context=ctx,
        tls_insecure=True if cfg.tls.insecure else None,
        timeout=timeout_s,
        keepalive=cfg.keepalive_s,
    )
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(client.__aenter__(), timeout_s)
    except (aiomqtt.MqttError, OSError, ssl.SSLError, TimeoutError) as exc:
        return steps.fail(f"connect to {cfg.host}:{cfg.port}", str(exc) or "timed out")
    steps.ok(f"connect to {cfg.host}:{cfg.port}" + (" (TLS)" if ctx else ""), t0)
    try:
        t0 = time.perf_counter()
        try:
            await client.subscribe(topic, qos=1)
        except aiomqtt.MqttError as exc:
            return steps.fail("subscribe", exc)
        steps.ok("subscribe (QoS 1)", t0)
        payload = json.dumps({"test": nonce, "ts": time.time()})
        t0 = time.perf_counter()
        try:
            await client.publish(topic, payload, qos=1)
        except aiomqtt.MqttError as exc:
            return steps.fail("publish (QoS 1, waiting for PUBACK)", exc)
        steps.ok("publish (QoS 1, PUBACK received)", t0)
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                async for m in client.messages:
                    raw = m.payload
                    text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
                    if str(m.topic) == topic and text == payload:
                        break
        except (TimeoutError, aiomqtt.MqttError) as exc:
            why = str(exc) or "not received in time (do the broker's ACLs allow it?)"
            return steps.fail("message back on the subscription", why)
        steps.ok("message back on the subscription", t0)
    finally:
        with contextlib.suppress(aiomqtt.MqttError):
            await client.__aexit__(None, None, None)
    print(f"all steps passed in {(time.perf_counter() - steps.began) * 1000:.0f} ms")
    sys.stdout.flush()
    return 0
