"""mqtts:// with a private CA and a client certificate (mutual TLS) against mosquitto."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mqtt_broker import Broker, free_port
from mqtt_hub import HubClient
from uplink_helpers import DaemonFactory, wait_until

from edge.events import Event

OPENSSL = shutil.which("openssl")


def make_pki(d: Path) -> None:
    """A CA, a server certificate for localhost and a client certificate, all signed by the CA."""

    assert OPENSSL is not None

    def run(*args: str) -> None:
        subprocess.run([OPENSSL, *args], cwd=d, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    )
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn in (("server", "localhost"), ("client", "gw-0001")):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={cn}",
        )
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if OPENSSL is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("pki")
    make_pki(d)
    return d


@pytest.fixture
async def tls_broker(tmp_path: Path, pki: Path) -> AsyncIterator[tuple[Broker, int, Path]]:
    tls_port = free_port()
    extra = (
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {pki}/ca.pem\ncertfile {pki}/server.pem\nkeyfile {pki}/server.key\n"
        "require_certificate true\n"
    )
    b = Broker(tmp_path / "broker", extra_conf=extra)
    await b.start()
    yield b, tls_port, pki
    await b.stop()


async def test_mutual_tls_delivers(
    tls_broker: tuple[Broker, int, Path], daemon: DaemonFactory
) -> None:
    broker, tls_port, pki = tls_broker
    hub = HubClient(broker.port)  # the hub reads on the plain listener
    hub.start()
    try:
        await asyncio.wait_for(hub.connected.wait(), 10)
        d = await daemon(
            f"mqtts://localhost:{tls_port}",
            f"""    tls:
      ca_file: {pki}/ca.pem
      cert_file: {pki}/client.pem
      key_file: {pki}/client.key""",
        )
        event = Event("alarm", "smoke-3", {"level": "high"})
        await d.store.add_event(event)
        await wait_until(lambda: [m["id"] for m in hub.events()] == [event.id], 15, "event")
        assert d.rt.services["uplink.hub"].state == "connected"
    finally:
        await hub.stop()


async def test_a_broker_demanding_a_client_certificate_refuses_none(
    tls_broker: tuple[Broker, int, Path], daemon: DaemonFactory
) -> None:
    _broker, tls_port, pki = tls_broker
    d = await daemon(f"mqtts://localhost:{tls_port}", f"    tls:\n      ca_file: {pki}/ca.pem")
    uplink = d.rt.services["uplink.hub"]
    await wait_until(lambda: uplink.last_error is not None, 15, "a refused handshake")
    # Not any error (a timeout or a refused port would also set one): the broker's own
    # TLS alert, which is what tells an installer the client certificate is missing.
    assert "certificate required" in uplink.last_error.lower(), uplink.last_error
    assert uplink.connections == 0
    assert uplink.state in ("connecting", "disconnected")
