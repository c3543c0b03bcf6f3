"""Values that would pass a type check but could never work are refused by `config check`:
absurd durations, unknown topic placeholders, TLS files that are not certificates or keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edge.config import ConfigError, parse_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "edge.yaml", {})
    return [str(p) for p in info.value.problems]


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


BUS = "buses:\n  - id: line1\n    type: serial\n    port: /dev/null\n"


@pytest.mark.parametrize("value", ["99999999999999999999999999d", "400d", ".inf", ".nan"])
def test_absurd_durations_are_refused(minimal_yaml: str, value: str) -> None:
    text = (
        minimal_yaml
        + BUS
        + (
            'devices:\n  - id: m1\n    type: dlt645\n    bus: line1\n    address: "1"\n'
            f"    poll_interval_s: {value}\n"
        )
    )
    (got,) = problems(text)
    assert got.startswith(f"edge.yaml:{line_of(text, '    poll_interval_s:')}:")
    assert "devices[0].poll_interval_s" in got and ("366d" in got or "finite" in got), got


def test_a_year_of_retention_passes_and_a_millennium_does_not(minimal_yaml: str) -> None:
    ok = minimal_yaml.replace("storage:\n", "storage:\n  retention_days: 365\n")
    assert parse_config(ok, "edge.yaml", {}).storage.retention_days == 365
    (got,) = problems(minimal_yaml.replace("storage:\n", "storage:\n  retention_days: 365000\n"))
    assert "storage.retention_days" in got


def hub(extra: str) -> str:
    return "uplinks:\n  hub:\n    type: mqtt\n    url: mqtts://127.0.0.1:8883\n" + extra


@pytest.mark.parametrize(
    ("prefix", "said"),
    [
        ("compound/{site}", "unknown placeholder {site}"),
        ("compound/{site_id!r}", "no format or conversion"),
        ("compound/{site_id", "literal braces"),
        ("compound/#", "wildcards"),
    ],
)
def test_topic_prefix_placeholders_are_checked(minimal_yaml: str, prefix: str, said: str) -> None:
    text = minimal_yaml + hub(f'    topic_prefix: "{prefix}"\n')
    (got,) = problems(text)
    assert got.startswith(f"edge.yaml:{line_of(text, '    topic_prefix:')}:")
    assert "uplinks.hub.topic_prefix" in got and said in got, got


def test_known_placeholders_are_replaced(minimal_yaml: str) -> None:
    text = minimal_yaml + hub('    topic_prefix: "c/{gateway_id}/{site_id}/"\n')
    cfg = parse_config(text, "edge.yaml", {})
    assert cfg.uplinks["hub"].prefix("S", "G") == "c/G/S"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed (apt-get install openssl)"
    d = tmp_path_factory.mktemp("pki")
    for name in ("a", "b"):
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/CN={name}"],
            cwd=d, check=True, capture_output=True,
        )  # fmt: skip
    (d / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    return d


def tls(ca: str | None, cert: str | None, key: str | None, d: Path) -> str:
    lines = ["    tls:"]
    for field, name in (("ca_file", ca), ("cert_file", cert), ("key_file", key)):
        if name:
            lines.append(f"      {field}: {d / name}")
    return hub("\n".join(lines) + "\n")


def test_real_tls_files_pass(minimal_yaml: str, pki: Path) -> None:
    cfg = parse_config(minimal_yaml + tls("a.pem", "a.pem", "a.key", pki), "edge.yaml", {})
    assert cfg.uplinks["hub"].tls.key_file == pki / "a.key"


@pytest.mark.parametrize(
    ("files", "key", "said"),
    [
        (("garbage.pem", None, None), "ca_file", "not a PEM CA certificate"),
        ((None, "garbage.pem", "a.key"), "cert_file", "not a PEM certificate"),
        ((None, "a.pem", "garbage.pem"), "key_file", "not a PEM private key"),
        ((None, "a.pem", "b.key"), "key_file", "is not the key of"),
        ((None, "a.pem", None), "key_file", "give both"),
    ],
)
def test_garbage_tls_files_are_refused_at_their_key(
    minimal_yaml: str,
    pki: Path,
    files: tuple[str | None, str | None, str | None],
    key: str,
    said: str,
) -> None:
    text = minimal_yaml + tls(*files, pki)
    (got,) = problems(text)
    fragment = f"      {key}:" if f"      {key}:" in text else "    tls:"
    assert got.startswith(f"edge.yaml:{line_of(text, fragment)}:"), got
    assert f"uplinks.hub.tls.{key}: " in got and said in got, got
