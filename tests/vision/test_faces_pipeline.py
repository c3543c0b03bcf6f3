"""Face detection, alignment, embedding and quality on real photos with the real models."""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.vision.faces.gallery import Match, Unknown
from edge.vision.faces.pipeline import FacePipeline
from edge.vision.faces.quality import vote
from edge.vision.faces.settings import FaceSettings
from edge.vision.models import ModelRegistry

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
DEEPFACE = SHARED / "images" / "faces" / "deepface"
MISC = SHARED / "images" / "faces" / "misc"


@pytest.fixture(scope="module")
def pipeline(models_dir: Path) -> FacePipeline:
    return FacePipeline(ModelRegistry.from_dir(models_dir))


def load(path: Path) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(path))
    assert image is not None, path
    return np.asarray(image, dtype=np.uint8)


@pytest.mark.parametrize("name", ["img1.jpg", "img13.jpg", "img17.jpg", "img20.jpg", "img5.jpg"])
def test_one_face_in_single_person_photos(pipeline: FacePipeline, name: str) -> None:
    image = load(DEEPFACE / name)
    (face,) = pipeline.detect(image)
    assert face.score >= 0.6
    # the landmarks sit inside the box: eyes above the mouth, right eye left of left eye
    lm = face.landmarks
    assert ((lm[:, 0] >= face.x) & (lm[:, 0] <= face.x + face.w)).all()
    assert ((lm[:, 1] >= face.y) & (lm[:, 1] <= face.y + face.h)).all()
    assert lm[0, 0] < lm[1, 0] and max(lm[0, 1], lm[1, 1]) < min(lm[3, 1], lm[4, 1])


@pytest.mark.parametrize("path", [DEEPFACE / "couple.jpg", MISC / "hpc203_s_l.jpg"])
def test_two_faces_in_two_person_photos(pipeline: FacePipeline, path: Path) -> None:
    faces = pipeline.detect(load(path))
    assert len(faces) == 2
    a, b = sorted(faces, key=lambda f: f.x)
    assert a.x + a.w <= b.x + b.w / 2, "two different people, not one face twice"


def test_crowd_and_minimum_face_size(models_dir: Path, pipeline: FacePipeline) -> None:
    crowd = load(MISC / "hpc203_selfie_crowd.jpg")
    faces = pipeline.detect(crowd)
    assert len(faces) >= 100
    big_only = FacePipeline(ModelRegistry.from_dir(models_dir), FaceSettings(min_face_px=40))
    big = big_only.detect(crowd)
    assert 0 < len(big) < len(faces)
    assert all(min(f.w, f.h) >= 40 for f in big)


def _pairs(count: int) -> list[tuple[str, str, bool]]:
    with open(DEEPFACE / "master.csv", newline="") as fh:
        rows = [
            (r["file_x"], r["file_y"], r["Decision"].strip() == "Yes") for r in csv.DictReader(fh)
        ]
    same = [r for r in rows if r[2]][:count]
    different = [r for r in rows if not r[2]][:count]
    return same + different


def test_same_person_pairs_are_closer_than_different_person_pairs(pipeline: FacePipeline) -> None:
    pairs = _pairs(8)
    emb = {}
    for name in {p for x, y, _ in pairs for p in (x, y)}:
        obs = pipeline.analyse(load(DEEPFACE / name))
        emb[name] = max(obs, key=lambda o: o.face.area).embedding
    same = [float(np.linalg.norm(emb[x] - emb[y])) for x, y, s in pairs if s]
    different = [float(np.linalg.norm(emb[x] - emb[y])) for x, y, s in pairs if not s]
    assert len(same) == len(different) == 8
    assert max(same) < pipeline.threshold <= min(different)


def test_batched_embedding_equals_one_by_one(pipeline: FacePipeline) -> None:
    image = load(DEEPFACE / "couple.jpg")
    faces = pipeline.detect(image)
    together = pipeline.describe(image, faces)
    alone = [pipeline.describe(image, [f])[0] for f in faces]
    for t, a in zip(together, alone, strict=True):
        np.testing.assert_allclose(t.embedding, a.embedding, atol=1e-4)
    assert together[0].chip.shape == (150, 150, 3)


def test_quality_prefers_sharp_and_large_faces(pipeline: FacePipeline) -> None:
    image = load(DEEPFACE / "img20.jpg")
    (sharp,) = pipeline.analyse(image)
    (blurred,) = pipeline.analyse(np.asarray(cv2.GaussianBlur(image, (0, 0), 6), np.uint8))
    small_img = cv2.resize(image, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
    (small,) = pipeline.analyse(np.asarray(small_img, np.uint8))
    assert sharp.quality > blurred.quality
    assert sharp.quality > small.quality
    assert 0 < small.quality < 1


def test_track_vote_weighs_quality() -> None:
    alice = Match("residents", "Alice", "a1", 0.40)
    bob = Match("residents", "Bob", "b1", 0.55)
    # two poor frames say Bob, one clear frame says Alice: Alice wins
    assert vote([(0.1, bob), (0.1, bob), (0.9, alice)]) == alice
    # the winner reports its best distance
    assert vote([(0.5, Match("residents", "Alice", "a1", 0.5)), (0.5, alice)]) == alice
    # mostly unknown stays unknown
    result = vote([(0.8, Unknown(0.7)), (0.2, alice)])
    assert isinstance(result, Unknown)
    assert isinstance(vote([]), Unknown)


def test_pipeline_is_safe_to_share_between_threads(pipeline: FacePipeline) -> None:
    images = [load(DEEPFACE / n) for n in ("img1.jpg", "couple.jpg", "img13.jpg", "img20.jpg")]
    expected = [[o.embedding for o in pipeline.analyse(im)] for im in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda im: [o.embedding for o in pipeline.analyse(im)], images * 2))
    for exp, res in zip(expected * 2, got, strict=True):
        assert len(exp) == len(res)
        for e, r in zip(exp, res, strict=True):
            np.testing.assert_allclose(e, r, atol=1e-4)
