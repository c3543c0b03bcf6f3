"""`edge config check` on the GA/T 1400 IDs: every digit rule at its own line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from gat_helpers import config_text

REPO = Path(__file__).resolve().parents[2]


def check(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    out = subprocess.run(
        [sys.executable, "-m", "edge", "config", "check", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.returncode, out.stdout + out.stderr


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_valid_gat1400_config_passes(tmp_path: Path) -> None:
    code, out = check(tmp_path, config_text(tmp_path / "d", "http://127.0.0.1:1"))
    assert code == 0, out


def test_digit_rules_are_reported_at_their_line(tmp_path: Path) -> None:
    text = config_text(tmp_path / "d", "http://127.0.0.1:1")
    text = text.replace('ape_id: "32010600001190000009"', 'ape_id: "32010600002160000009"')
    text = text.replace('device_id: "32010600001200000001"', 'device_id: "3201060000120000001"')
    code, out = check(tmp_path, text)
    assert code != 0
    ape_line, dev_line = line_of(text, "ape_id:"), line_of(text, "device_id:")
    assert re.search(rf"edge\.yaml:{ape_line}:\d+: .*ape_id.*216", out), out
    assert re.search(rf"edge\.yaml:{dev_line}:\d+: .*device_id.*20 digits", out), out


def test_gat1400_refuses_kinds_it_has_no_object_for(tmp_path: Path) -> None:
    text = config_text(tmp_path / "d", "http://127.0.0.1:1", "    kinds: [plate, reading]\n")
    code, out = check(tmp_path, text)
    assert code != 0 and "reading" in out and str(line_of(text, "kinds:")) in out
