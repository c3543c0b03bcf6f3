"""Face galleries: enrolled embeddings in SQLite, matched in memory with one matrix product.

Matching is the hot path (every face of every frame), so the gallery is held as one float32
matrix, transposed and augmented with each row's squared norm: for a query q the product
[-2q, 1] . [g, |g|^2] = |q - g|^2 - |q|^2, so one BLAS call and an argmin give the nearest
entry without a Python loop. From 16,384 entries on, that read (51 MB at 100,000) is what
costs, so large galleries are ranked on an int8 copy a quarter the size, and only the rows
its known error leaves in doubt are re-scored in float32: same answers, ~3x faster. The
index is an immutable snapshot swapped atomically after each enrolment or removal, so
matching needs no lock.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.store.faces import GALLERIES, FaceRows

log = logging.getLogger(__name__)

__all__ = [
    "GALLERIES",
    "FaceGallery",
    "FaceIndex",
    "Match",
    "MatchResult",
    "PersonEntry",
    "Unknown",
    "watch_gallery",
]
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


# --- int8 prefilter -------------------------------------------------------------------------
#
# Matching 100,000 faces reads the whole gallery per lookup, so its cost is bytes, not
# arithmetic: 51 MB of float32 take ~4 ms on one core. An int8 copy (one scale per row) is
# a quarter of that, and onnxruntime's MatMulNBits scores it with VNNI int8 dot products in
# under a millisecond (numpy has no fast int8 product; float16 is slower than float32).
# The copy only *ranks*: every row's quantisation error is known, so a bound says which
# rows could still be the nearest, and those few are re-scored exactly in float32. The
# answer is the exact nearest neighbour, whatever the data.

_PREFILTER_MIN_ROWS = 16_384  # below this the float32 product is already well under 1 ms
_PREFILTER_MAX_QUERIES = 16  # per int8 product: 16 x 100k scores = 6.4 MB
_ONNX_FLOAT, _ONNX_UINT8 = 1, 2
_Q = 127  # int8 levels each side of zero; MatMulNBits 8-bit stores q + 128 as uint8


def _varint(v: int) -> bytes:
    out = bytearray()
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _pb(field: int, value: int | str | bytes) -> bytes:
    """One protobuf field: ints as varints, strings and messages length-delimited."""
    if isinstance(value, int):
        return _varint(field << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _onnx_value(name: str, elem_type: int, dims: Sequence[int | str]) -> bytes:
    # ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: {elem_type=1, shape=2}}}
    shape = b"".join(_pb(1, _pb(1, d) if isinstance(d, int) else _pb(2, d)) for d in dims)
    return _pb(1, name) + _pb(2, _pb(1, _pb(1, elem_type) + _pb(2, shape)))


def _onnx_tensor(name: str, elem_type: int, array: npt.NDArray[np.generic]) -> bytes:
    # TensorProto{dims=1, data_type=2, name=8, raw_data=9}; raw data is little-endian
    dims = b"".join(_pb(1, int(d)) for d in array.shape)
    return dims + _pb(2, elem_type) + _pb(8, name) + _pb(9, array.tobytes())


def _matmul_nbits_model(codes: npt.NDArray[np.uint8], scales: npt.NDArray[np.float32]) -> bytes:
    """ONNX bytes of Y = A . dequant(codes)^T: one com.microsoft MatMulNBits node.

    Built by hand (a few protobuf fields) so the daemon does not need the onnx package.
    accuracy_level 4 asks for int8 compute: A is quantised per row with scale max|a|/127,
    which is exact when A already holds integers whose largest magnitude is 127.
    """
    n, k = codes.shape
    attrs = [("K", k), ("N", n), ("bits", 8), ("block_size", k), ("accuracy_level", 4)]
    node = (
        _pb(1, "A") + _pb(1, "B") + _pb(1, "scales") + _pb(2, "Y")
        + _pb(4, "MatMulNBits") + _pb(7, "com.microsoft")
        + b"".join(_pb(5, _pb(1, a) + _pb(3, v) + _pb(20, 2)) for a, v in attrs)  # INT = 2
    )  # fmt: skip
    graph = (
        _pb(1, node) + _pb(2, "gallery")
        + _pb(5, _onnx_tensor("B", _ONNX_UINT8, codes.reshape(n, 1, k)))
        + _pb(5, _onnx_tensor("scales", _ONNX_FLOAT, scales))
        + _pb(11, _onnx_value("A", _ONNX_FLOAT, ["m", k]))
        + _pb(12, _onnx_value("Y", _ONNX_FLOAT, ["m", n]))
    )  # fmt: skip
    opsets = _pb(8, _pb(1, "") + _pb(2, 17)) + _pb(8, _pb(1, "com.microsoft") + _pb(2, 1))
    return _pb(1, 8) + opsets + _pb(7, graph)  # ir_version 8


class _Int8Prefilter:
    """The int8 copy of a gallery and the bound on how far its scores can be off.

    Row i is stored as s_i * c_i (c_i int8, s_i = max|g_i| / 127) with residual e_i; a
    query is sent as t * a + f (a integer, max|a| = 127). Then
    |q.g_i - t s_i (a.c_i)| <= t|a||e_i| + |f||g_i|, so every row's squared distance lies
    within 2 * `bound` of its approximate score.
    """

    def __init__(self, emb: npt.NDArray[np.float32]) -> None:
        n, dim = emb.shape
        self.dim = dim
        self.k = max(16, 1 << (dim - 1).bit_length())  # MatMulNBits wants a power-of-two K
        if self.k > 256:
            raise ValueError(f"{dim}-d embeddings: no int8 prefilter above 256 dimensions")
        stored = np.empty((n, self.k), dtype=np.uint8)  # c + 128
        scales = np.empty(n, dtype=np.float32)
        self.max_resid = self.max_norm = 0.0
        for start in range(0, n, _BLOCK):  # in blocks: no float copy of the whole gallery
            g = self._pad(emb[start : start + _BLOCK])
            peak = np.abs(g).max(axis=1)
            s = np.where(peak > 0, peak / _Q, 1.0).astype(np.float32)
            c = np.clip(np.rint(g / s[:, None]), -_Q, _Q)
            resid = np.linalg.norm(g - c * s[:, None], axis=1)
            self.max_resid = max(self.max_resid, float(resid.max()))
            self.max_norm = max(self.max_norm, float(np.linalg.norm(g, axis=1).max()))
            stored[start : start + _BLOCK] = c + 128
            scales[start : start + _BLOCK] = s
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # one lookup stays on its executor worker's core
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        model = _matmul_nbits_model(stored, scales)
        self._session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self._self_test(stored, scales)

    def _pad(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if x.shape[1] == self.k:
            return x
        out = np.zeros((len(x), self.k), dtype=np.float32)
        out[:, : x.shape[1]] = x
        return out

    def _products(self, a: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """s_i (a . c_i) for integer-valued queries a (m, k) with max |a| = 127 per row."""
        (y,) = self._session.run(None, {"A": a})
        return np.asarray(y, dtype=np.float32)

    def _self_test(self, stored: npt.NDArray[np.uint8], scales: npt.NDArray[np.float32]) -> None:
        """The bound assumes the kernel does exact int8 arithmetic on these inputs (a query
        whose largest magnitude is 127 quantises to itself). Check that on rows from both
        ends, so a changed kernel means a slower exact path, never a wrong name."""
        n = len(stored)
        rows = np.unique(np.r_[0 : min(n, 2048), max(0, n - 2048) : n])
        codes = stored[rows].astype(np.float64) - 128
        rng = np.random.default_rng(0)
        a = rng.integers(-_Q, _Q + 1, (4, self.k)).astype(np.float32)
        a[:, 0] = _Q
        want = (a.astype(np.float64) @ codes.T) * scales[rows]
        got = self._products(a)[:, rows]
        tol = 1e-5 * np.abs(a).sum(axis=1, keepdims=True) * _Q * scales[rows]
        if not np.all(np.abs(got - want) <= tol):
            raise ValueError("MatMulNBits does not compute exact int8 products here")

    def dots(
        self, q: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Approximate q . g for every row (m, n) and each query's error bound (m,)."""
        padded = self._pad(q)
        peak = np.abs(padded).max(axis=1, keepdims=True)
        t = np.where(peak > 0, peak / _Q, 1.0).astype(np.float32)
        a = np.rint(padded / t).astype(np.float32)
        f = np.linalg.norm(padded - a * t, axis=1)
        y = self._products(a)
        y *= t
        q_norm = np.linalg.norm(padded, axis=1)
        # float32 rounding in the kernel and in the exact re-score: a generous margin
        slack = 1e-5 * (q_norm * self.max_norm + 1e-6)
        bound = t[:, 0] * np.linalg.norm(a, axis=1) * self.max_resid + f * self.max_norm + slack
        return y, bound.astype(np.float32)


def _checked_prefilter(emb: npt.NDArray[np.float32]) -> _Int8Prefilter | None:
    """The int8 prefilter, or None (exact float32 matching) where it cannot be trusted."""
    try:
        return _Int8Prefilter(emb)
    except Exception as exc:  # old onnxruntime, no 8-bit MatMulNBits, a changed kernel
        log.warning("face gallery: int8 prefilter unavailable (%s); exact float32 matching", exc)
        return None


class FaceIndex:
    """An immutable in-memory index over gallery embeddings."""

    def __init__(
        self,
        embeddings: npt.ArrayLike,
        galleries: Sequence[str],
        person_ids: Sequence[str],
        names: Sequence[str],
        *,
        prefilter: bool = True,
    ) -> None:
        """`prefilter=False` keeps every lookup on the float32 product (for comparison)."""
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2:
            raise ValueError("embeddings must be (n, dim)")
        n, dim = emb.shape
        if not (len(galleries) == len(person_ids) == len(names) == n):
            raise ValueError("one gallery, person_id and name per embedding")
        self.dim = dim
        self.size = n
        self._galleries = list(galleries)
        self._person_ids = list(person_ids)
        self._names = list(names)
        self._emb = np.ascontiguousarray(emb)
        self._sq_norms = np.einsum("ij,ij->i", emb, emb)
        large = prefilter and n >= _PREFILTER_MIN_ROWS
        self._prefilter = _checked_prefilter(self._emb) if large else None
        # (dim + 1, n): rows are dimensions, last row is |g|^2; only without a prefilter
        self._aug = np.empty((0, 0), dtype=np.float32)
        if self._prefilter is None:
            self._aug = np.empty((dim + 1, n), dtype=np.float32)
            self._aug[:dim] = emb.T
            self._aug[dim] = self._sq_norms

    @property
    def prefiltered(self) -> bool:
        """True when lookups rank an int8 copy first (large galleries)."""
        return self._prefilter is not None

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
        if self._prefilter is not None:
            if len(q) <= _PREFILTER_MAX_QUERIES:
                return self._nearest_prefiltered(q)
            # a crowd: a few calls, so the (faces x entries) scores stay a few MB
            parts = [
                self._nearest_prefiltered(q[i : i + _PREFILTER_MAX_QUERIES])
                for i in range(0, len(q), _PREFILTER_MAX_QUERIES)
            ]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        qa = np.empty((len(q), self.dim + 1), dtype=np.float32)
        qa[:, : self.dim] = -2.0 * q
        qa[:, self.dim] = 1.0
        idx, partial = self._argmin(qa)  # partial = |q - g|^2 - |q|^2 at the nearest g
        best = partial + np.einsum("ij,ij->i", q, q)
        return idx, np.sqrt(np.maximum(best, 0.0)).astype(np.float32)

    def _nearest_prefiltered(
        self, q: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        assert self._prefilter is not None
        dots, bound = self._prefilter.dots(q)  # one int8 product for the whole batch
        # |q - g|^2 - |q|^2 = |g|^2 - 2 q.g, each off by at most 2 * bound
        score = np.multiply(dots, -2.0, out=dots)
        score += self._sq_norms
        cutoff = score.min(axis=1) + 4.0 * bound  # the nearest's upper bound, plus 2 * bound
        # flat indices: ndarray.nonzero on 2-D costs ~0.3 ms here, flatnonzero ~20 us
        rows, cols = np.divmod(np.flatnonzero(score <= cutoff[:, None]), self.size)
        d2 = self._exact_sq_distances(q, rows, cols)
        # per query the smallest exact distance; ties go to the lowest index, as argmin does
        order = np.lexsort((cols, d2, rows))
        _, first = np.unique(rows[order], return_index=True)
        pick = order[first]
        return cols[pick].astype(np.intp), np.sqrt(d2[pick]).astype(np.float32)

    def _exact_sq_distances(
        self, q: npt.NDArray[np.float32], rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]
    ) -> npt.NDArray[np.float32]:
        d2 = np.empty(len(cols), dtype=np.float32)
        for start in range(0, len(cols), _BLOCK):  # a near-duplicate crowd stays bounded
            sl = slice(start, start + _BLOCK)
            diff = self._emb[cols[sl]] - q[rows[sl]]
            d2[sl] = np.einsum("ij,ij->i", diff, diff)
        return d2

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
    """Residents and watchlist, persisted by the store (`edge.store.faces`), matched through
    a FaceIndex snapshot.

    Only rows enrolled with `model_key` (the current embedder) are loaded; rows from a
    previous model stay listed as stale until those people are enrolled again. A change
    made elsewhere (`edge face enroll` while the daemon runs) is picked up by `refresh()`,
    which the daemon calls every second: one small read when nothing changed.
    Thread-safe: `match` reads whichever snapshot is current.
    """

    def __init__(
        self, db_path: str | Path, *, model_key: str, dim: int, threshold: float = 0.6
    ) -> None:
        self.db_path = Path(db_path)
        self.model_key = model_key
        self.dim = dim
        self.threshold = threshold
        self.rows = FaceRows(self.db_path)
        self._reload_lock = threading.Lock()
        self.generation = -1
        self._index = FaceIndex.empty(dim)
        self._reload()

    def _reload(self) -> None:
        with self._reload_lock:
            generation, rows = self.rows.load(self.model_key, self.dim)
            if not rows:
                index = FaceIndex.empty(self.dim)
            else:
                emb = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4")
                index = FaceIndex(
                    emb.reshape(-1, self.dim),
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                    [r[2] for r in rows],
                )
            self._index, self.generation = index, generation

    def refresh(self) -> bool:
        """Reload if the gallery changed since the snapshot (by any process); True if so."""
        if self.rows.generation() == self.generation:
            return False
        self._reload()
        return True

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
        emb = np.asarray(embeddings, dtype=np.float32).reshape(-1, self.dim)
        result = self.rows.enroll(
            gallery,
            name,
            person_id,
            model=self.model_key,
            dim=self.dim,
            embeddings=[e.astype("<f4").tobytes() for e in emb],
            image_sha=image_sha,
        )
        self._reload()
        return result

    def remove(self, gallery: str, person_id: str | None = None, name: str | None = None) -> int:
        """Delete a person (by id, or by a name that is unique in the gallery); rows removed."""
        removed = self.rows.remove(gallery, person_id, name)
        self._reload()
        return removed

    def list(self, gallery: str | None = None) -> builtins.list[PersonEntry]:
        return [PersonEntry(*r) for r in self.rows.people(gallery)]

    def match(self, embeddings: npt.ArrayLike) -> builtins.list[MatchResult]:
        """One vectorised lookup for all faces of a frame."""
        return self._index.match(embeddings, self.threshold)


GALLERY_POLL_S = 1.0


async def watch_gallery(gallery: FaceGallery, interval_s: float = GALLERY_POLL_S) -> None:
    """Keep a running daemon's gallery current: a person enrolled or removed with
    `edge face enroll|remove` is matched (or no longer) within about `interval_s`."""
    import asyncio

    while True:
        if await asyncio.to_thread(gallery.refresh):
            log.info(
                "face gallery changed (generation %d): %d embeddings loaded",
                gallery.generation,
                len(gallery),
            )
        await asyncio.sleep(interval_s)  # the poll period, not a wait for a condition
