"""Early-detection curves: how macro F1 grows as a light curve is observed (ATCAT section 3.3).

A causal classifier gives one predicted class after every point of a light curve. The curves
read, for each object, the prediction made after its first ``n`` points, or after its last point
within ``d`` days of its first point, and score those predictions against the true labels.

An object with fewer than ``n`` points (or spanning less than ``d`` days) contributes its last
prediction: in a survey, that is the best classification available for it at that stage. Each
checkpoint therefore also reports ``fraction_reached``, the share of objects that truly have
``n`` points (or ``d`` days) by then, so a flat tail of the curve can be read correctly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from engine.errors import InvalidValueError
from engine.evaluation._checks import check_same_length, encode_labels, json_float
from engine.evaluation.metrics import macro_f1_scores
from engine.evaluation.ragged import to_flat

DEFAULT_POINT_CHECKPOINTS: tuple[int, ...] = (1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 100)
DEFAULT_DAY_CHECKPOINTS: tuple[float, ...] = (0, 1, 3, 10, 30, 100, 300, 1000)


def _check_checkpoints(values: Sequence[float], *, name: str, minimum: float) -> np.ndarray:
    """Strictly increasing, finite checkpoints, all at least ``minimum``."""
    array = np.asarray(values, dtype=np.float64)
    valid = (
        array.ndim == 1
        and array.size > 0
        and np.isfinite(array).all()
        and array[0] >= minimum
        and (np.diff(array) > 0).all()
    )
    if not valid:
        msg = f"{name} must be a strictly increasing list of numbers >= {minimum}; got {values!r}"
        raise InvalidValueError(msg)
    return array


def _check_lengths(offsets: np.ndarray) -> np.ndarray:
    """Per-object lengths (N,), every object having at least one point."""
    lengths = np.diff(offsets)
    if (lengths == 0).any():
        empty = np.flatnonzero(lengths == 0)[:5].tolist()
        msg = f"every object needs at least one per-point prediction; objects {empty} have none"
        raise InvalidValueError(msg)
    return lengths


def predictions_after_points(
    predictions: np.ndarray, offsets: np.ndarray, n_points: Sequence[int]
) -> np.ndarray:
    """Prediction after each object's first ``n`` points, for every ``n``: (K, N).

    Parameters
    ----------
    predictions : (P,) per-point predictions, flat
    offsets : (N + 1,) object ``k`` owns ``predictions[offsets[k]:offsets[k + 1]]``
    n_points : K positive checkpoints; shorter objects give their last prediction
    """
    checkpoints = _check_checkpoints(n_points, name="n_points", minimum=1)
    if not np.array_equal(checkpoints, np.round(checkpoints)):
        msg = f"n_points must be whole numbers; got {n_points!r}"
        raise InvalidValueError(msg)
    lengths = _check_lengths(offsets)
    # (K, 1) against (1, N) -> (K, N) number of points seen, capped at each object's length
    seen = np.minimum(checkpoints.astype(np.int64)[:, None], lengths[None, :])
    return predictions[offsets[:-1][None, :] + seen - 1]


def _relative_times(times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Days since each object's first point, (P,); checks finite, time-ordered points."""
    lengths = _check_lengths(offsets)
    if not np.isfinite(times).all():
        msg = "times must be finite"
        raise InvalidValueError(msg)
    relative = times - np.repeat(times[offsets[:-1]], lengths)
    steps = np.diff(relative)
    within_object = np.ones(len(steps), dtype=bool)
    within_object[offsets[1:-1] - 1] = False  # the step from one object's last point to the next
    if (steps[within_object] < 0).any():
        msg = "times must be non-decreasing within each object (points in time order)"
        raise InvalidValueError(msg)
    return relative


def predictions_after_days(
    predictions: np.ndarray, offsets: np.ndarray, times: np.ndarray, days: Sequence[float]
) -> np.ndarray:
    """Prediction after each object's last point within ``d`` days of its first, per ``d``: (K, N).

    Parameters
    ----------
    predictions : (P,) per-point predictions, flat
    offsets : (N + 1,) object ``k`` owns ``predictions[offsets[k]:offsets[k + 1]]``
    times : (P,) point times in days (MJD or already relative), time-ordered within objects
    days : K non-negative checkpoints
    """
    checkpoints = _check_checkpoints(days, name="days", minimum=0)
    relative = _relative_times(times, offsets)
    # one pass over the points per checkpoint: count each object's points within d days
    seen = np.stack(
        [np.add.reduceat((relative <= d).astype(np.int64), offsets[:-1]) for d in checkpoints]
    )  # (K, N), >= 1 because each object's first point is at 0 days
    return predictions[offsets[:-1][None, :] + seen - 1]


def _curve(y_true: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """Macro and class-balanced macro F1 for each row of (K, N) predictions."""
    scores = [macro_f1_scores(y_true, row, n_classes) for row in predicted]
    return {
        "macro_f1": [json_float(score.macro) for score in scores],
        "class_balanced_macro_f1": [json_float(score.class_balanced) for score in scores],
    }


def early_detection_report(
    predictions: Sequence[ArrayLike] | ArrayLike,
    y_true: ArrayLike,
    times: Sequence[ArrayLike] | ArrayLike,
    class_names: Sequence[str],
    *,
    offsets: ArrayLike | None = None,
    n_points: Sequence[int] = DEFAULT_POINT_CHECKPOINTS,
    days: Sequence[float] = DEFAULT_DAY_CHECKPOINTS,
) -> dict:
    """Macro F1 against number of points seen and against days since the first point.

    Parameters
    ----------
    predictions : per-point predicted classes (names or codes): a list of N arrays, or one flat
        (P,) array with ``offsets``
    y_true : (N,) true classes (names or codes)
    times : per-point times in days, laid out like ``predictions``; only differences from each
        object's first point are used
    class_names : the C classes, in code order
    offsets : (N + 1,) object boundaries when ``predictions`` and ``times`` are flat
    n_points, days : checkpoints of the two curves

    Returns
    -------
    dict, JSON-serialisable: ``class_names``, ``n_objects``; ``by_points`` with ``n_points``,
    ``macro_f1``, ``class_balanced_macro_f1``, ``fraction_reached`` (share of objects with at
    least that many points); ``by_days`` likewise with ``days`` (share spanning at least that
    many days); ``final``, the scores of each object's last prediction
    """
    predictions, offsets_p = to_flat(predictions, offsets, name="predictions")
    times, offsets_t = to_flat(times, offsets, name="times")
    if not np.array_equal(offsets_p, offsets_t):
        msg = "predictions and times must have the same number of points for every object"
        raise InvalidValueError(msg)
    codes = encode_labels(predictions, class_names, name="predictions")
    y_true = encode_labels(y_true, class_names, name="y_true")
    check_same_length(y_true=y_true, objects=offsets_p[1:])
    n_classes = len(class_names)

    times = np.asarray(times, dtype=np.float64)
    lengths = _check_lengths(offsets_p)
    relative = _relative_times(times, offsets_p)
    span = relative[offsets_p[1:] - 1]
    point_checkpoints = _check_checkpoints(n_points, name="n_points", minimum=1)
    day_checkpoints = _check_checkpoints(days, name="days", minimum=0)
    final = macro_f1_scores(y_true, codes[offsets_p[1:] - 1], n_classes)
    return {
        "class_names": list(class_names),
        "n_objects": len(y_true),
        "by_points": {
            "n_points": [int(n) for n in point_checkpoints],
            **_curve(y_true, predictions_after_points(codes, offsets_p, n_points), n_classes),
            "fraction_reached": (lengths[None, :] >= point_checkpoints[:, None])
            .mean(axis=1)
            .tolist(),
        },
        "by_days": {
            "days": day_checkpoints.tolist(),
            **_curve(y_true, predictions_after_days(codes, offsets_p, times, days), n_classes),
            "fraction_reached": (span[None, :] >= day_checkpoints[:, None]).mean(axis=1).tolist(),
        },
        "final": {
            "macro_f1": json_float(final.macro),
            "class_balanced_macro_f1": json_float(final.class_balanced),
        },
    }
