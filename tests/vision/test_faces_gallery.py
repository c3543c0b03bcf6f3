"""Galleries: enrol real faces, match the right person, call strangers unknown, at 100k scale."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.vision.faces.gallery import FaceGallery, FaceIndex, Match, Unknown
from edge.vision.faces.pipeline import FacePipeline, FaceRecognizer
from edge.vision.models import ModelRegistry

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
DEEPFACE = SHARED / "images" / "faces" / "deepface"

# Identities from master.csv's "Yes" pairs; every pair across these groups is "No".
PERSON_A = ("img1.jpg", "img2.jpg", "img4.jpg")  # enrol the first two, probe the third
PERSON_B = ("img13.jpg", "img14.jpg")
STRANGER = "img16.jpg"


@pytest.fixture(scope="module")
def pipeline(models_dir: Path) -> FacePipeline:
    return FacePipeline(ModelRegistry.from_dir(models_dir))


@pytest.fixture(scope="module")
def embeddings(pipeline: FacePipeline) -> dict[str, npt.NDArray[np.float32]]:
    out = {}
    for name in (*PERSON_A, *PERSON_B, STRANGER):
        (obs,) = pipeline.analyse(np.asarray(cv2.imread(str(DEEPFACE / name)), np.uint8))
        out[name] = obs.embedding
    return out


@pytest.fixture
def gallery(tmp_path: Path, pipeline: FacePipeline) -> FaceGallery:
    return pipeline.open_gallery(tmp_path / "faces.db")


def test_match_names_the_enrolled_person_and_calls_a_stranger_unknown(
    gallery: FaceGallery, embeddings: dict[str, npt.NDArray[np.float32]]
) -> None:
    pid_a, added = gallery.enroll("residents", "Alice", None, embeddings[PERSON_A[0]], "sha-a1")
    assert added == 1
    gallery.enroll("residents", "Alice", None, embeddings[PERSON_A[1]], "sha-a2")
    gallery.enroll("watchlist", "Bob", "bob-1", embeddings[PERSON_B[0]], "sha-b1")
    assert len(gallery) == 3
    probe = np.stack([embeddings[PERSON_A[2]], embeddings[PERSON_B[1]], embeddings[STRANGER]])
    a, b, stranger = gallery.match(probe)
    assert isinstance(a, Match) and (a.gallery, a.name, a.person_id) == (
        "residents",
        "Alice",
        pid_a,
    )
    assert isinstance(b, Match) and (b.gallery, b.name, b.person_id) == (
        "watchlist",
        "Bob",
        "bob-1",
    )
    assert a.distance < 0.6 and b.distance < 0.6
    assert isinstance(stranger, Unknown)
    assert stranger.nearest_distance is not None and stranger.nearest_distance >= 0.6


def test_enrolment_persists_reuses_ids_and_is_idempotent(
    tmp_path: Path, gallery: FaceGallery, embeddings: dict[str, npt.NDArray[np.float32]]
) -> None:
    pid, _ = gallery.enroll("residents", "Alice", None, embeddings[PERSON_A[0]], "sha-a1")
    again, added = gallery.enroll("residents", "Alice", None, embeddings[PERSON_A[0]], "sha-a1")
    assert (again, added) == (pid, 0), "same photo, same person: nothing new"
    reopened = FaceGallery(tmp_path / "faces.db", model_key=gallery.model_key, dim=gallery.dim)
    assert len(reopened) == 1
    (entry,) = reopened.list()
    assert (entry.gallery, entry.name, entry.person_id, entry.embeddings) == (
        "residents", "Alice", pid, 1,
    )  # fmt: skip
    with pytest.raises(ValueError, match="enrolled as 'Alice'"):
        gallery.enroll("residents", "Mallory", pid, embeddings[STRANGER], "sha-x")
    assert reopened.remove("residents", name="Alice") == 1
    assert reopened.list() == [] and len(reopened) == 0
    assert isinstance(reopened.match(embeddings[PERSON_A[2]])[0], Unknown)


def test_entries_of_another_model_are_listed_but_never_matched(
    tmp_path: Path, gallery: FaceGallery, embeddings: dict[str, npt.NDArray[np.float32]]
) -> None:
    gallery.enroll("residents", "Alice", None, embeddings[PERSON_A[0]], "sha-a1")
    swapped = FaceGallery(tmp_path / "faces.db", model_key="other_model:0123", dim=gallery.dim)
    assert len(swapped) == 0
    assert isinstance(swapped.match(embeddings[PERSON_A[0]])[0], Unknown)
    assert [e.model for e in swapped.list()] == [gallery.model_key]


def test_unknown_gallery_is_refused(gallery: FaceGallery) -> None:
    with pytest.raises(ValueError, match="residents, watchlist"):
        gallery.enroll("staff", "X", None, np.zeros(gallery.dim, np.float32), None)


def test_recognizer_reads_a_frame_end_to_end(
    pipeline: FacePipeline, gallery: FaceGallery, embeddings: dict[str, npt.NDArray[np.float32]]
) -> None:
    gallery.enroll("residents", "Alice", "alice", embeddings[PERSON_A[0]], "sha-a1")
    frame = np.asarray(cv2.imread(str(DEEPFACE / PERSON_A[2])), np.uint8)
    (result,) = FaceRecognizer(pipeline, gallery).recognize(frame)
    assert isinstance(result.match, Match) and result.match.person_id == "alice"
    assert result.observation.quality > 0


def test_100k_gallery_matches_a_batch_in_one_call(
    embeddings: dict[str, npt.NDArray[np.float32]],
) -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    real = np.stack([embeddings[PERSON_A[0]], embeddings[PERSON_B[0]]])
    # Fillers: random vectors at the real embeddings' scale, far from every real face.
    fillers = rng.normal(0, 1, (n - 2, real.shape[1])).astype(np.float32)
    fillers *= np.linalg.norm(real, axis=1).mean() / np.linalg.norm(fillers, axis=1, keepdims=True)
    vectors = np.concatenate([fillers[:50_000], real[:1], fillers[50_000:], real[1:]])
    names = [f"filler{i}" for i in range(n)]
    names[50_000], names[-1] = "Alice", "Bob"
    index = FaceIndex(vectors, ["residents"] * n, names, names)
    assert len(index) == n
    probes = np.stack([embeddings[PERSON_A[2]], embeddings[PERSON_B[1]], embeddings[STRANGER]])
    a, b, stranger = index.match(probes, 0.6)  # speed: scripts/bench/vision.py, not a test
    assert isinstance(a, Match) and a.name == "Alice"
    assert isinstance(b, Match) and b.name == "Bob"
    assert isinstance(stranger, Unknown)


@pytest.mark.parametrize("faces", [1, 3, 12])
def test_nearest_agrees_with_brute_force(faces: int) -> None:
    """Whatever BLAS path a frame's face count takes, the answer is the exact nearest."""
    rng = np.random.default_rng(faces)
    n = 20_000
    vectors = rng.normal(0, 1, (n, 128)).astype(np.float32)
    names = [str(i) for i in range(n)]
    index = FaceIndex(vectors, ["residents"] * n, names, names)
    queries = rng.normal(0, 1, (faces, 128)).astype(np.float32)
    idx, dist = index.nearest(queries)
    brute = ((queries[:, None, :] - vectors[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(idx, brute.argmin(axis=1))
    np.testing.assert_allclose(dist, np.sqrt(brute.min(axis=1)), rtol=1e-4)


def _exact_nearest(
    vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Brute force in float64, a block of rows at a time (the reference for 'exact')."""
    g = vectors.astype(np.float64)
    q = queries.astype(np.float64)
    d2 = (g * g).sum(axis=1)[None, :] - 2.0 * q @ g.T + (q * q).sum(axis=1)[:, None]
    return d2.argmin(axis=1), np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def test_int8_ranked_100k_gallery_gives_the_exact_answers(
    pipeline: FacePipeline, embeddings: dict[str, npt.NDArray[np.float32]]
) -> None:
    """Large galleries rank an int8 copy first; names, distances and threshold decisions
    must still be those of exact matching, for enrolled people, their look-alikes and
    strangers."""
    rng = np.random.default_rng(11)
    n = 100_000
    real = np.stack([embeddings[f] for f in (*PERSON_A[:2], PERSON_B[0])])
    scale = float(np.linalg.norm(real, axis=1).mean())
    fillers = rng.normal(0, 1, (n, real.shape[1])).astype(np.float32)
    fillers *= scale / np.linalg.norm(fillers, axis=1, keepdims=True)
    vectors = fillers
    # the real faces, plus look-alikes of each scattered through: 40 about 0.45 away
    # (another photo's distance) and 20 within the int8 copy's error (~0.02 away)
    spots = rng.permutation(np.arange(11, n - 1))[: 60 * len(real)].reshape(len(real), 60)
    vectors[[10, 60_000, n - 1]] = real
    noise = np.repeat([0.04, 0.002], [40, 20])[:, None]
    for base, rows in zip(real, spots, strict=True):
        vectors[rows] = base + rng.normal(0, 1, (60, real.shape[1])).astype(np.float32) * noise
    names = [str(i) for i in range(n)]
    index = FaceIndex(vectors, ["residents"] * n, names, names)
    assert index.prefiltered
    others = [
        pipeline.analyse(np.asarray(cv2.imread(str(DEEPFACE / f"img{i}.jpg")), np.uint8))
        for i in range(20, 40)
    ]
    probes = np.stack(
        [embeddings[f] for f in embeddings] + [o[0].embedding for o in others if o]
    ).astype(np.float32)
    probes = np.concatenate([probes, rng.normal(0, 0.1, (4, probes.shape[1])).astype(np.float32)])
    for batch in (probes[:1], probes[:3], probes):
        idx, dist = index.nearest(batch)
        want_idx, want_dist = _exact_nearest(vectors, batch)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_allclose(dist, want_dist, rtol=1e-5, atol=1e-6)
        results = index.match(batch, 0.6)
        assert [isinstance(r, Match) for r in results] == (want_dist < 0.6).tolist()
    matched = index.match(probes, 0.6)
    assert sum(isinstance(r, Match) for r in matched) >= 3  # the enrolled people's probes


def test_near_duplicate_crowd_is_still_exact() -> None:
    """Thousands of rows within the int8 error of each other all get re-scored exactly."""
    rng = np.random.default_rng(5)
    base = rng.normal(0, 0.1, 128).astype(np.float32)
    crowd = base + rng.normal(0, 1e-4, (30_000, 128)).astype(np.float32)
    others = rng.normal(0, 0.1, (20_000, 128)).astype(np.float32)
    vectors = np.concatenate([others[:10_000], crowd, others[10_000:]])
    names = [str(i) for i in range(len(vectors))]
    index = FaceIndex(vectors, ["residents"] * len(vectors), names, names)
    assert index.prefiltered
    queries = np.stack([base, base + 1e-3, others[5]]).astype(np.float32)
    idx, dist = index.nearest(queries)
    want_idx, want_dist = _exact_nearest(vectors, queries)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(dist, want_dist, rtol=1e-4, atol=1e-6)


def test_a_prefilter_that_breaks_its_bound_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """If onnxruntime's int8 kernel ever scores outside the bound, matching falls back to
    the exact float32 product instead of naming the wrong person."""
    from edge.vision.faces import gallery as gallery_mod

    real_products = gallery_mod._Int8Prefilter._products

    def skewed(
        self: gallery_mod._Int8Prefilter, a: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        y = real_products(self, a)
        return y + 1e-3 * np.abs(y).max()  # a kernel rounding its inputs, say

    monkeypatch.setattr(gallery_mod._Int8Prefilter, "_products", skewed)
    rng = np.random.default_rng(3)
    vectors = rng.normal(0, 0.1, (20_000, 128)).astype(np.float32)
    names = [str(i) for i in range(len(vectors))]
    index = FaceIndex(vectors, ["residents"] * len(vectors), names, names)
    assert not index.prefiltered
    queries = vectors[[7, 19_999]] + 0.001
    idx, _ = index.nearest(queries)
    assert idx.tolist() == [7, 19_999]
