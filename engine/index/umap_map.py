"""A fitted UMAP map that is stored without pickle and places new points with ``transform``.

umap-learn fits the map once (:meth:`UmapMap.fit`); what ``transform`` needs is then kept as
plain arrays and numbers: the 2-D coordinates of the training points, the training embeddings
and the parameters (n_neighbors, min_dist, a, b, metric, n_epochs, ...). :meth:`UmapMap.save`
writes ``umap.json`` (parameters) and ``umap.npz`` (``embedding`` and, unless a catalogue
keeps them, the training embeddings ``reference``; see :mod:`engine.index.reference`);
:meth:`UmapMap.load` reads them back with ``allow_pickle=False``.

:meth:`UmapMap.transform` follows umap-learn's own ``UMAP.transform`` (umap 0.5) step by step
and with its functions: the k nearest training points (cosine distance, found with FAISS
instead of umap's nearest-neighbour descent), ``smooth_knn_dist`` and
``compute_membership_strengths`` for the bipartite fuzzy graph, ``init_graph_transform`` for
the starting positions (weighted mean of the neighbours' coordinates), then
``optimize_layout_euclidean`` with the training points held fixed (``move_other=False``).
Only the neighbour search differs, and it is exact below 100,000 training points, as umap's is
below 4,096.

umap compiles its numba functions on the first fit or transform in each process (~24 s on
2 cores), so neither belongs on an app's start-up path: the app reads stored coordinates.
"""

from __future__ import annotations

import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import scipy.sparse
from sklearn.utils import check_random_state

from engine.errors import InputError, InvalidValueError
from engine.index.reference import ReferenceStorage, read_fitted, reference_index, save_fitted
from engine.vectors import VectorIndex, as_matrix

PARAMS_FILE = "umap.json"
ARRAYS_FILE = "umap.npz"
_FILES = (PARAMS_FILE, ARRAYS_FILE)
#: umap's spectral initialisation needs more points than output dimensions + 2
MIN_POINTS = 5
#: the largest cosine distance (opposite vectors), umap's disconnection distance for cosine
_COSINE_DISCONNECTION = 2.0


class UmapMap:
    """A 2-D UMAP map of embeddings (cosine metric) that can place new points.

    Parameters
    ----------
    n_neighbors : size of the local neighbourhood (umap's ``n_neighbors``)
    min_dist : how tightly points pack in the map (umap's ``min_dist``)
    n_epochs : optimisation epochs of the fit (``None``: umap's default, 200 or 500); a
        transform runs a third of them (100 or 30 when ``None``), as umap does
    random_state : seed of the fit; an int makes fits reproducible but single-threaded
    transform_seed : seed of the transform's negative sampling
    learning_rate, repulsion_strength, negative_sample_rate, local_connectivity : umap's
        optimisation parameters of the same names
    """

    metric = "cosine"

    def __init__(
        self,
        *,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        n_epochs: int | None = None,
        random_state: int | None = 0,
        transform_seed: int = 42,
        learning_rate: float = 1.0,
        repulsion_strength: float = 1.0,
        negative_sample_rate: int = 5,
        local_connectivity: float = 1.0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.random_state = random_state
        self.transform_seed = transform_seed
        self.learning_rate = learning_rate
        self.repulsion_strength = repulsion_strength
        self.negative_sample_rate = negative_sample_rate
        self.local_connectivity = local_connectivity

    def _params(self) -> dict:
        return {name: getattr(self, name) for name in (
            "n_neighbors", "min_dist", "n_epochs", "random_state", "transform_seed",
            "learning_rate", "repulsion_strength", "negative_sample_rate", "local_connectivity",
        )}  # fmt: skip

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, *, neighbours: VectorIndex | None = None) -> UmapMap:
        """Fit the map on embeddings ``X`` (N, d) with umap-learn.

        ``neighbours`` is an index whose first N rows are ``X`` (a catalogue's index, which
        may grow later); without it an exact index of ``X`` is built.
        """
        import umap

        X = as_matrix(X, name="X")
        if len(X) < MIN_POINTS:
            msg = f"a UMAP map needs at least {MIN_POINTS} points, got {len(X)}"
            raise InvalidValueError(msg)
        if self.n_neighbors < 2:
            msg = f"n_neighbors must be at least 2, got {self.n_neighbors}"
            raise ValueError(msg)
        reducer = umap.UMAP(metric=self.metric, **self._params())
        with warnings.catch_warnings():
            # a seed forces n_jobs=1 (we ask for reproducible maps); umap warns every time
            warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
            reducer.fit(X)
        self.embedding_ = np.ascontiguousarray(reducer.embedding_, dtype=np.float32)
        self.a_, self.b_ = float(reducer._a), float(reducer._b)
        # umap shrinks n_neighbors for data sets smaller than it
        self.n_neighbors_ = int(reducer._n_neighbors)
        self.reference_ = X
        self.neighbours_ = reference_index(neighbours, self.reference_)
        return self

    @property
    def n_reference(self) -> int:
        """Number of training points of the map."""
        self._check_fitted()
        return len(self.reference_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "embedding_"):
            msg = "this UmapMap is not fitted yet; call fit() or load() first"
            raise InputError(msg)

    # -- placing new points ------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Place new points (n, d) in the fitted map without moving it; returns (n, 2)."""
        from umap.layouts import optimize_layout_euclidean
        from umap.umap_ import (
            INT32_MAX,
            INT32_MIN,
            compute_membership_strengths,
            init_graph_transform,
            make_epochs_per_sample,
            smooth_knn_dist,
        )

        self._check_fitted()
        X = as_matrix(X, dim=self.reference_.shape[1], name="X")
        if len(X) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        n_reference = self.n_reference
        found = self.neighbours_.search(X, self.n_neighbors_, first_rows=n_reference)
        indices = found.rows.astype(np.int32)
        dists = np.ascontiguousarray(np.maximum(found.distance, 0.0), dtype=np.float32)
        indices[dists >= _COSINE_DISCONNECTION] = -1
        sigmas, rhos = smooth_knn_dist(
            dists,
            float(self.n_neighbors_),
            local_connectivity=float(max(0.0, self.local_connectivity - 1.0)),
        )
        rows, cols, vals, _ = compute_membership_strengths(
            indices, dists, sigmas, rhos, bipartite=True
        )
        graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(len(X), n_reference))
        csr_graph = graph.tocsr()
        csr_graph.eliminate_zeros()
        embedding = init_graph_transform(csr_graph, self.embedding_)

        if self.n_epochs is None:
            n_epochs = 100 if len(X) <= 10_000 else 30
        else:
            n_epochs = int(self.n_epochs // 3.0)
        graph.data[graph.data < (graph.data.max() / float(n_epochs))] = 0.0
        graph.eliminate_zeros()
        epochs_per_sample = make_epochs_per_sample(graph.data, n_epochs)
        rng_state = check_random_state(self.transform_seed).randint(INT32_MIN, INT32_MAX, 3)
        rng_state = rng_state.astype(np.int64)
        return optimize_layout_euclidean(
            embedding,
            self.embedding_.copy(),
            graph.row,
            graph.col,
            n_epochs,
            n_reference,
            epochs_per_sample,
            self.a_,
            self.b_,
            rng_state,
            self.repulsion_strength,
            self.learning_rate / 4.0,
            self.negative_sample_rate,
            parallel=False,
            move_other=False,
        )

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path, *, reference: ReferenceStorage = "store") -> None:
        """Write ``umap.json`` and ``umap.npz`` into ``directory``.

        ``reference="external"`` leaves the training embeddings out of ``umap.npz`` (a
        catalogue keeps them in ``embeddings.parquet``, see :mod:`engine.index.reference`).
        """
        self._check_fitted()
        state = {
            "metric": self.metric,
            "params": self._params(),
            "a": self.a_,
            "b": self.b_,
            "n_neighbors_used": self.n_neighbors_,
            "umap_version": version("umap-learn"),
        }
        arrays = {"embedding": self.embedding_}
        save_fitted(directory, _FILES, state, arrays, self.reference_, reference)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        neighbours: VectorIndex | None = None,
        reference: np.ndarray | None = None,
    ) -> UmapMap:
        """Read a map written by :meth:`save`.

        ``neighbours`` is as in :meth:`fit`; ``reference`` is the training embeddings when
        they were saved with ``reference="external"``.
        """
        state, arrays, fitted_on = read_fitted(directory, _FILES, reference, what="UMAP map")
        fitted = cls(**state["params"])
        fitted.embedding_ = np.ascontiguousarray(arrays["embedding"], dtype=np.float32)
        fitted.reference_ = fitted_on
        if fitted.embedding_.shape != (state["n_reference"], 2):
            n = state["n_reference"]
            msg = f"{directory}: {ARRAYS_FILE} coordinates do not match {PARAMS_FILE} ({n} points)"
            raise InputError(msg)
        fitted.a_, fitted.b_ = float(state["a"]), float(state["b"])
        fitted.n_neighbors_ = int(state["n_neighbors_used"])
        fitted.neighbours_ = reference_index(neighbours, fitted.reference_)
        return fitted
