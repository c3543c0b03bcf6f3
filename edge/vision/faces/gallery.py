"""Face galleries: enrolled embeddings in SQLite, matched in memory with one matrix product.

Matching is the hot path (every face of every frame), so the gallery is held as one float32
matrix, transposed and augmented with each row's squared norm: for a query q the product
[-2q, 1] . [g, |g|^2] = |q - g|^2 - |q|^2, so one BLAS call and an argmin give the nearest
entry of 100,000 without a Python loop. The matrix is an immutable snapshot swapped
atomically after each enrolment or removal, so matching needs no lock.
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.vision.faces import gallery_sql as sql

GALLERIES = ("residents", "watchlist")
_GEMV_MAX_QUERIES = 4
_BLOCK = 8192


@dataclass(frozen=True, slots=True)
class Match:
    gallery: str
    name: str
    person_id: str
    distance: float


@dataclass(frozen=True, slots=True)
class Unknown:
    """No enrolled face within the threshold; the nearest distance helps tune it."""

    nearest_distance: float | None

    gallery = None
    person_id = None
    name = "unknown"


MatchResult = Match | Unknown


@dataclass(frozen=True, slots=True)
class PersonEntry:
    gallery: str
    person_id: str
    name: str
    model: str
    embeddings: int
    first_enrolled: str
    last_enrolled: str


class FaceIndex:
    """An immutable in-memory index over gallery embeddings."""

    def __init__(
        self,
        embeddings: npt.ArrayLike,
        galleries: Sequence[str],
        person_ids: Sequence[str],
        names: Sequence[str],
    ) -> None:
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2:
            raise ValueError("embeddings must be (n, dim)")
        n, dim = emb.shape
        if not (len(galleries) == len(person_ids) == len(names) == n):
            raise ValueError("one gallery, person_id and name per embedding")
        self.dim = dim
        self.size = n
        # (dim + 1, n): rows are dimensions, last row is |g|^2.
        aug = np.empty((dim + 1, n), dtype=np.float32)
        aug[:dim] = emb.T
        aug[dim] = np.einsum("ij,ij->i", emb, emb)
        self._aug = aug
        self._galleries = list(galleries)
        self._person_ids = list(person_ids)
        self._names = list(names)

    @classmethod
    def empty(cls, dim: int) -> FaceIndex:
        return cls(np.zeros((0, dim), dtype=np.float32), [], [], [])

    def __len__(self) -> int:
        return self.size

    def nearest(
        self, queries: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """Index and euclidean distance of the nearest entry for each query row."""
        q = np.asarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if self.size == 0:
            return np.full(len(q), -1, dtype=np.intp), np.full(len(q), np.inf, np.float32)
        qa = np.empty((len(q), self.dim + 1), dtype=np.float32)
        qa[:, : self.dim] = -2.0 * q
        qa[:, self.dim] = 1.0
        idx, partial = self._argmin(qa)  # partial = |q - g|^2 - |q|^2 at the nearest g
        best = partial + np.einsum("ij,ij->i", q, q)
        return idx, np.sqrt(np.maximum(best, 0.0)).astype(np.float32)

    def _argmin(
        self, qa: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        # The gallery matrix is far larger than the cache, so the cost is reading it.
        # BLAS matrix-vector products stream it at memory speed; a matrix-matrix product
        # with only a few rows packs it first and is several times slower. So: one
        # matrix-vector product per face for the usual handful of faces per frame, and
        # a blocked product (each cache-sized block reused by every face) for crowds.
        if len(qa) <= _GEMV_MAX_QUERIES:
            idx = np.empty(len(qa), dtype=np.intp)
            val = np.empty(len(qa), dtype=np.float32)
            for r, row in enumerate(qa):
                scores = row @ self._aug
                idx[r] = int(np.argmin(scores))
                val[r] = scores[idx[r]]
            return idx, val
        idx = np.zeros(len(qa), dtype=np.intp)
        val = np.full(len(qa), np.inf, dtype=np.float32)
        rows = np.arange(len(qa))
        for start in range(0, self.size, _BLOCK):
            part = qa @ self._aug[:, start : start + _BLOCK]
            i = np.argmin(part, axis=1)
            v = part[rows, i]
            better = v < val
            val[better] = v[better]
            idx[better] = i[better] + start
        return idx, val

    def match(self, queries: npt.ArrayLike, threshold: float) -> list[MatchResult]:
        """Nearest enrolled identity per query, or Unknown beyond `threshold` (euclidean)."""
        idx, dist = self.nearest(queries)
        out: list[MatchResult] = []
        for i, d in zip(idx.tolist(), dist.tolist(), strict=True):
            if i < 0:
                out.append(Unknown(nearest_distance=None))
            elif d < threshold:
                out.append(Match(self._galleries[i], self._names[i], self._person_ids[i], d))
            else:
                out.append(Unknown(nearest_distance=d))
        return out


class FaceGallery:
    """Residents and watchlist, persisted in SQLite, matched through a FaceIndex snapshot.

    Only rows enrolled with `model_key` (the current embedder) are loaded; rows from a
    previous model stay listed as stale until those people are enrolled again.
    Thread-safe: writes are serialised, each call opens its own short-lived connection,
    and `match` reads whichever snapshot is current.
    """

    def __init__(
        self, db_path: str | Path, *, model_key: str, dim: int, threshold: float = 0.6
    ) -> None:
        self.db_path = Path(db_path)
        self.model_key = model_key
        self.dim = dim
        self.threshold = threshold
        self._write_lock = threading.Lock()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(sql.SCHEMA)
        self._index = self._load()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.db_path, timeout=10.0)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            with db:  # one transaction, committed on success
                yield db

    def _load(self) -> FaceIndex:
        with self._connect() as db:
            rows = db.execute(sql.LOAD_FOR_MODEL, (self.model_key, self.dim)).fetchall()
        if not rows:
            return FaceIndex.empty(self.dim)
        emb = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(-1, self.dim)
        return FaceIndex(emb, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    @property
    def index(self) -> FaceIndex:
        return self._index

    def __len__(self) -> int:
        return len(self._index)

    def enroll(
        self,
        gallery: str,
        name: str,
        person_id: str | None,
        embeddings: npt.ArrayLike,
        image_sha: str | None,
    ) -> tuple[str, int]:
        """Add one image's embeddings for a person; returns (person_id, rows added).

        Without a person_id, an existing person of that name in the gallery is extended
        (so more photos can be added by name) or a new id is made.
        """
        _check_gallery(gallery)
        if not name.strip():
            raise ValueError("a name is required")
        emb = np.asarray(embeddings, dtype=np.float32).reshape(-1, self.dim)
        with self._write_lock:
            with self._connect() as db:
                person_id = person_id or self._id_for_name(db, gallery, name)
                row = db.execute(sql.NAME_OF_PERSON, (gallery, person_id)).fetchone()
                if row is not None and row[0] != name:
                    raise ValueError(
                        f"person id {person_id!r} in {gallery} is enrolled as {row[0]!r}, "
                        f"not {name!r}"
                    )
                added = 0
                dup = (
                    image_sha is not None
                    and db.execute(
                        sql.HAS_IMAGE, (gallery, person_id, self.model_key, image_sha)
                    ).fetchone()
                )
                if not dup:
                    db.executemany(
                        sql.INSERT,
                        [
                            (
                                gallery,
                                person_id,
                                name,
                                self.model_key,
                                self.dim,
                                e.astype("<f4").tobytes(),
                                image_sha,
                            )
                            for e in emb
                        ],
                    )
                    added = len(emb)
            self._index = self._load()
        return person_id, added

    def _id_for_name(self, db: sqlite3.Connection, gallery: str, name: str) -> str:
        ids = [r[0] for r in db.execute(sql.PERSON_IDS_BY_NAME, (gallery, name))]
        if len(ids) > 1:
            raise ValueError(
                f"{len(ids)} people named {name!r} in {gallery} ({', '.join(ids)}): give --id"
            )
        return ids[0] if ids else uuid.uuid4().hex[:12]

    def remove(self, gallery: str, person_id: str | None = None, name: str | None = None) -> int:
        """Delete a person (by id, or by a name that is unique in the gallery); rows removed."""
        _check_gallery(gallery)
        with self._write_lock:
            with self._connect() as db:
                if person_id is None:
                    if name is None:
                        raise ValueError("give a person id or a name")
                    ids = [r[0] for r in db.execute(sql.PERSON_IDS_BY_NAME, (gallery, name))]
                    if len(ids) != 1:
                        raise ValueError(
                            f"{len(ids)} people named {name!r} in {gallery}"
                            + (f" ({', '.join(ids)}): give --id" if ids else "")
                        )
                    person_id = ids[0]
                removed = db.execute(sql.DELETE_PERSON, (gallery, person_id)).rowcount
            self._index = self._load()
        return int(removed)

    def list(self, gallery: str | None = None) -> builtins.list[PersonEntry]:
        if gallery is not None:
            _check_gallery(gallery)
        with self._connect() as db:
            rows = db.execute(sql.LIST_PEOPLE, {"gallery": gallery}).fetchall()
        return [PersonEntry(*r) for r in rows]

    def match(self, embeddings: npt.ArrayLike) -> builtins.list[MatchResult]:
        """One vectorised lookup for all faces of a frame."""
        return self._index.match(embeddings, self.threshold)


def _check_gallery(gallery: str) -> None:
    if gallery not in GALLERIES:
        raise ValueError(f"unknown gallery {gallery!r}: use one of {', '.join(GALLERIES)}")
