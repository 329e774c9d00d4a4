"""Fixtures of the index tests: structured embeddings, one shared UMAP fit, one tiny catalogue."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from engine.index.threads import thread_cap


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Run every BLAS/OpenMP pool single-threaded: the CPU is shared with other jobs."""
    with thread_cap(1):
        yield


def _clustered(n: int, dim: int = 16, n_clusters: int = 10, *, seed: int = 0):
    """Points around ``n_clusters`` random centres: (n, dim) float32 and (n,) cluster labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)) * 3.0
    labels = rng.integers(0, n_clusters, n)
    points = centres[labels] + rng.standard_normal((n, dim))
    return points.astype(np.float32), labels


@pytest.fixture(scope="session")
def clustered():
    """``clustered(n, dim=16, n_clusters=10, seed=0)`` -> (points (n, dim), labels (n,))."""
    return _clustered


@pytest.fixture(scope="session")
def umap_data():
    """1,200 training and 200 held-out points of one clustered set (umap's exact code path)."""
    points, labels = _clustered(1400)
    return points[:1200], points[1200:], labels[:1200], labels[1200:]


@pytest.fixture(scope="session")
def fitted_umap(umap_data):
    """umap-learn's own fitted UMAP and a UmapMap with the same parameters and seed.

    The first umap call of a process compiles numba code (~20 s); every test shares this one.
    """
    import umap

    from engine.index.umap_map import UmapMap

    train = umap_data[0]
    fitted = UmapMap(n_neighbors=15, min_dist=0.1, random_state=0).fit(train)
    reducer = umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        reducer.fit(train)
    return fitted, reducer
