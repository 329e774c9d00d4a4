"""Classification scores: macro F1, the ATCAT class-balanced macro F1 and the confusion matrix.

Class-balanced scores (ATCAT section 2.3.1) weight every object by the inverse frequency of its
true class, so each class contributes the same total weight. The weighted confusion matrix is
then the row-normalised one (rows = true class), and precision no longer depends on how many
objects of the *other* classes the evaluation set happens to hold: the score is, in
expectation, the same on splits with different class mixes. Recall is unchanged by the
weighting (each row is scaled as a whole), so only precision and F1 are reported twice.

Macro averages follow scikit-learn: a class that is neither true nor predicted for any object
has undefined scores, reported as ``None`` and left out of the average; a class that is
predicted but never true has F1 = 0 and counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from engine.evaluation._checks import (
    check_codes,
    check_same_length,
    encode_labels,
    json_float,
    json_floats,
)


class MacroF1(NamedTuple):
    """Macro F1 (plain counts) and class-balanced macro F1 of one set of predictions."""

    macro: float
    class_balanced: float


def inverse_frequency_weights(y_true: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-object weight ``1 / (number of objects of its true class)``, (N,) float64."""
    counts = np.bincount(y_true, minlength=n_classes)
    return 1.0 / counts[y_true]


def _scores(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, *, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 (NaN where undefined) and support, each (C,)."""
    return precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=np.arange(n_classes),
        sample_weight=weights,
        zero_division=np.nan,
    )


def _macro(f1: np.ndarray) -> float:
    """Mean of the defined per-class F1 values (NaN if none is defined)."""
    defined = f1[~np.isnan(f1)]
    return float(defined.mean()) if defined.size else float("nan")


def macro_f1_scores(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> MacroF1:
    """Macro F1 and class-balanced macro F1 of integer class codes.

    Parameters
    ----------
    y_true, y_pred : (N,) integer codes in ``[0, n_classes)``
    n_classes : number of classes C

    Returns
    -------
    MacroF1 with both averages (NaN only if no class is defined)
    """
    y_true = check_codes(y_true, n_classes, name="y_true")
    y_pred = check_codes(y_pred, n_classes, name="y_pred")
    check_same_length(y_true=y_true, y_pred=y_pred)
    weights = inverse_frequency_weights(y_true, n_classes)
    return MacroF1(
        macro=_macro(_scores(y_true, y_pred, n_classes, weights=None)[2]),
        class_balanced=_macro(_scores(y_true, y_pred, n_classes, weights=weights)[2]),
    )


def classification_report(y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[str]) -> dict:
    """Accuracy, macro and class-balanced macro F1, per-class scores and confusion matrices.

    Parameters
    ----------
    y_true, y_pred : (N,) class names, or integer codes into ``class_names``
    class_names : the C classes, in the order used for codes, per-class rows and matrix axes

    Returns
    -------
    dict, JSON-serialisable (``None`` marks undefined values):

    - ``class_names``, ``n_objects``
    - ``accuracy``; ``balanced_accuracy`` (mean recall over the classes present)
    - ``macro_f1``; ``class_balanced_macro_f1`` (ATCAT section 2.3.1)
    - ``per_class``: one record per class with ``class``, ``support``, ``precision``,
      ``recall``, ``f1``, ``class_balanced_precision``, ``class_balanced_f1``
    - ``confusion_matrix``: ``counts`` and ``row_normalised`` (C × C, rows = true class,
      columns = predicted class; a class with no objects has a row of zeros)
    """
    y_true = encode_labels(y_true, class_names, name="y_true")
    y_pred = encode_labels(y_pred, class_names, name="y_pred")
    check_same_length(y_true=y_true, y_pred=y_pred)
    names = list(class_names)
    n_classes = len(names)

    precision, recall, f1, support = _scores(y_true, y_pred, n_classes, weights=None)
    weights = inverse_frequency_weights(y_true, n_classes)
    cb_precision, _, cb_f1, _ = _scores(y_true, y_pred, n_classes, weights=weights)

    counts = confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))
    row_sums = counts.sum(axis=1, keepdims=True)
    row_normalised = counts / np.maximum(row_sums, 1)

    per_class = [
        {
            "class": name,
            "support": int(support[k]),
            "precision": json_float(precision[k]),
            "recall": json_float(recall[k]),
            "f1": json_float(f1[k]),
            "class_balanced_precision": json_float(cb_precision[k]),
            "class_balanced_f1": json_float(cb_f1[k]),
        }
        for k, name in enumerate(names)
    ]
    return {
        "class_names": names,
        "n_objects": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(recall[support > 0].mean()),
        "macro_f1": json_float(_macro(f1)),
        "class_balanced_macro_f1": json_float(_macro(cb_f1)),
        "per_class": per_class,
        "confusion_matrix": {
            "counts": counts.tolist(),
            "row_normalised": json_floats(row_normalised),
        },
    }
