"""Scores of one classifier on one degraded data set: what the robustness benchmark reports.

Works on plain arrays (true classes, calibrated class probabilities, an optional in-domain
flag), so the same summary serves any model and any degradation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import recall_score

from engine.evaluation._checks import check_same_length, encode_labels, json_float
from engine.evaluation.calibration import expected_calibration_error
from engine.evaluation.metrics import macro_f1_scores


def _accuracy(correct: np.ndarray) -> float | None:
    return json_float(correct.mean()) if correct.size else None


def robustness_summary(
    labels: ArrayLike,
    probabilities: ArrayLike,
    class_names: Sequence[str],
    *,
    in_domain: ArrayLike | None = None,
) -> dict:
    """Macro F1, accuracy, per-class recall, ECE and mean confidence of one prediction set.

    Parameters
    ----------
    labels : (N,) true class names, each one of ``class_names``
    probabilities : (N, C) calibrated class probabilities (without the unsure share)
    class_names : the C class names, in the column order of ``probabilities``
    in_domain : (N,) bool, the model's own in-domain flag; adds the share flagged out of
        domain and the accuracy of each side, which tells whether the flag separates right
        answers from wrong ones

    Returns
    -------
    ``n_objects, macro_f1, accuracy, ece, mean_confidence``, ``recall`` (class -> recall, ``None``
    for a class with no object) and, with ``in_domain``, ``share_out_of_domain``,
    ``accuracy_in_domain`` and ``accuracy_out_of_domain`` (``None`` when a side is empty).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y = encode_labels(labels, class_names, name="labels")
    check_same_length(labels=y, probabilities=probabilities)
    predicted = probabilities.argmax(axis=1)
    correct = predicted == y
    recalls = recall_score(
        y, predicted, labels=np.arange(len(class_names)), average=None, zero_division=np.nan
    )
    present = np.bincount(y, minlength=len(class_names)) > 0
    summary = {
        "n_objects": int(len(y)),
        "macro_f1": macro_f1_scores(y, predicted, len(class_names)).macro,
        "accuracy": _accuracy(correct),
        "ece": expected_calibration_error(probabilities, y),
        "mean_confidence": json_float(probabilities.max(axis=1).mean()),
        "recall": {
            c: json_float(r) if ok else None
            for c, r, ok in zip(class_names, recalls, present, strict=True)
        },
    }
    if in_domain is not None:
        inside = np.asarray(in_domain, dtype=bool)
        check_same_length(labels=y, in_domain=inside)
        summary |= {
            "share_out_of_domain": json_float((~inside).mean()),
            "accuracy_in_domain": _accuracy(correct[inside]),
            "accuracy_out_of_domain": _accuracy(correct[~inside]),
        }
    return summary
