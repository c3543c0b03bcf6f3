"""`edge face enroll|list|remove` and `edge vision eval-faces`, as an installer runs them."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.cli.main import main as edge_main

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
DEEPFACE = SHARED / "images" / "faces" / "deepface"
NO_FACE = SHARED / "images" / "plates" / "scenes" / "we0091234_police.jpg"  # a street, no one


def face(models_dir: Path, db: Path, *args: str) -> int:
    action, *rest = args
    return edge_main(["face", action, "--models-dir", str(models_dir), "--db", str(db), *rest])


def test_enrol_rejects_no_face_and_group_photos_naming_them(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "faces.db"
    code = face(
        models_dir, db, "enroll", "--name", "Alice",
        str(DEEPFACE / "img1.jpg"), str(NO_FACE), str(DEEPFACE / "couple.jpg"),
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert f"{NO_FACE}: no face found" in err
    assert f"{DEEPFACE / 'couple.jpg'}: 2 faces found" in err
    assert "img1.jpg" not in err.replace(str(DEEPFACE / "couple.jpg"), "")
    assert "nothing enrolled" in err
    assert face(models_dir, db, "list") == 0
    assert "no one enrolled" in capsys.readouterr().out


def test_enrol_list_remove(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "faces.db"
    photos = [str(DEEPFACE / n) for n in ("img1.jpg", "img2.jpg")]
    assert face(models_dir, db, "enroll", "--name", "Alice", "--id", "a-1", *photos) == 0
    assert "enrolled Alice (a-1) in residents: 2 photo(s)" in capsys.readouterr().out
    watch = ["--gallery", "watchlist", "--name", "Bob"]
    assert face(models_dir, db, "enroll", *watch, str(DEEPFACE / "img13.jpg")) == 0
    capsys.readouterr()
    assert face(models_dir, db, "list") == 0
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines()[1:]]
    assert tuple(rows[0][:4]) == ("residents", "a-1", "Alice", "2")
    assert rows[1][0] == "watchlist" and rows[1][2] == "Bob"
    assert face(models_dir, db, "list", "--gallery", "watchlist") == 0
    assert "Alice" not in capsys.readouterr().out
    assert face(models_dir, db, "remove", "--id", "a-1") == 0
    assert "removed 2" in capsys.readouterr().out
    assert face(models_dir, db, "remove", "--id", "a-1") == 1
    assert "no such person" in capsys.readouterr().err


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)


def test_eval_faces_pairs_paths_relative_to_the_csv(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open(DEEPFACE / "master.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    subset = [r for r in rows if r["Decision"] == "Yes"][:4] + [
        r for r in rows if r["Decision"].strip() == "No"
    ][:6]
    folder = tmp_path / "set"
    for r in subset:
        for name in (r["file_x"], r["file_y"]):
            if not (folder / "photos" / name).exists():
                _link(DEEPFACE / name, folder / "photos" / name)
    with open(folder / "pairs.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file_x", "file_y", "Decision"])
        for r in subset:
            w.writerow([f"photos/{r['file_x']}", f"photos/{r['file_y']}", r["Decision"]])
    code = edge_main(
        ["vision", "eval-faces", "--pairs", str(folder / "pairs.csv"),
         "--models-dir", str(models_dir), "--min-accuracy", "1.0"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "accuracy:            1.0000 (10/10)" in out
    assert "ROC AUC:             1.0000" in out


def test_eval_faces_identification(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    g, p = tmp_path / "gallery", tmp_path / "probes"
    _link(DEEPFACE / "img1.jpg", g / "alice" / "1.jpg")
    _link(DEEPFACE / "img13.jpg", g / "bob" / "1.jpg")
    _link(DEEPFACE / "img4.jpg", p / "alice" / "a.jpg")
    _link(DEEPFACE / "img15.jpg", p / "bob" / "b.jpg")
    _link(DEEPFACE / "img18.jpg", p / "unknown" / "x.jpg")
    # A probe with two faces, Bob beside a stranger: exactly one matches, so it counts for Bob.
    photos = [
        np.asarray(cv2.imread(str(DEEPFACE / n)), np.uint8) for n in ("img14.jpg", "img16.jpg")
    ]
    h = 400
    side = [cv2.resize(im, (round(im.shape[1] * h / im.shape[0]), h)) for im in photos]
    cv2.imwrite(str(p / "bob" / "pair.jpg"), np.hstack(side))
    code = edge_main(
        ["vision", "eval-faces", "--gallery", str(g), "--probes", str(p),
         "--models-dir", str(models_dir)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "gallery:             2 people, 2 images" in out
    assert "accuracy:            1.0000 (4/4)" in out
    assert "false accepts:       0/1" in out


def test_eval_faces_reports_unreadable_input(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text(f"file_x,file_y,Decision\nmissing.jpg,{DEEPFACE / 'img1.jpg'},Yes\n")
    code = edge_main(
        ["vision", "eval-faces", "--pairs", str(csv_path), "--models-dir", str(models_dir)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot read image(s)" in err and "missing.jpg" in err and "img1.jpg" not in err
