"""`edge vision eval-plates` and `edge vision detect` as an installer runs them."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import pytest
from prereqs import SHARED_MIRROR, needs

from edge.cli import vision
from edge.cli._common import CliError

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CROPS = SHARED / "images" / "plates" / "crops"
SCENES = SHARED / "images" / "plates" / "scenes"

pytestmark = needs(SHARED.is_dir(), *SHARED_MIRROR)


def run(*argv: str) -> int:
    """The verb's exit code; a `CliError` as the `edge` entry point answers it (its sentence
    on stderr, its code)."""
    parser = argparse.ArgumentParser(prog="edge")
    vision.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["vision", *argv, "--models-dir", str(SHARED / "models")])
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"edge: {exc}", file=sys.stderr)
        return exc.code


def copy_crops(dest: Path, names: list[str]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CROPS / f"{name}.jpg", dest / f"{name}.jpg")


def test_eval_plates_scores_crops_named_by_their_plate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_crops(tmp_path, ["京PL3N67", "沪C8GK31", "浙C510W8"])
    assert run("eval-plates", str(tmp_path), "--crops") == 0
    out = capsys.readouterr().out
    assert "exact match: 3/3 = 100.0 %" in out
    assert "ok   京PL3N67.jpg  want 京PL3N67  got 京PL3N67" in out


def test_eval_plates_reads_labels_csv_with_other_column_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_crops(tmp_path, ["京PL3N67", "沪C8GK31"])
    (tmp_path / "labels.csv").write_text(
        "filename,text\n京PL3N67.jpg,京PL3N67\n沪C8GK31.jpg,沪C8GK99\n", encoding="utf-8"
    )
    assert run("eval-plates", str(tmp_path), "--crops", "--min-accuracy", "0.9") == 1
    out = capsys.readouterr().out
    assert "MISS  沪C8GK31.jpg  want 沪C8GK99  got 沪C8GK31" in out
    assert "exact match: 1/2 = 50.0 %" in out


def test_labels_come_from_file_names_without_their_decorations() -> None:
    assert vision.label_from_name("皖A12345_1") == "皖A12345"
    assert vision.label_from_name("_0_津B6H920") == "津B6H920"
    assert vision.label_from_name("京A·12345") == "京A12345"


def test_eval_plates_on_the_scenes_folder_meets_the_floor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("eval-plates", str(SCENES), "--min-accuracy", str(8 / 12), "-q") == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    hits = int(summary.split()[2].split("/")[0])
    assert hits >= 11


def test_bad_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("eval-plates", str(tmp_path / "missing")) == 2
    (tmp_path / "labels.csv").write_text("a,b\nx,y\n", encoding="utf-8")
    assert run("eval-plates", str(tmp_path)) == 2
    assert "need a file column" in capsys.readouterr().err


def test_detect_json_lists_plates_with_geometry(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("detect", str(SCENES / "zeusees_15.jpg"), "--json", "--no-faces") == 0
    (doc,) = json.loads(capsys.readouterr().out)
    (plate,) = doc["plates"]
    assert plate["text"] == "渝D00796"
    assert plate["double_row"] is True and plate["plate_type"] == "yellow_double"
    assert len(plate["corners"]) == 4 and plate["valid"] is True
