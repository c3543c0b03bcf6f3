"""What an installer sees: every mistake named by file, line, column and key, all at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "edge.yaml", env or {})
    return [str(p) for p in info.value.problems]


def test_shipped_configs_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_DATA_DIR", str(tmp_path))
    for name in ("demo.yaml", "example.yaml"):
        assert main(["config", "check", str(ROOT / "config" / name)]) == 0, name


def test_each_kind_of_mistake_names_line_column_and_key(minimal_yaml: str) -> None:
    text = minimal_yaml.replace(
        'web:\n  listen: "127.0.0.1:0"\n',
        "web:\n  listen: 8080\n  colour: red\n"
        "logging:\n  format: xml\n"
        "buses:\n  - id: line1\n    type: serial\n    port: /dev/ttyUSB0\n"
        "    timeout_s: 5x\n    retries: 99\n    baudrate: fast\n",
    ).replace('  gateway_id: "32010600001180000001"\n', "")
    got = problems(text)
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if fragment in line)

    expected = {
        ("site.gateway_id", line_of("site:")): "missing required key 'gateway_id'",
        ("web.listen", line_of("listen: 8080")): "",
        ("web.colour", line_of("colour: red")): "unknown key 'colour'",
        ("logging.format", line_of("format: xml")): "'human' or 'json'",
        ("buses[0].timeout_s", line_of("timeout_s: 5x")): "invalid duration '5x'",
        ("buses[0].retries", line_of("retries: 99")): "less than or equal to 10",
        ("buses[0].baudrate", line_of("baudrate: fast")): "integer",
    }
    assert len(got) == len(expected), got
    for (key, line), message in expected.items():
        match = [p for p in got if p.startswith(f"edge.yaml:{line}:") and f": {key}: " in p]
        assert match, f"no problem reported for {key} at line {line}: {got}"
        assert message in match[0]


def test_yaml_syntax_error_points_at_the_line() -> None:
    got = problems("config_version: 1\nsite:\n  name: [unclosed\n  site_id: 1\n")
    assert len(got) == 1
    assert got[0].startswith("edge.yaml:4:") and "YAML syntax" in got[0]


def test_unknown_key_suggests_the_intended_one(minimal_yaml: str) -> None:
    got = problems(minimal_yaml.replace("  data_dir:", "  retention_dayz: 3\n  data_dir:"))
    assert "unknown key 'retention_dayz'; did you mean 'retention_days'?" in got[0]


def test_unknown_device_or_bus_type_is_one_clear_error(minimal_yaml: str) -> None:
    got = problems(minimal_yaml + "buses:\n  - id: b\n    type: serail\n    port: x\n")
    assert len(got) == 1
    assert "buses[0].type" in got[0] and "'serail'" in got[0] and "'serial'" in got[0]


def test_env_substitution_and_defaults(minimal_yaml: str) -> None:
    text = minimal_yaml.replace('"127.0.0.1:0"', '"127.0.0.1:${PORT:-8088}"').replace(
        "name: 测试小区", "name: ${SITE_NAME}"
    )
    cfg = parse_config(text, "edge.yaml", {"SITE_NAME": "梅园"})
    assert cfg.site.name == "梅园" and cfg.web.port == 8088
    cfg = parse_config(text, "edge.yaml", {"SITE_NAME": "梅园", "PORT": "9000"})
    assert cfg.web.port == 9000
    got = problems(text)
    assert any("site.name: environment variable SITE_NAME is not set" in p for p in got)


def test_durations_and_sizes_accept_units(minimal_yaml: str) -> None:
    text = minimal_yaml.replace(
        "  data_dir:", "  max_bytes: 2GB\n  prune_interval_s: 5m\n  data_dir:"
    )
    cfg = parse_config(text, "edge.yaml", {})
    assert cfg.storage.max_bytes == 2 * 1000**3
    assert cfg.storage.prune_interval_s == 300
    assert cfg.storage.hard_max_bytes == int(2.5 * 1000**3)


def test_unreadable_file_exits_2_and_invalid_exits_1(
    write_config: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", "/nonexistent/edge.yaml"]) == 2
    path = write_config("config_version: 2\n")
    assert main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"{path}:1:17: config_version: ") for line in out), out
    assert any("missing required key 'site'" in line for line in out)


def test_secret_files_are_read_and_never_shown(tmp_path: Path) -> None:
    from pydantic import SecretStr

    from edge.config.loader import redacted
    from edge.config.types import Section

    class Login(Section):
        username: str
        password: SecretStr | None = None

    secret = tmp_path / "pw"
    secret.write_text("s3cret-口令\n", encoding="utf-8")
    login = Login.model_validate({"username": "u", "password_file": str(secret)})
    assert login.password is not None and login.password.get_secret_value() == "s3cret-口令"
    assert "s3cret" not in json.dumps(redacted(login), ensure_ascii=False)
    assert "s3cret" not in repr(login)
    with pytest.raises(ValueError, match="cannot read"):
        Login.model_validate({"username": "u", "password_file": str(tmp_path / "missing")})


def test_schema_documents_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    missing: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if not (prop.get("title") and prop.get("description")):
                    missing.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}.{key}" if key != "properties" else where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(schema, "$")
    assert not missing, f"fields without title/description: {missing}"


def test_load_config_reads_a_file(write_config: Callable[[str], Path], minimal_yaml: str) -> None:
    cfg = load_config(write_config(minimal_yaml))
    assert cfg.site.site_id == "32010600002160000001"
