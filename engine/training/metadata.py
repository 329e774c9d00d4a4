"""Standardisation of per-object metadata: quantile scores with a normal output (ATCAT 2.1.1).

A scikit-learn ``QuantileTransformer(output_distribution="normal")`` is fitted on the finite
training values of each feature; NaN (missing) and ±inf are passed through unchanged, because
the model has a learned vector for each of those cases. The fitted quantiles are stored as JSON
next to the model (never a pickle), and inference rebuilds the same transformer from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.preprocessing import QuantileTransformer
from sklearn.utils.validation import check_is_fitted

from engine.errors import InvalidValueError


class MetadataScaler(BaseEstimator):
    """Quantile-normal scaling of named metadata features, with NaN and ±inf kept.

    Parameters
    ----------
    names : feature names, in the column order of the arrays passed to :meth:`fit` and
        :meth:`transform`
    n_quantiles : most quantiles stored per feature (fewer when there are fewer samples)
    """

    def __init__(self, names: tuple[str, ...], *, n_quantiles: int = 1000) -> None:
        self.names = tuple(names)
        self.n_quantiles = n_quantiles

    def _check(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.names):
            msg = (
                f"metadata must have shape (n_objects, {len(self.names)}) for features "
                f"{self.names}, got {values.shape}"
            )
            raise InvalidValueError(msg)
        return values

    def fit(self, values: np.ndarray) -> MetadataScaler:
        """Fit the quantiles of each feature on its finite values; (N, M) -> self."""
        values = self._check(values)
        if not self.names:
            msg = "MetadataScaler needs at least one feature name to fit"
            raise ValueError(msg)
        finite = np.where(np.isfinite(values), values, np.nan)  # sklearn ignores NaN when fitting
        n_quantiles = max(1, min(self.n_quantiles, int(np.isfinite(values).sum(axis=0).max())))
        self.transformer_ = QuantileTransformer(
            n_quantiles=n_quantiles, output_distribution="normal", subsample=None
        ).fit(finite)
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale (N, M) raw metadata to normal scores; NaN and ±inf stay as they are."""
        check_is_fitted(self, "transformer_")
        values = self._check(values)
        finite = np.isfinite(values)
        scaled = self.transformer_.transform(np.where(finite, values, np.nan))
        return np.where(finite, scaled, values)

    def transform_columns(self, metadata: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return ``metadata`` (name -> (N,) raw values) with this scaler's columns scaled.

        Columns the scaler does not know pass through; a missing scaled column becomes NaN.
        """
        any_column = next(iter(metadata.values()), np.zeros(0))
        raw = np.stack(
            [metadata.get(n, np.full(len(any_column), np.nan)) for n in self.names], axis=1
        )
        scaled = self.transform(raw)
        return {**metadata, **{n: scaled[:, i] for i, n in enumerate(self.names)}}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fitted state: names, quantiles (per feature) and their normal references."""
        check_is_fitted(self, "transformer_")
        return {
            "names": list(self.names),
            "n_quantiles": self.n_quantiles,
            "quantiles": self.transformer_.quantiles_.T.tolist(),
            "references": self.transformer_.references_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> MetadataScaler:
        """Rebuild a fitted scaler from :meth:`to_dict` output."""
        scaler = cls(tuple(state["names"]), n_quantiles=int(state["n_quantiles"]))
        quantiles = np.asarray(state["quantiles"], dtype=np.float64).T  # (n_quantiles, M)
        references = np.asarray(state["references"], dtype=np.float64)
        if quantiles.shape != (len(references), len(scaler.names)):
            msg = (
                f"scaler state has quantiles of shape {quantiles.shape[::-1]} but "
                f"{len(scaler.names)} names and {len(references)} references"
            )
            raise InvalidValueError(msg)
        transformer = QuantileTransformer(
            n_quantiles=len(references), output_distribution="normal", subsample=None
        )
        # the fitted attributes sklearn's transform reads
        transformer.quantiles_ = quantiles
        transformer.references_ = references
        transformer.n_quantiles_ = len(references)
        transformer.n_features_in_ = len(scaler.names)
        scaler.transformer_ = transformer
        return scaler
