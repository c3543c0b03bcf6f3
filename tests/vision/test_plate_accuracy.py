"""Plate accuracy by category: the labelled sets stay where they are, and the degraded set
(generated here, never committed) is reproducible and measured per degradation."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from prereqs import SHARED_MIRROR, needs

from edge.cli import vision
from edge.vision.plates.degrade import DEGRADATIONS, generate

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
PLATES = SHARED / "images" / "plates"

pytestmark = needs(PLATES.is_dir(), *SHARED_MIRROR)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="edge")
    vision.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["vision", *argv, "--models-dir", str(SHARED / "models")])
    code = int(args.handler(args))
    return code, capsys.readouterr().out


def test_the_degraded_set_is_the_same_on_every_run(tmp_path: Path) -> None:
    a = generate(PLATES / "crops", tmp_path / "a", per_kind=3, seed=15)
    b = generate(PLATES / "crops", tmp_path / "b", per_kind=3, seed=15)
    assert a == b and len(a) == 3 * len(DEGRADATIONS)
    for row in a:
        assert (tmp_path / "a" / row["file"]).read_bytes() == (
            tmp_path / "b" / row["file"]
        ).read_bytes()
    tilts = [abs(float(r["tilt_deg"])) for r in a if r["degradation"] == "tilt_30"]
    assert all(10 <= t <= 30 for t in tilts)
    assert {r["height_px"] for r in a if r["degradation"] == "height_20px"} == {"20"}


def test_the_script_writes_labels_eval_plates_reads(tmp_path: Path) -> None:
    out = tmp_path / "set"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make-degraded-plates"), str(PLATES / "crops"),
         str(out), "--per-kind", "2"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "10 degraded crops" in done.stdout
    assert len(vision.load_labels(out)) == 10


def test_eval_plates_reports_each_degradation_and_lists_the_misses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(PLATES / "crops", tmp_path, per_kind=8, seed=15)
    code, out = run(capsys, "eval-plates", str(tmp_path), "--crops", "-q")
    assert code == 0
    rates = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "degradation":
            hits, total = parts[2].split("/")
            rates[parts[1]] = int(hits) / int(total)
    assert set(rates) == set(DEGRADATIONS)
    # floors a little under what the reader does today (see docs/vision-plates.md)
    for kind in ("motion_blur", "jpeg_q12", "height_20px", "low_light"):
        assert rates[kind] >= 0.75, (kind, out)
    misses = [line for line in out.splitlines() if line.strip().startswith("MISS")]
    assert all("degradation=" in m and "tilt=" in m for m in misses)
    assert "by category" in out and "colour       blue" in out


@pytest.mark.parametrize("folder", ["scenes", "ccpd"])
def test_every_labelled_scene_is_read(folder: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "eval-plates", str(PLATES / folder), "-q", "--min-accuracy", "1.0")
    assert code == 0, out


@pytest.mark.slow
def test_the_labelled_crops_read_at_98_percent_or_better(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "eval-plates", str(PLATES / "crops"), "--crops", "-q",
                    "--min-accuracy", "0.98")  # fmt: skip
    assert code == 0, out.splitlines()[-1]
