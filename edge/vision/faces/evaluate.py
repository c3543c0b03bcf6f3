"""Offline evaluation of the face pipeline on labelled photos: verification and identification.

These numbers are how an installer checks a threshold or a swapped model on their own
photos before trusting it at the gate, so the rules are explicit and simple: a pair photo
contributes its largest face; a probe photo with several faces counts only when exactly
one of them matches someone.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.faces.gallery import FaceIndex, Match
from edge.vision.faces.pipeline import FacePipeline

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
UNKNOWN_FOLDER = "unknown"


class EvalInputError(ValueError):
    """The labelled data cannot be read (missing file, bad CSV)."""


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise EvalInputError(f"{path}: cannot read image")
    return np.asarray(image, dtype=np.uint8)


def roc_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Area under the ROC curve (higher score = more likely positive), ties counted half."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


@dataclass
class PairReport:
    threshold: float
    pairs: int = 0
    correct: int = 0
    auc: float = float("nan")
    same_max: float = float("nan")
    different_min: float = float("nan")
    best_threshold: float = float("nan")
    best_accuracy: float = float("nan")
    no_face: list[str] = field(default_factory=list)
    errors: list[tuple[str, str, float, bool]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.pairs if self.pairs else float("nan")


def read_pairs(csv_path: Path) -> list[tuple[Path, Path, bool]]:
    """(image_x, image_y, same) rows; paths relative to the CSV's folder."""
    base = csv_path.parent
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise EvalInputError(f"{csv_path}: {exc}") from exc
    out = []
    for n, row in enumerate(rows, start=2):
        try:
            x, y, decision = row["file_x"], row["file_y"], row["Decision"]
        except KeyError as exc:
            raise EvalInputError(f"{csv_path}: needs columns file_x,file_y,Decision") from exc
        label = decision.strip().lower()
        if label not in ("yes", "no"):
            raise EvalInputError(f"{csv_path}:{n}: Decision must be Yes or No, not {decision!r}")
        out.append((base / x.strip(), base / y.strip(), label == "yes"))
    return out


def largest_face_embedding(pipeline: FacePipeline, path: Path) -> npt.NDArray[np.float32] | None:
    image = read_image(path)
    faces = pipeline.detect(image)
    if not faces:
        return None
    biggest = max(faces, key=lambda f: f.area)
    return pipeline.describe(image, [biggest])[0].embedding


def verify_pairs(
    pipeline: FacePipeline,
    csv_path: Path,
    threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PairReport:
    """Same/different decisions at the threshold; a photo without a face makes its pairs wrong."""
    pairs = read_pairs(csv_path)
    report = PairReport(threshold=threshold if threshold is not None else pipeline.threshold)
    files = sorted({p for x, y, _ in pairs for p in (x, y)})
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise EvalInputError(f"{csv_path}: cannot read image(s) {', '.join(missing)}")
    emb: dict[Path, npt.NDArray[np.float32] | None] = {}
    for n, path in enumerate(files, start=1):
        emb[path] = largest_face_embedding(pipeline, path)
        if emb[path] is None:
            report.no_face.append(str(path))
        if progress:
            progress(n, len(files))
    dists, labels = [], []
    for x, y, same in pairs:
        ex, ey = emb[x], emb[y]
        d = float(np.linalg.norm(ex - ey)) if ex is not None and ey is not None else float("inf")
        dists.append(d)
        labels.append(same)
        if (d < report.threshold) == same:
            report.correct += 1
        else:
            report.errors.append((x.name, y.name, d, same))
    report.pairs = len(pairs)
    d_arr, y_arr = np.asarray(dists), np.asarray(labels, dtype=bool)
    report.auc = roc_auc(-d_arr, y_arr)
    if y_arr.any():
        report.same_max = float(d_arr[y_arr].max())
    if (~y_arr).any():
        report.different_min = float(d_arr[~y_arr].min())
    report.best_threshold, report.best_accuracy = _best_threshold(d_arr, y_arr)
    return report


def _best_threshold(
    dists: npt.NDArray[np.float64], same: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    """The most accurate threshold, midway between the two distances that bound it."""
    finite = np.unique(dists[np.isfinite(dists)])
    if finite.size == 0:
        return float("nan"), float("nan")
    # Candidate thresholds: below everything, then midway between neighbours, then above all.
    cuts = np.concatenate(
        [[finite[0] - 1e-6], (finite[:-1] + finite[1:]) / 2.0, [finite[-1] + 1e-6]]
    )
    accs = [float(((dists < c) == same).mean()) for c in cuts]
    best = int(np.argmax(accs))
    return float(cuts[best]), accs[best]


@dataclass
class IdReport:
    threshold: float
    enrolled_people: int = 0
    enrolled_images: int = 0
    gallery_no_face: list[str] = field(default_factory=list)
    probes: int = 0
    correct: int = 0
    known_probes: int = 0
    known_correct: int = 0
    wrong_identity: int = 0
    missed: int = 0
    unknown_probes: int = 0
    false_accepts: int = 0
    ambiguous: int = 0
    no_face: list[str] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.probes if self.probes else float("nan")


def _images(folder: Path) -> Iterable[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _people(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise EvalInputError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir() if p.is_dir())


def identify(
    pipeline: FacePipeline,
    gallery_dir: Path,
    probes_dir: Path,
    threshold: float | None = None,
) -> IdReport:
    """Enrol each gallery sub-folder as one person, then identify every probe photo.

    Probe sub-folders name the true identity (`unknown` for people not enrolled). A probe
    with one face is right when its match (or unknown) equals the folder name. A probe with
    several faces is judged on the single face that matches someone; if none matches it
    reads as unknown, and if several match it is ambiguous (counted wrong).
    """
    report = IdReport(threshold=threshold if threshold is not None else pipeline.threshold)
    vectors, names = [], []
    for person in _people(gallery_dir):
        got = 0
        for path in _images(person):
            e = largest_face_embedding(pipeline, path)
            if e is None:
                report.gallery_no_face.append(str(path))
                continue
            vectors.append(e)
            names.append(person.name)
            got += 1
        report.enrolled_images += got
        report.enrolled_people += got > 0
    if vectors:
        index = FaceIndex(np.stack(vectors), ["residents"] * len(names), names, names)
    else:
        index = FaceIndex.empty(pipeline.embedder.dim)
    for folder in _people(probes_dir):
        truth = folder.name
        for path in _images(folder):
            report.probes += 1
            is_known = truth != UNKNOWN_FOLDER
            report.known_probes += is_known
            report.unknown_probes += not is_known
            observations = pipeline.analyse(read_image(path))
            if not observations:
                report.no_face.append(str(path))
                report.missed += is_known
                report.errors.append((str(path), truth, "no face"))
                continue
            results = index.match(np.stack([o.embedding for o in observations]), report.threshold)
            matched = [r.name for r in results if isinstance(r, Match)]
            if len(matched) > 1 and len(observations) > 1:
                report.ambiguous += 1
                report.errors.append((str(path), truth, "ambiguous: " + ", ".join(matched)))
                continue
            predicted = matched[0] if matched else UNKNOWN_FOLDER
            if predicted == truth:
                report.correct += 1
                report.known_correct += is_known
                continue
            report.errors.append((str(path), truth, predicted))
            if not is_known:
                report.false_accepts += 1
            elif predicted == UNKNOWN_FOLDER:
                report.missed += 1
            else:
                report.wrong_identity += 1
    return report
