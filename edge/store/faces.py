"""The face gallery's rows: every SQL statement of it, in its own SQLite file (`faces.db`).

`edge face enroll` writes this file while the daemon may be running (it is not the
daemon's event database, whose single writer keeps counters in memory); each change
bumps `generation` in the same transaction, so a running daemon notices an enrolment
with one cheap read and reloads its in-memory index (`FaceGallery.refresh`).
Embeddings are float32 little-endian blobs of `dim` values; `model` names the embedder
(manifest name + sha256 prefix) because vectors from two models cannot be compared.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

GALLERIES = ("residents", "watchlist")

SCHEMA = """
CREATE TABLE IF NOT EXISTS face_gallery (
    id           INTEGER PRIMARY KEY,
    gallery      TEXT NOT NULL CHECK (gallery IN ('residents', 'watchlist')),
    person_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    model        TEXT NOT NULL,
    dim          INTEGER NOT NULL CHECK (dim > 0),
    embedding    BLOB NOT NULL CHECK (length(embedding) = 4 * dim),
    image_sha256 TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS face_gallery_person ON face_gallery (gallery, person_id);
CREATE INDEX IF NOT EXISTS face_gallery_model ON face_gallery (model);
CREATE TABLE IF NOT EXISTS face_gallery_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT OR IGNORE INTO face_gallery_generation (id, generation) VALUES (1, 0);
"""

_INSERT = """
INSERT INTO face_gallery (gallery, person_id, name, model, dim, embedding, image_sha256)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
# Re-enrolling the same photo of the same person with the same model adds nothing.
_HAS_IMAGE = """
SELECT 1 FROM face_gallery
WHERE gallery = ? AND person_id = ? AND model = ? AND image_sha256 = ? LIMIT 1
"""
_NAME_OF_PERSON = "SELECT name FROM face_gallery WHERE gallery = ? AND person_id = ? LIMIT 1"
_PERSON_IDS_BY_NAME = """
SELECT DISTINCT person_id FROM face_gallery WHERE gallery = ? AND name = ? ORDER BY person_id
"""
_LOAD_FOR_MODEL = """
SELECT gallery, person_id, name, embedding FROM face_gallery
WHERE model = ? AND dim = ? ORDER BY id
"""
_LIST_PEOPLE = """
SELECT gallery, person_id, name, model, COUNT(*), MIN(created_at), MAX(created_at)
FROM face_gallery
WHERE (:gallery IS NULL OR gallery = :gallery)
GROUP BY gallery, person_id, name, model
ORDER BY gallery, name, person_id, model
"""
_DELETE_PERSON = "DELETE FROM face_gallery WHERE gallery = ? AND person_id = ?"
_BUMP = "UPDATE face_gallery_generation SET generation = generation + 1 WHERE id = 1"
_GENERATION = "SELECT generation FROM face_gallery_generation WHERE id = 1"


def check_gallery(gallery: str) -> None:
    if gallery not in GALLERIES:
        raise ValueError(f"unknown gallery {gallery!r}: use one of {', '.join(GALLERIES)}")


class FaceRows:
    """Thread-safe: writes are serialised, each call opens its own short-lived connection
    (the file may be written by another process, `edge face enroll`)."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._write_lock = threading.Lock()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.db_path, timeout=10.0)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            with db:  # one transaction, committed on success
                yield db

    def generation(self) -> int:
        """Moves on every enrolment or removal, by any process."""
        with self._connect() as db:
            return int(db.execute(_GENERATION).fetchone()[0])

    def load(self, model: str, dim: int) -> tuple[int, list[tuple[str, str, str, bytes]]]:
        """The generation and, read in the same transaction, every row for this embedder."""
        with self._connect() as db:
            generation = int(db.execute(_GENERATION).fetchone()[0])
            rows = db.execute(_LOAD_FOR_MODEL, (model, dim)).fetchall()
        return generation, [(r[0], r[1], r[2], r[3]) for r in rows]

    def enroll(
        self,
        gallery: str,
        name: str,
        person_id: str | None,
        *,
        model: str,
        dim: int,
        embeddings: list[bytes],
        image_sha: str | None,
    ) -> tuple[str, int]:
        """Add one image's embeddings for a person; returns (person_id, rows added).

        Without a person_id, an existing person of that name in the gallery is extended
        (so more photos can be added by name) or a new id is made.
        """
        check_gallery(gallery)
        if not name.strip():
            raise ValueError("a name is required")
        with self._write_lock, self._connect() as db:
            person_id = person_id or self._id_for_name(db, gallery, name)
            row = db.execute(_NAME_OF_PERSON, (gallery, person_id)).fetchone()
            if row is not None and row[0] != name:
                raise ValueError(
                    f"person id {person_id!r} in {gallery} is enrolled as {row[0]!r}, not {name!r}"
                )
            dup = (
                image_sha is not None
                and db.execute(_HAS_IMAGE, (gallery, person_id, model, image_sha)).fetchone()
            )
            if dup:
                return person_id, 0
            db.executemany(
                _INSERT,
                [(gallery, person_id, name, model, dim, e, image_sha) for e in embeddings],
            )
            db.execute(_BUMP)
        return person_id, len(embeddings)

    @staticmethod
    def _id_for_name(db: sqlite3.Connection, gallery: str, name: str) -> str:
        ids = [r[0] for r in db.execute(_PERSON_IDS_BY_NAME, (gallery, name))]
        if len(ids) > 1:
            raise ValueError(
                f"{len(ids)} people named {name!r} in {gallery} ({', '.join(ids)}): give --id"
            )
        return ids[0] if ids else uuid.uuid4().hex[:12]

    def remove(self, gallery: str, person_id: str | None = None, name: str | None = None) -> int:
        """Delete a person (by id, or by a name that is unique in the gallery); rows removed."""
        check_gallery(gallery)
        with self._write_lock, self._connect() as db:
            if person_id is None:
                if name is None:
                    raise ValueError("give a person id or a name")
                ids = [r[0] for r in db.execute(_PERSON_IDS_BY_NAME, (gallery, name))]
                if len(ids) != 1:
                    raise ValueError(
                        f"{len(ids)} people named {name!r} in {gallery}"
                        + (f" ({', '.join(ids)}): give --id" if ids else "")
                    )
                person_id = ids[0]
            removed = int(db.execute(_DELETE_PERSON, (gallery, person_id)).rowcount)
            if removed:
                db.execute(_BUMP)
        return removed

    def people(self, gallery: str | None = None) -> list[tuple[Any, ...]]:
        """(gallery, person_id, name, model, embeddings, first, last) per person and model."""
        if gallery is not None:
            check_gallery(gallery)
        with self._connect() as db:
            return [tuple(r) for r in db.execute(_LIST_PEOPLE, {"gallery": gallery})]
