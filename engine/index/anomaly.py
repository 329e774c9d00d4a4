"""Anomaly scores of embeddings, fitted on a reference set (a catalogue's objects).

Every score is "higher = stranger":

================  ==========================================================================
scorer            what it is
================  ==========================================================================
gmm_nll           negative log-likelihood under a Gaussian mixture (full covariances) fitted
                  in the space of the reference's top principal components, whitened (at
                  most 32); the number of components is chosen by BIC among 1, 2, 4, 8.
                  Objects in no dense region of the reference score high (the paper's GMM
                  test, ATCAT section 4.3).
isolation_forest  sklearn's isolation-forest anomaly score ``-score_samples`` in (0, 1]:
                  objects split off by few random cuts score high (about 0.5 is ordinary).
knn_distance      mean cosine distance to the k = 10 nearest reference objects (FAISS,
                  the object itself left out): objects far from any neighbour score high.
================  ==========================================================================

A model may add per-object scores of its own (e.g. RTF reconstruction error): pass them as
``extra`` to :meth:`AnomalyScorers.score`; they become further columns.

Persistence without pickle (:meth:`AnomalyScorers.save`): ``anomaly_model.json`` holds the
parameters and choices, ``anomaly_model.npz`` the PCA (mean, components, variances), the
mixture (weights, means, covariances, precision Cholesky factors) and, unless a catalogue keeps
them, the reference embeddings (see :mod:`engine.index.reference`). The isolation forest is
*refitted on load* from the reference embeddings with the stored parameters and seed:
deterministic for one scikit-learn version and fast (the trees see 256-object subsamples),
which avoids storing sklearn's tree internals.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture

from engine.errors import InputError, InvalidValueError
from engine.index.reference import ReferenceStorage, read_fitted, reference_index, save_fitted
from engine.vectors import VectorIndex, as_matrix

PARAMS_FILE = "anomaly_model.json"
ARRAYS_FILE = "anomaly_model.npz"
_FILES = (PARAMS_FILE, ARRAYS_FILE)
SCORERS = ("gmm_nll", "isolation_forest", "knn_distance")
#: fewest reference objects the scorers are fitted on
MIN_REFERENCE = 5
#: the mixture tries component counts up to one per this many reference objects
_OBJECTS_PER_COMPONENT = 10
#: principal directions with less variance than this share of the largest are left out
_FLAT_VARIANCE = 1e-6
_GMM_ARRAYS = ("weights", "means", "covariances", "precisions_cholesky")


class AnomalyScorers:
    """The GMM, isolation-forest and k-NN scorers of :data:`SCORERS`, fitted together.

    Parameters
    ----------
    gmm_components : component counts BIC chooses among (those above one per 10 reference
        objects are skipped)
    pca_components : most principal components the mixture sees
    reg_covar : added to the mixture's covariance diagonals (the PCA space is whitened,
        so this is relative to unit variance)
    n_estimators : trees of the isolation forest
    k : neighbours of the k-NN distance
    random_state : seed of the PCA, mixture and forest
    """

    def __init__(
        self,
        *,
        gmm_components: tuple[int, ...] = (1, 2, 4, 8),
        pca_components: int = 32,
        reg_covar: float = 1e-3,
        n_estimators: int = 200,
        k: int = 10,
        random_state: int = 0,
    ) -> None:
        self.gmm_components = gmm_components
        self.pca_components = pca_components
        self.reg_covar = reg_covar
        self.n_estimators = n_estimators
        self.k = k
        self.random_state = random_state

    def _params(self) -> dict:
        return {
            "gmm_components": list(self.gmm_components),
            "pca_components": self.pca_components,
            "reg_covar": self.reg_covar,
            "n_estimators": self.n_estimators,
            "k": self.k,
            "random_state": self.random_state,
        }

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, *, neighbours: VectorIndex | None = None) -> AnomalyScorers:
        """Fit every scorer on the reference embeddings ``X`` (N, d).

        ``neighbours`` is an index whose first N rows are ``X`` (a catalogue's index);
        without it an index of ``X`` is built.
        """
        X = as_matrix(X, name="X")
        if len(X) < MIN_REFERENCE:
            msg = f"anomaly scorers need at least {MIN_REFERENCE} reference objects, got {len(X)}"
            raise InvalidValueError(msg)
        if not self.gmm_components or min(self.gmm_components) < 1:
            msg = f"gmm_components must be positive counts, got {self.gmm_components}"
            raise ValueError(msg)
        if self.k < 1 or self.pca_components < 1 or self.n_estimators < 1:
            msg = (
                "k, pca_components and n_estimators must be at least 1, got "
                f"{self.k}, {self.pca_components}, {self.n_estimators}"
            )
            raise ValueError(msg)
        self.reference_ = X
        self.pca_ = self._pca(X)
        projected = self.pca_.transform(X)
        candidates = [c for c in self.gmm_components if c <= len(X) // _OBJECTS_PER_COMPONENT]
        fits = {c: self._mixture(c).fit(projected) for c in candidates or [1]}
        self.bic_ = {c: float(m.bic(projected)) for c, m in fits.items()}
        self.gmm_ = fits[min(self.bic_, key=self.bic_.get)]
        self.forest_ = self._forest().fit(X)
        self.neighbours_ = reference_index(neighbours, self.reference_)
        return self

    def _pca(self, X: np.ndarray) -> PCA:
        """Fit the whitening PCA, keeping only directions in which the reference varies."""
        n_components = min(self.pca_components, X.shape[1], len(X) - 1)
        pca = PCA(n_components, whiten=True, random_state=self.random_state).fit(X)
        variance = pca.explained_variance_
        # whitening divides by the square root of each variance: drop the ~zero ones
        varying = int(np.sum(variance > _FLAT_VARIANCE * variance[0]))
        if varying == 0:
            msg = "the reference embeddings are all identical; nothing to score against"
            raise InvalidValueError(msg)
        if varying < n_components:
            pca = PCA(varying, whiten=True, random_state=self.random_state).fit(X)
        return pca

    def _mixture(self, n_components: int) -> GaussianMixture:
        return GaussianMixture(
            n_components, covariance_type="full", reg_covar=self.reg_covar,
            random_state=self.random_state,
        )  # fmt: skip

    def _forest(self) -> IsolationForest:
        return IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state)

    def _check_fitted(self) -> None:
        if not hasattr(self, "gmm_"):
            msg = "these AnomalyScorers are not fitted yet; call fit() or load() first"
            raise InputError(msg)

    # -- scoring -----------------------------------------------------------------------------
    def score(
        self,
        X,
        *,
        self_rows: np.ndarray | None = None,
        extra: Mapping[str, np.ndarray] | None = None,
    ) -> pl.DataFrame:
        """Scores of embeddings ``X`` (n, d): one Float64 column per scorer, higher = stranger.

        Parameters
        ----------
        X : embeddings to score
        self_rows : (n,) row of each object in the reference set, or -1; an object is left
            out of its own k-NN neighbourhood (score the reference with ``np.arange(N)``)
        extra : further per-object scores supplied by the model (name -> (n,) array)
        """
        self._check_fitted()
        X = as_matrix(X, dim=self.reference_.shape[1], name="X")
        n_reference = len(self.reference_)
        found = self.neighbours_.search(
            X, min(self.k, n_reference - 1), exclude_rows=self_rows, first_rows=n_reference
        )
        scores = {
            "gmm_nll": -self.gmm_.score_samples(self.pca_.transform(X)),
            "isolation_forest": -self.forest_.score_samples(X),
            "knn_distance": found.distance.mean(axis=1, dtype=np.float64),
        }
        for name, values in (extra or {}).items():
            values = np.asarray(values, dtype=np.float64)
            if name in SCORERS or values.shape != (len(X),):
                msg = (
                    f"extra score {name!r} must be a new name (not one of {SCORERS}) with one "
                    f"value per object ({len(X)}), got shape {values.shape}"
                )
                raise InvalidValueError(msg)
            scores[name] = values
        return pl.DataFrame({name: np.asarray(v, dtype=np.float64) for name, v in scores.items()})

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path, *, reference: ReferenceStorage = "store") -> None:
        """Write ``anomaly_model.json`` and ``anomaly_model.npz`` into ``directory``.

        ``reference="external"`` leaves the reference embeddings out of the ``.npz`` (a
        catalogue keeps them in ``embeddings.parquet``, see :mod:`engine.index.reference`).
        """
        self._check_fitted()
        state = {
            "scorers": list(SCORERS),
            "params": self._params(),
            "gmm": {
                "n_components": int(self.gmm_.n_components),
                "bic": {str(c): b for c, b in self.bic_.items()},
            },
            "pca_components": int(self.pca_.n_components_),
            "sklearn_version": version("scikit-learn"),
        }
        arrays = {
            "pca_mean": self.pca_.mean_,
            "pca_components": self.pca_.components_,
            "pca_variance": self.pca_.explained_variance_,
            **{f"gmm_{name}": getattr(self.gmm_, f"{name}_") for name in _GMM_ARRAYS},
        }
        save_fitted(directory, _FILES, state, arrays, self.reference_, reference)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        neighbours: VectorIndex | None = None,
        reference: np.ndarray | None = None,
    ) -> AnomalyScorers:
        """Read scorers written by :meth:`save`, refitting the isolation forest.

        ``neighbours`` is as in :meth:`fit`; ``reference`` is the reference embeddings when
        they were saved with ``reference="external"``.
        """
        state, arrays, fitted_on = read_fitted(directory, _FILES, reference, what="anomaly scorers")
        params = state["params"]
        scorers = cls(**{**params, "gmm_components": tuple(params["gmm_components"])})
        scorers.reference_ = fitted_on
        scorers.pca_ = _restore_pca(arrays, scorers.random_state)
        scorers.gmm_ = scorers._mixture(state["gmm"]["n_components"])
        for name in _GMM_ARRAYS:
            setattr(scorers.gmm_, f"{name}_", arrays[f"gmm_{name}"])
        scorers.gmm_.n_features_in_ = scorers.pca_.n_components_
        scorers.bic_ = {int(c): b for c, b in state["gmm"]["bic"].items()}
        if state["sklearn_version"] != version("scikit-learn"):
            warnings.warn(
                f"{Path(directory) / PARAMS_FILE}: written with scikit-learn "
                f"{state['sklearn_version']}, refitting the isolation forest with "
                f"{version('scikit-learn')}; its scores of new objects may differ slightly from "
                "the stored ones",
                stacklevel=2,
            )
        scorers.forest_ = scorers._forest().fit(scorers.reference_)
        scorers.neighbours_ = reference_index(neighbours, scorers.reference_)
        return scorers


def _restore_pca(arrays: Mapping[str, np.ndarray], random_state: int) -> PCA:
    """Rebuild a fitted whitening PCA from its stored mean, components and variances."""
    components = arrays["pca_components"]
    pca = PCA(n_components=len(components), whiten=True, random_state=random_state)
    pca.mean_ = arrays["pca_mean"]
    pca.components_ = components
    pca.explained_variance_ = arrays["pca_variance"]
    pca.n_components_ = len(components)
    pca.n_features_in_ = components.shape[1]
    return pca
