"""Every SQL statement of the face gallery, in one place.

The table lives in its own SQLite file for now; the store's migrations will adopt
`SCHEMA` as one numbered step later, and the statements below keep working unchanged.
Embeddings are float32 little-endian blobs of `dim` values; `model` names the embedder
(manifest name + sha256 prefix) because vectors from two models cannot be compared.
"""

from __future__ import annotations

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
"""

INSERT = """
INSERT INTO face_gallery (gallery, person_id, name, model, dim, embedding, image_sha256)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""

# Re-enrolling the same photo of the same person with the same model adds nothing.
HAS_IMAGE = """
SELECT 1 FROM face_gallery
WHERE gallery = ? AND person_id = ? AND model = ? AND image_sha256 = ? LIMIT 1
"""

NAME_OF_PERSON = "SELECT name FROM face_gallery WHERE gallery = ? AND person_id = ? LIMIT 1"

PERSON_IDS_BY_NAME = """
SELECT DISTINCT person_id FROM face_gallery WHERE gallery = ? AND name = ? ORDER BY person_id
"""

LOAD_FOR_MODEL = """
SELECT gallery, person_id, name, embedding FROM face_gallery
WHERE model = ? AND dim = ? ORDER BY id
"""

LIST_PEOPLE = """
SELECT gallery, person_id, name, model, COUNT(*), MIN(created_at), MAX(created_at)
FROM face_gallery
WHERE (:gallery IS NULL OR gallery = :gallery)
GROUP BY gallery, person_id, name, model
ORDER BY gallery, name, person_id, model
"""

DELETE_PERSON = "DELETE FROM face_gallery WHERE gallery = ? AND person_id = ?"
