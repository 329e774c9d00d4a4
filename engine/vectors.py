"""A FAISS cosine index over one model's embeddings, keyed by row and optionally by object id.

Below :mod:`engine.infer` and :mod:`engine.index`: the domain reference and the catalogue both
search embeddings with it.

Vectors are L2-normalised and searched by inner product, so the score is the cosine similarity
and the reported distance is the cosine distance ``1 - cos`` (0 = same direction, 2 = opposite).

The index kind is chosen from the number of vectors at :meth:`VectorIndex.fit` time
(``kind="auto"``), or forced:

=========  ===================  ============================================================
kind       used for             what it is
=========  ===================  ============================================================
flat       < 100,000 vectors    ``IndexFlatIP``: exact search, no training, ~1 ms per query at
                                100k x 64 on one core
hnsw       100,000 - 10M        ``IndexHNSWFlat`` (M = 32, efConstruction = 200, efSearch =
                                256): graph search, < 1 ms per query, recall@10 1.000 at 1M
                                x 64-d (``benchmarks/RESULTS.md``); the vectors are kept
                                exactly. FAISS's default efConstruction of 40 builds 3x
                                faster and found 0.970 on hard (isotropic 64-d) data
ivfpq      > 10M                ``IVF<nlist>,PQ<d>x4`` (nlist ~ 4 sqrt(N), nprobe = 32, one
                                4-bit code per dimension): d / 2 bytes a vector (8x smaller
                                than float32), trained on a sample; approximate distances.
                                Recall@10 against exact search at 1M x 64-d: 0.68-0.78
                                (``benchmarks/RESULTS.md``); half as many codes found only
                                0.26-0.44 there. 4-bit codes train ~20x faster than 8-bit
                                ones for the same bytes and recall
=========  ===================  ============================================================

Rows keep the order in which vectors were added; new vectors (uploads) are appended with
:meth:`VectorIndex.add` without rebuilding (an index stays the kind it was built as).
:meth:`VectorIndex.save` writes FAISS's own binary format (``faiss.write_index``, which also
stores efSearch and nprobe); object ids are stored by the caller (the catalogue keeps them in
``embeddings.parquet``) and passed back to :meth:`VectorIndex.load`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from engine.catalog import UnknownObjectError
from engine.errors import InputError, InvalidValueError

IndexKind = Literal["auto", "flat", "hnsw", "ivfpq"]
KINDS = ("auto", "flat", "hnsw", "ivfpq")
#: below this many vectors the index is exact
EXACT_LIMIT = 100_000
#: from this many vectors on the index is compressed (IVF-PQ)
COMPRESSED_LIMIT = 10_000_000
#: share of sampled stored vectors that must find themselves, by kind (see check_self_search)
SELF_SEARCH_MIN = {"flat": 1.0, "hnsw": 0.9, "ivfpq": 0.5}
_SELF_SEARCH_SAMPLE = 64
#: vectors with cosine similarity this close count as the same vector
_TIE = 1e-4


def choose_kind(n_vectors: int) -> str:
    """Return the index kind ``kind="auto"`` picks for ``n_vectors`` (see the module doc)."""
    if n_vectors < EXACT_LIMIT:
        return "flat"
    return "hnsw" if n_vectors < COMPRESSED_LIMIT else "ivfpq"


def as_matrix(vectors, *, dim: int | None = None, name: str = "vectors") -> np.ndarray:
    """``vectors`` as a finite C-contiguous float32 (N, d) array; checks d against ``dim``."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        msg = f"{name} must be a 2-D (N, d) array, got shape {array.shape}"
        raise InvalidValueError(msg)
    if dim is not None and array.shape[1] != dim:
        msg = f"{name} have dimension {array.shape[1]}, the index holds {dim}-d vectors"
        raise InvalidValueError(msg)
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        msg = f"{name} hold NaN or infinite values in row(s) {bad[:5].tolist()}"
        raise InvalidValueError(msg)
    return array


def digest(reference: np.ndarray) -> str:
    """SHA-256 of the reference's float32 bytes and shape."""
    reference = as_matrix(reference, name="reference")
    hashed = hashlib.sha256(str(reference.shape).encode())
    hashed.update(reference.tobytes())
    return hashed.hexdigest()


def _normalised(vectors: np.ndarray) -> np.ndarray:
    """Return a unit-length copy (zero vectors stay zero); FAISS normalises in place."""
    unit = vectors.copy()
    faiss.normalize_L2(unit)
    return unit


@dataclass(frozen=True)
class Neighbours:
    """Result of a search: (n, k) rows, cosine distances and, when known, object ids.

    Missing neighbours (fewer than k vectors) have row -1, distance inf and id None.
    """

    rows: np.ndarray
    distance: np.ndarray
    object_id: np.ndarray | None = None


class VectorIndex:
    """Cosine nearest-neighbour search over float32 vectors with FAISS.

    Parameters
    ----------
    kind : ``"auto"`` (by size, see the module docstring), ``"flat"``, ``"hnsw"`` or ``"ivfpq"``
    hnsw_m : graph degree of HNSW
    ef_construction : HNSW build-time beam width (higher = better graph, slower build)
    ef_search : HNSW query-time beam width (higher = better recall, slower)
    nlist : IVF cells; default about 4 sqrt(N), a power of two
    pq_m : PQ codes a vector (must divide d); default d, one per dimension
    pq_bits : bits of a PQ code (4: 16 centroids a sub-vector)
    nprobe : IVF cells visited a query
    random_state : seed of the IVF-PQ training sample
    """

    def __init__(
        self,
        *,
        kind: IndexKind = "auto",
        hnsw_m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 256,
        nlist: int | None = None,
        pq_m: int | None = None,
        pq_bits: int = 4,
        nprobe: int = 32,
        random_state: int = 0,
    ) -> None:
        self.kind = kind
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.nlist = nlist
        self.pq_m = pq_m
        self.pq_bits = pq_bits
        self.nprobe = nprobe
        self.random_state = random_state

    # -- building ----------------------------------------------------------------------------
    def fit(self, vectors, object_ids: Sequence[str] | None = None) -> VectorIndex:
        """Build the index over ``vectors`` (N, d); ``object_ids`` name the rows if given."""
        if self.kind not in KINDS:
            msg = f"kind must be one of {KINDS}, got {self.kind!r}"
            raise ValueError(msg)
        vectors = as_matrix(vectors)
        if len(vectors) == 0:
            msg = "cannot build an index from 0 vectors"
            raise InvalidValueError(msg)
        unit = _normalised(vectors)
        self.kind_ = choose_kind(len(unit)) if self.kind == "auto" else self.kind
        self.index_ = self._new_index(unit)
        self.object_ids_ = None
        self._row_of: dict[str, int] = {}
        self._append(unit, object_ids)
        check_self_search(self, vectors)
        return self

    def _new_index(self, unit: np.ndarray) -> faiss.Index:
        n, dim = unit.shape
        if self.kind_ == "flat":
            return faiss.IndexFlatIP(dim)
        if self.kind_ == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            index.hnsw.efSearch = self.ef_search
            return index
        nlist = self.nlist or max(1, 2 ** round(math.log2(4 * math.sqrt(n))))
        pq_m = self.pq_m or dim
        if dim % pq_m:
            msg = f"pq_m must divide the dimension {dim}, got {pq_m}"
            raise ValueError(msg)
        factory = f"IVF{nlist},PQ{pq_m}x{self.pq_bits}"
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        # polysemous training serves Hamming pre-filtering, which is not used; it took 95 % of
        # the training time
        index.do_polysemous_training = False
        # FAISS asks for >= 39 training points a cell and a PQ centroid; more adds little.
        n_train = min(n, max(64 * nlist, 39 * 2**self.pq_bits))
        rng = np.random.default_rng(self.random_state)
        sample = unit[np.sort(rng.choice(n, size=n_train, replace=False))]
        index.train(sample)
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = self.nprobe
        ivf.make_direct_map()  # lets reconstruct() find a stored vector by row
        return index

    def add(self, vectors, object_ids: Sequence[str] | None = None) -> np.ndarray:
        """Append ``vectors`` (uploads) without rebuilding; returns their new rows."""
        self._check_fitted()
        vectors = as_matrix(vectors, dim=self.dim)
        start = self.ntotal
        self._append(_normalised(vectors), object_ids)
        return np.arange(start, self.ntotal)

    def _append(self, unit: np.ndarray, object_ids: Sequence[str] | None) -> None:
        if self.ntotal and (self.object_ids_ is None) != (object_ids is None):
            msg = "object_ids must be given for every added batch or for none"
            raise InvalidValueError(msg)
        if object_ids is not None:
            ids = np.asarray(object_ids, dtype=str)
            if ids.shape != (len(unit),):
                msg = f"object_ids has {ids.size} entries for {len(unit)} vectors"
                raise InvalidValueError(msg)
            values, counts = np.unique(ids, return_counts=True)
            repeated = values[counts > 1].tolist() + [i for i in ids.tolist() if i in self._row_of]
            if repeated:
                msg = f"object ids must be unique; repeated: {repeated[:5]}"
                raise InvalidValueError(msg)
            self._row_of |= {object_id: self.ntotal + i for i, object_id in enumerate(ids.tolist())}
            old = self.object_ids_ if self.object_ids_ is not None else np.array([], dtype=str)
            self.object_ids_ = np.concatenate([old, ids])
        self.index_.add(unit)

    # -- properties --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            msg = "this VectorIndex is not built yet; call fit() or load() first"
            raise InputError(msg)

    @property
    def ntotal(self) -> int:
        """Number of stored vectors (0 before fitting)."""
        return int(self.index_.ntotal) if hasattr(self, "index_") else 0

    @property
    def dim(self) -> int:
        """Dimension of the stored vectors."""
        self._check_fitted()
        return int(self.index_.d)

    def rows_of(self, object_ids: Sequence[str]) -> np.ndarray:
        """Rows of ``object_ids``; raises :class:`UnknownObjectError` naming the first unknown."""
        self._check_fitted()
        if self.object_ids_ is None:
            msg = "this index has no object ids; search by vector instead"
            raise InputError(msg)
        missing = [i for i in object_ids if str(i) not in self._row_of]
        if missing:
            msg = f"object {missing[0]!r} is not in the index ({self.ntotal:,} objects)"
            raise UnknownObjectError(msg)
        return np.array([self._row_of[str(i)] for i in object_ids], dtype=np.int64)

    # -- searching ---------------------------------------------------------------------------
    def search(
        self,
        vectors,
        k: int,
        *,
        exclude_rows: np.ndarray | None = None,
        first_rows: int | None = None,
    ) -> Neighbours:
        """Find the ``k`` nearest stored vectors of each query, nearest first.

        Parameters
        ----------
        vectors : (n, d) queries
        k : neighbours a query
        exclude_rows : (n,) a row to leave out of each query's result (its own row; -1: none)
        first_rows : search only rows ``0 .. first_rows - 1`` (e.g. the reference set a map or
            a scorer was fitted on, before uploads were appended)
        """
        self._check_fitted()
        if k < 1:
            msg = f"k must be at least 1, got {k}"
            raise InvalidValueError(msg)
        queries = _normalised(as_matrix(vectors, dim=self.dim, name="queries"))
        extra = 0 if exclude_rows is None else 1
        similarity, rows = self.index_.search(
            queries, k + extra, params=self._search_params(first_rows)
        )
        if exclude_rows is not None:
            similarity, rows = _drop_rows(similarity, rows, np.asarray(exclude_rows))
        distance = np.where(rows >= 0, 1.0 - similarity, np.inf).astype(np.float32)
        ids = None
        if self.object_ids_ is not None:
            ids = np.where(rows >= 0, self.object_ids_[np.maximum(rows, 0)], None)
        return Neighbours(rows=rows, distance=distance, object_id=ids)

    def _search_params(self, first_rows: int | None) -> faiss.SearchParameters | None:
        if first_rows is None or first_rows >= self.ntotal:
            return None
        selector = faiss.IDSelectorRange(0, int(first_rows))
        if self.kind_ == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.index_.hnsw.efSearch)
        if self.kind_ == "ivfpq":
            nprobe = faiss.extract_index_ivf(self.index_).nprobe
            return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        return faiss.SearchParameters(sel=selector)

    def search_ids(self, object_ids: Sequence[str], k: int) -> Neighbours:
        """Find the ``k`` nearest other objects of stored objects (their own rows left out)."""
        rows = self.rows_of(object_ids)
        return self.search(self.reconstruct(rows), k, exclude_rows=rows)

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """Return the stored unit vectors of ``rows`` (approximate for IVF-PQ)."""
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        for i, row in enumerate(rows.tolist()):
            out[i] = self.index_.reconstruct(row)
        return out

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the index in FAISS's binary format to ``path``."""
        self._check_fitted()
        path = Path(path)
        faiss.write_index(self.index_, str(path))
        return path

    @classmethod
    def load(cls, path: str | Path, *, object_ids: Sequence[str] | None = None) -> VectorIndex:
        """Read an index written by :meth:`save`; ``object_ids`` name its rows, in row order."""
        path = Path(path)
        if not path.is_file():
            msg = f"{path}: no FAISS index there"
            raise InputError(msg)
        index = faiss.read_index(str(path))
        kinds = {faiss.IndexFlatIP: "flat", faiss.IndexHNSWFlat: "hnsw", faiss.IndexIVFPQ: "ivfpq"}
        kind = kinds.get(type(index))  # read_index returns the concrete class
        if kind is None or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            msg = f"{path}: not a catscope cosine index ({type(index).__name__})"
            raise InputError(msg)
        loaded = cls(kind=kind)
        # keep read_index's own wrapper: it owns the C++ index (a downcast copy would not)
        loaded.kind_, loaded.index_ = kind, index
        loaded.object_ids_, loaded._row_of = None, {}
        if object_ids is not None:
            if len(object_ids) != loaded.ntotal:
                msg = f"{path}: {len(object_ids)} object ids for {loaded.ntotal} stored vectors"
                raise InputError(msg)
            ids = np.asarray(object_ids, dtype=str)
            loaded.object_ids_ = ids
            loaded._row_of = {object_id: i for i, object_id in enumerate(ids.tolist())}
        return loaded


def _drop_rows(similarity: np.ndarray, rows: np.ndarray, exclude: np.ndarray):
    """Remove each query's excluded row (or its last extra result) from (n, k + 1) results."""
    keep = rows != exclude[:, None]
    # where the excluded row is absent, drop the last column instead
    keep[keep.all(axis=1), -1] = False
    n, width = rows.shape
    return similarity[keep].reshape(n, width - 1), rows[keep].reshape(n, width - 1)


def check_self_search(index: VectorIndex, vectors: np.ndarray) -> float:
    """Search a sample of stored vectors; each should find itself (or an identical vector).

    ``vectors`` are the first rows added to ``index``. A query counts as found when its own row
    is among its 10 nearest (approximate kinds may rank a neighbour first) or when the nearest
    is as similar to it as it is to itself (a duplicate). Returns the share found; raises
    :class:`InvalidValueError` below the kind's :data:`SELF_SEARCH_MIN` (all for the exact
    index; compressed vectors of dense clusters may lose themselves among their neighbours),
    which means the index does not hold what was added (wrong row order, broken build).
    """
    n = min(len(vectors), index.ntotal)
    rows = np.unique(np.linspace(0, n - 1, num=min(n, _SELF_SEARCH_SAMPLE)).astype(np.int64))
    found = index.search(vectors[rows], min(10, index.ntotal))
    own = _normalised(as_matrix(vectors[rows]))
    self_similarity = np.sum(own * own, axis=1)

    def same(stored: np.ndarray) -> np.ndarray:
        return np.abs(np.sum(own * stored, axis=1) - self_similarity) < _TIE

    # a duplicate: the query's own row holds it, and the nearest row holds the same vector
    duplicate = same(index.reconstruct(rows)) & same(index.reconstruct(found.rows[:, 0]))
    share = float(np.mean((found.rows == rows[:, None]).any(axis=1) | duplicate))
    required = SELF_SEARCH_MIN[index.kind_]
    if share < required:
        msg = (
            f"FAISS sanity check failed: only {share:.0%} of {len(rows)} stored vectors find "
            f"themselves in the {index.kind_} index (expected >= {required:.0%})"
        )
        raise InvalidValueError(msg)
    return share
