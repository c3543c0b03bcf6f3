"""A config file cannot make `edge config check` (or `edge run`) eat the gateway:
aliases, expanded values and file size are bounded, with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli.main import main
from edge.config import ConfigError, parse_config
from edge.config.yamlmarks import MAX_ALIASES, MAX_FILE_BYTES


def bomb(levels: int) -> str:
    """The classic "billion laughs": each level repeats the previous one nine times."""
    lines = ["config_version: 1", 'l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(9), encoding="utf-8")  # 10^9 values: never finished before
    assert len(path.read_bytes()) < 500
    assert main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "expands to more than 100000 values" in out and "aliases" in out


def test_too_many_aliases_are_refused_at_the_first_one_too_many() -> None:
    text = "config_version: 1\nx: &x 1\n" + "".join(f"y{i}: *x\n" for i in range(MAX_ALIASES + 5))
    with pytest.raises(ConfigError) as info:
        parse_config(text, "edge.yaml", {})
    (problem,) = info.value.problems
    assert problem.line == MAX_ALIASES + 3 and f"more than {MAX_ALIASES} aliases" in str(problem)


def test_a_few_aliases_still_work(minimal_yaml: str) -> None:
    text = minimal_yaml.replace("site:\n", "x-common: &name 测试小区\nsite:\n").replace(
        "name: 测试小区", "name: *name"
    )
    with pytest.raises(ConfigError, match="unknown key 'x-common'"):
        parse_config(text, "edge.yaml", {})  # the alias itself was accepted


def test_oversized_file_is_refused() -> None:
    text = "config_version: 1\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        parse_config(text, "edge.yaml", {})


def test_an_endless_file_is_not_read_to_its_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "/dev/zero"]) == 1
    assert "larger than 1024 KiB" in capsys.readouterr().out
