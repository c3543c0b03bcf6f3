"""The local API refuses hosts that are not the gateway's (DNS rebinding) and odd image paths.

Requests are written byte by byte on a socket so the Host header and the path are exactly what
a browser or an attacker would send (an HTTP client library would normalise or encode them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from pydantic import ValidationError
from webauth import daemon_headers

from edge.app import Daemon
from edge.config import parse_config
from edge.config.web import WebConfig
from edge.payloads import PlatePayload
from edge.web.hosts import HostCheck, host_name
from edge.web.server import make_app


@pytest.fixture
async def daemon(minimal_yaml: str) -> AsyncIterator[Daemon]:
    text = minimal_yaml.replace(
        'listen: "127.0.0.1:0"', 'listen: "127.0.0.1:0"\n  allowed_hosts: [gateway.local]'
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    yield d
    await d.stop()


async def raw_get(
    port: int, path: str, host: str | None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"GET {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host is not None else "")
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    writer.write((head + "Connection: close\r\n\r\n").encode("latin-1"))
    await writer.drain()
    reply = await reader.read()
    writer.close()
    status = int(reply.split(b" ", 2)[1])
    return status, reply.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}",
     "192.168.1.20:{port}", "gateway.local:{port}", "gateway.local."],
)  # fmt: skip
async def test_the_gateways_own_names_are_answered(daemon: Daemon, host: str) -> None:
    port = daemon.web.port
    assert port is not None
    status, body = await raw_get(
        port, "/api/events", host.format(port=port), daemon_headers(daemon)
    )
    assert status == 200 and b'"events"' in body


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "localhost.evil.example", "gateway.local.evil",
     "127.0.0.1.nip.io:{port}", "", "[::1", "localhost:http"],
)  # fmt: skip
async def test_other_hosts_are_refused_before_any_route(daemon: Daemon, host: str) -> None:
    port = daemon.web.port
    assert port is not None
    for path in ("/api/events", "/api/health", "/", "/api/images/x.jpg"):
        status, body = await raw_get(port, path, host.format(port=port))
        assert status == 403, (host, path)
        assert b"web.allowed_hosts" in body


async def test_a_request_without_host_is_refused(daemon: Daemon) -> None:
    assert daemon.web.port is not None
    status, _ = await raw_get(daemon.web.port, "/api/events", None)
    assert status in (400, 403)


@pytest.mark.parametrize(
    "path",
    ["/api/events/%00/images/0", "/api/events/%00/../../edge.db/images/0",
     "/api/events/x/images/%00", "/api/events/" + "a" * 300 + "/images/0",
     "/api/events/" + "/".join(["a" * 250] * 3) + "/images/0",
     "/api/events/%2e%2e/images/0", "/api/events/a/images/%2e%2e/%2e%2e/edge.db",
     "/api/events/%5c..%5cedge.db/images/0", "/api/events/x/images/0%0d%0aSet-Cookie:%20a=b",
     "/api/images/x.jpg"],
)  # fmt: skip
async def test_bad_image_paths_are_a_clean_404(
    daemon: Daemon, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert daemon.web.port is not None
    with caplog.at_level(logging.DEBUG):
        status, body = await raw_get(daemon.web.port, path, "127.0.0.1", daemon_headers(daemon))
    assert status == 404, path
    assert b"Traceback" not in body and b"Error" not in body.replace(b'"error"', b"")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_stored_image_is_still_served(daemon: Daemon) -> None:
    ref = await daemon.store.save_image(b"\xff\xd8plate", "plate_crop")
    plate = PlatePayload(camera="gate1", plate="苏A12345", confidence=0.9)
    event = await daemon.rt.flow.emit(plate.event("gate1", images=(ref,)))
    assert daemon.web.port is not None
    status, body = await raw_get(
        daemon.web.port, f"/api/events/{event.id}/images/0", "localhost", daemon_headers(daemon)
    )
    assert status == 200 and body == b"\xff\xd8plate"


def test_host_names_are_read_without_port_or_case() -> None:
    assert host_name("Gateway.Local:8080") == "gateway.local"
    assert host_name("[::1]:80") == "::1"
    assert host_name("[::1]x") is None and host_name("a:b") is None
    check = HostCheck(["Gateway.Local"])
    assert check.accepts("gateway.local") and check.accepts("10.0.0.5:80")
    assert not check.accepts(None) and not check.accepts("gateway.locall")


@pytest.mark.parametrize("name", ["gateway.local:8080", "http://gateway.local", "", " gw"])
def test_allowed_hosts_takes_bare_names_only(name: str) -> None:
    with pytest.raises(ValidationError, match="bare host name"):
        WebConfig(allowed_hosts=[name])


async def test_the_listen_host_name_is_the_gateways_own(minimal_yaml: str) -> None:
    """An installer who listens on a name reaches the API by that name without listing it.

    The app is served on loopback by aiohttp's test server (the name need not resolve here);
    what matters is which Host the app built from that config answers."""
    text = minimal_yaml.replace('listen: "127.0.0.1:0"', 'listen: "edge-gw.lan:8080"')
    d = Daemon(parse_config(text, "edge.yaml", {}))
    async with TestServer(make_app(d.rt), host="127.0.0.1") as server:
        assert server.port is not None
        assert (await raw_get(server.port, "/login", "edge-gw.lan:8080"))[0] == 200
        assert (await raw_get(server.port, "/", "gateway.local"))[0] == 403


def test_a_configured_listen_name_is_allowed() -> None:
    check = HostCheck(["edge-gw.lan"])
    assert check.accepts("EDGE-GW.lan:8080") and not check.accepts("edge-gw.lan.evil")
