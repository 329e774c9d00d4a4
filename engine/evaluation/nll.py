"""Summaries of next-point negative log-likelihoods from a generative light-curve model.

Long light curves hold most of the points, so a plain mean over points mostly describes them;
``mean_per_object`` averages each object's mean instead, as ATCAT averages its per-point loss
over each sequence first (section 2.6). Points without a prediction (such as each object's
first point) are passed as NaN and skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from engine.errors import InvalidValueError
from engine.evaluation._checks import check_same_length, encode_labels, json_float
from engine.evaluation.ragged import to_flat


def _statistics(values: np.ndarray, object_means: np.ndarray) -> dict:
    """Count, mean and median of scored points and the mean of per-object means."""
    return {
        "n_points": len(values),
        "n_objects": len(object_means),
        "mean": json_float(values.mean()) if len(values) else None,
        "median": json_float(np.median(values)) if len(values) else None,
        "mean_per_object": json_float(object_means.mean()) if len(object_means) else None,
    }


def nll_summary(
    nll: Sequence[ArrayLike] | ArrayLike,
    *,
    offsets: ArrayLike | None = None,
    y_true: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
) -> dict:
    """Mean, median and per-object mean NLL, overall and per true class.

    Parameters
    ----------
    nll : per-point NLLs (NaN where a point has no prediction): a list of N arrays, or a flat
        (P,) array with ``offsets``
    offsets : (N + 1,) object boundaries when ``nll`` is flat
    y_true : (N,) true classes (names or codes) to add a per-class breakdown; needs class_names
    class_names : the C classes, in code order

    Returns
    -------
    dict, JSON-serialisable: ``n_points``, ``n_objects`` (objects with a scored point),
    ``mean``, ``median``, ``mean_per_object``; with labels also ``per_class``, one record per
    class with ``class`` and the same fields
    """
    if (y_true is None) != (class_names is None):
        msg = "pass both y_true and class_names for a per-class breakdown, or neither"
        raise InvalidValueError(msg)
    values, offsets = to_flat(nll, offsets, name="nll")
    values = np.asarray(values, dtype=np.float64)
    if np.isinf(values).any():
        msg = "nll must be finite, or NaN for points without a prediction; got infinite values"
        raise InvalidValueError(msg)
    n_objects = len(offsets) - 1
    scored = ~np.isnan(values)
    scored_values = values[scored]
    # object index of every scored point, for per-object sums without a Python loop
    owner = np.repeat(np.arange(n_objects), np.diff(offsets))[scored]
    counts = np.bincount(owner, minlength=n_objects)
    with np.errstate(invalid="ignore", divide="ignore"):
        object_means = np.bincount(owner, weights=scored_values, minlength=n_objects) / counts
    has_points = counts > 0
    summary = _statistics(scored_values, object_means[has_points])

    if y_true is not None:
        codes = encode_labels(y_true, class_names, name="y_true")
        check_same_length(y_true=codes, objects=offsets[1:])
        summary["per_class"] = [
            {
                "class": name,
                **_statistics(
                    scored_values[codes[owner] == k], object_means[has_points & (codes == k)]
                ),
            }
            for k, name in enumerate(class_names)
        ]
    return summary
