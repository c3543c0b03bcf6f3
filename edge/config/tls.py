"""TLS files loaded at check time, so a garbage certificate fails `edge config check`
on the ladder instead of the first connection attempt at night."""

from __future__ import annotations

import ssl
from pathlib import Path

from edge.config.types import Key


def _no_passphrase() -> bytes:
    raise ValueError("the key is encrypted: give an unencrypted PEM key (readable by edge only)")


def load_tls_files(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> list[tuple[Key, str]]:
    """Problems with the CA bundle and the client certificate/key pair, keyed by field."""
    problems: list[tuple[Key, str]] = []
    for key, path in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
        if path is not None and not path.is_file():
            problems.append(((key,), f"{path}: no such file"))
    if problems:
        return problems
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=str(ca_file))
        except (ssl.SSLError, OSError) as exc:
            problems.append((("ca_file",), f"{ca_file}: not a PEM CA certificate ({_why(exc)})"))
    if cert_file is not None and key_file is not None:
        try:
            ctx.load_cert_chain(str(cert_file), str(key_file), password=_no_passphrase)
        except ValueError as exc:
            problems.append((("key_file",), f"{key_file}: {exc}"))
        except (ssl.SSLError, OSError) as exc:
            problems.append(_pair_problem(exc, cert_file, key_file))
    return problems


def _why(exc: Exception) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _pair_problem(exc: Exception, cert_file: Path, key_file: Path) -> tuple[Key, str]:
    """Point at the certificate unless it loads on its own, else at the key."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=str(cert_file))
    except (ssl.SSLError, OSError) as cert_exc:
        return ("cert_file",), f"{cert_file}: not a PEM certificate ({_why(cert_exc)})"
    if "KEY_VALUES_MISMATCH" in _why(exc).upper():
        return ("key_file",), f"{key_file} is not the key of {cert_file}"
    return ("key_file",), f"{key_file}: not a PEM private key"
