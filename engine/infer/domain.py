"""Domain awareness: how unlike a model's training set each object is.

A :class:`DomainReference` is fitted on embeddings of the model's training objects (the
*reference*) and of objects it neither trained on nor holds (the *held-out* set, the run's
validation split). An object's k-NN distance is the mean cosine distance of its embedding to
its ``k`` nearest reference vectors; its *k-NN percentile* is the share of held-out objects
that are nearer than it. Unseen objects like the training set therefore score uniformly in
[0, 1], so ``threshold = 0.95`` flags about 5 % of them: "at most as unusual as the 5 % strangest
held-out objects" is in domain.

Input checks (:mod:`engine.infer.domain_checks`: bands outside the trained wavelengths, too
few points or bands, span or cadence far outside training) are fitted from the reference
light curves. :meth:`DomainReference.assess` gives every object

* ``domain_score``: its k-NN percentile, raised to 1.0 when an input check fails;
* ``in_domain``: ``domain_score <= threshold``;
* ``domain_reason``: ``""`` in domain, else plain sentences saying why.

Stored beside the model (:meth:`DomainReference.save`): ``domain.safetensors`` holds the unit
reference vectors in float16 (the fitted reference is rounded to float16 before anything is
computed from it, so a loaded reference scores exactly as the fitted one); ``domain.json`` the
held-out distances, the input limits, the settings and how the reference was built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from safetensors.numpy import load_file, save_file
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from engine.errors import InputError, InvalidValueError
from engine.infer.domain_checks import (
    LIMIT_FACTOR,
    LIMIT_QUANTILE,
    MIN_POINTS,
    WAVELENGTH_MARGIN,
    InputLimits,
    fit_input_limits,
)
from engine.models.checkpoint import DOMAIN_FILE, DOMAIN_VECTORS_FILE, read_extra, write_extra
from engine.vectors import VectorIndex, as_matrix, digest

#: columns :meth:`DomainReference.assess` adds to predictions, after ``object_id``
DOMAIN_SCHEMA = pl.Schema(
    {"domain_score": pl.Float64, "in_domain": pl.Boolean, "domain_reason": pl.String}
)
DOMAIN_COLUMNS = tuple(DOMAIN_SCHEMA.names())
_VECTORS_KEY = "reference"
_FORMAT_VERSION = 1


class DomainReference(BaseEstimator):
    """Where objects sit relative to a model's training set (see the module docstring).

    Parameters
    ----------
    k : reference neighbours averaged into an object's k-NN distance
    threshold : largest ``domain_score`` still in domain (0.95: at most as far from the
        training set as the 5 % farthest held-out objects)
    wavelength_margin, min_points, limit_quantile, limit_factor : settings of the input
        checks, see :func:`engine.infer.domain_checks.fit_input_limits`

    Attributes
    ----------
    reference_ : (N, d) float32 unit reference vectors (rounded to float16)
    index_ : exact FAISS cosine index of ``reference_``
    held_out_distances_ : (M,) sorted k-NN distances of the held-out objects
    limits_ : the fitted :class:`~engine.infer.domain_checks.InputLimits`
    """

    def __init__(
        self,
        *,
        k: int = 10,
        threshold: float = 0.95,
        wavelength_margin: tuple[float, float] = WAVELENGTH_MARGIN,
        min_points: int = MIN_POINTS,
        limit_quantile: float = LIMIT_QUANTILE,
        limit_factor: float = LIMIT_FACTOR,
    ) -> None:
        self.k = k
        self.threshold = threshold
        self.wavelength_margin = wavelength_margin
        self.min_points = min_points
        self.limit_quantile = limit_quantile
        self.limit_factor = limit_factor

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, reference, held_out, curves: pl.DataFrame) -> DomainReference:
        """Fit on embeddings of the reference and held-out objects and the reference's curves.

        Parameters
        ----------
        reference : (N, d) embeddings of the objects the model trained on (and any augmented
            copies of them)
        held_out : (M, d) embeddings of objects neither trained on nor in ``reference``
        curves : canonical table of the reference light curves (the input limits' source)
        """
        if not 0.0 < self.threshold <= 1.0:
            msg = f"threshold must be in (0, 1], got {self.threshold!r}"
            raise InvalidValueError(msg)
        reference = as_matrix(reference, name="reference")
        held_out = as_matrix(held_out, dim=reference.shape[1], name="held_out")
        if not isinstance(self.k, int) or not 1 <= self.k <= len(reference):
            msg = (
                f"k must be an integer in [1, {len(reference)}] (the reference size), "
                f"got {self.k!r}"
            )
            raise InvalidValueError(msg)
        if len(held_out) == 0:
            msg = "held_out must hold at least one embedding"
            raise InvalidValueError(msg)
        self._set_reference(_rounded_unit(reference))
        self.held_out_distances_ = np.sort(self.knn_distance(held_out))
        self.limits_ = fit_input_limits(
            curves,
            wavelength_margin=tuple(self.wavelength_margin),
            min_points=self.min_points,
            quantile=self.limit_quantile,
            factor=self.limit_factor,
        )
        return self

    def _set_reference(self, unit: np.ndarray) -> None:
        self.reference_ = unit
        self.index_ = VectorIndex(kind="flat").fit(unit)

    # -- scoring -----------------------------------------------------------------------------
    def knn_distance(self, embeddings) -> np.ndarray:
        """Mean cosine distance of each embedding to its ``k`` nearest reference vectors, (N,)."""
        check_is_fitted(self, "index_")
        queries = as_matrix(embeddings, dim=self.reference_.shape[1], name="embeddings")
        if len(queries) == 0:
            return np.zeros(0)
        return self.index_.search(queries, self.k).distance.mean(axis=1, dtype=np.float64)

    def knn_percentile(self, embeddings) -> np.ndarray:
        """Share of held-out objects nearer to the reference than each embedding, (N,) in [0, 1]."""
        check_is_fitted(self, "held_out_distances_")
        distance = self.knn_distance(embeddings)
        below = np.searchsorted(self.held_out_distances_, distance, side="left")
        return below / len(self.held_out_distances_)

    def assess(self, table: pl.DataFrame, embeddings) -> pl.DataFrame:
        """``object_id, domain_score, in_domain, domain_reason`` of every object of ``table``.

        ``embeddings`` (N, d) are the model's embeddings of ``table``'s objects, in its order.
        """
        check_is_fitted(self, "limits_")
        embeddings = as_matrix(embeddings, dim=self.reference_.shape[1], name="embeddings")
        if len(embeddings) != table.height:
            msg = f"embeddings has {len(embeddings)} rows for a table of {table.height} objects"
            raise InvalidValueError(msg)
        percentile = pl.Series("percentile", self.knn_percentile(embeddings), dtype=pl.Float64)
        frame = pl.DataFrame([percentile, self.limits_.reasons(table).alias("input")])
        failed, far = pl.col("input") != "", pl.col("percentile") > self.threshold
        knn_reason = pl.format(
            "embedding farther from the training set than {} % of held-out objects",
            (100 * pl.col("percentile")).round(6).floor().cast(pl.Int64),  # 0.57 -> 57, not 56
        )
        score = pl.when(failed).then(1.0).otherwise("percentile")
        return frame.select(
            table["object_id"].cast(pl.String).alias("object_id"),
            score.alias("domain_score"),
            (score <= self.threshold).alias("in_domain"),
            pl.concat_str(
                [pl.when(failed).then("input"), pl.when(far).then(knn_reason)],
                separator="; ",
                ignore_nulls=True,
            )
            .fill_null("")
            .alias("domain_reason"),
        ).cast(dict(DOMAIN_SCHEMA))

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path, *, provenance: dict[str, Any] | None = None) -> Path:
        """Write ``domain.safetensors`` and ``domain.json`` into the model ``directory``.

        ``provenance`` (data, command, counts: what built the reference) goes into the JSON.
        """
        check_is_fitted(self, "limits_")
        directory = Path(directory)
        save_file(
            {_VECTORS_KEY: self.reference_.astype(np.float16)},
            str(directory / DOMAIN_VECTORS_FILE),
        )
        state = {
            "format_version": _FORMAT_VERSION,
            "params": {
                "k": self.k,
                "threshold": self.threshold,
                "wavelength_margin": list(self.wavelength_margin),
                "min_points": self.min_points,
                "limit_quantile": self.limit_quantile,
                "limit_factor": self.limit_factor,
            },
            "n_reference": len(self.reference_),
            "dim": int(self.reference_.shape[1]),
            "reference_sha256": digest(self.reference_),
            "limits": self.limits_.to_dict(),
            "held_out_distances": self.held_out_distances_.tolist(),
            "provenance": provenance or {},
        }
        write_extra(directory, DOMAIN_FILE, state, indent=1)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> DomainReference:
        """Read a reference written by :meth:`save` from the model ``directory``."""
        directory = Path(directory)
        json_path, vectors_path = directory / DOMAIN_FILE, directory / DOMAIN_VECTORS_FILE
        if not json_path.is_file() or not vectors_path.is_file():
            msg = (
                f"{directory}: no domain reference ({DOMAIN_FILE} and {DOMAIN_VECTORS_FILE}); "
                "build one with 'catscope domain-reference'"
            )
            raise InputError(msg)
        state = read_extra(directory, DOMAIN_FILE)
        params = state["params"]
        reference = cls(**{**params, "wavelength_margin": tuple(params["wavelength_margin"])})
        unit = load_file(str(vectors_path))[_VECTORS_KEY].astype(np.float32)
        if digest(unit) != state["reference_sha256"]:
            msg = f"{vectors_path}: the reference vectors do not match {json_path}"
            raise InputError(msg)
        reference._set_reference(unit)
        reference.held_out_distances_ = np.asarray(state["held_out_distances"], dtype=np.float64)
        reference.limits_ = InputLimits.from_dict(state["limits"])
        return reference


def has_domain_reference(directory: str | Path) -> bool:
    """Whether the model ``directory`` holds a domain reference."""
    return (Path(directory) / DOMAIN_FILE).is_file()


def _rounded_unit(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows rounded to float16 (as stored), back in float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    return unit.astype(np.float16).astype(np.float32)
