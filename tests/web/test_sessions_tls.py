"""Sessions end when idle or too old; a forged cookie is nobody; HTTPS with a configured pair."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from webauth import MINIMAL, PASSWORDS, with_users

from edge.app import Daemon
from edge.config import parse_config
from edge.config.web import Role
from edge.web.auth.sessions import Sessions


def test_a_session_ends_when_idle_or_too_old_and_a_forged_cookie_is_nobody() -> None:
    now = [0.0]
    sessions = Sessions(idle_s=60, max_s=300, clock=lambda: now[0])
    _, cookie = sessions.create("zhang", Role.GUARD)
    sid = cookie.partition(".")[0]
    assert sessions.lookup(f"{sid}.{'0' * 64}") is None  # not signed by us
    for t in (50, 100, 150, 200, 250, 299):  # busy: each use within the idle window
        now[0] = t
        assert sessions.lookup(cookie) is not None
    now[0] = 301  # absolute lifetime over, however busy
    assert sessions.lookup(cookie) is None
    _, idle = sessions.create("zhang", Role.GUARD)
    now[0] += 61
    assert sessions.lookup(idle) is None


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.local")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = directory / "web.crt", directory / "web.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_the_console_is_served_over_https_with_a_secure_cookie(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    text = with_users(MINIMAL.format(data_dir=tmp_path / "data")).replace(
        "  users:", f"  tls_cert_file: {cert}\n  tls_key_file: {key}\n  users:", 1
    )
    d = Daemon(parse_config(text, "edge.yaml", {}))
    await d.start()
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        url = f"https://localhost:{d.web.port}"
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            body = {"user": "zhang", "password": PASSWORDS["zhang"]}
            async with http.post(f"{url}/api/auth/login", json=body, ssl=trust) as r:
                assert r.status == 200
                assert "Secure" in r.headers["Set-Cookie"]
                assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        async with aiohttp.ClientSession() as http:
            plain = f"http://localhost:{d.web.port}/api/health"
            try:
                async with http.get(plain) as r:
                    answered = r.status
            except aiohttp.ClientError:
                answered = None
            assert answered in (None, 400)  # no plain HTTP beside TLS
    finally:
        await d.stop()
