"""Linear and k-NN probes: how much class information a set of embeddings holds.

Both read frozen embeddings as plain arrays (train rows, their labels, test rows, their labels):

* linear probe: scikit-learn ``LogisticRegression`` on standardised embeddings, scored by
  macro F1 (:func:`engine.evaluation.metrics.macro_f1_scores`);
* k-NN: the majority class of the ``k`` nearest training rows by cosine distance, scored by
  accuracy.

:mod:`engine.infer.embedding_benchmark` runs them on every model's embeddings of fold 0.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from engine.errors import InputError
from engine.evaluation.metrics import macro_f1_scores


def _check_probe_inputs(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> None:
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        msg = (
            f"embeddings must be 2-D with one width, got train {train_x.shape} "
            f"and test {test_x.shape}"
        )
        raise InputError(msg)
    if len(train_x) != len(train_y) or len(np.unique(train_y)) < 2:
        msg = (
            f"the probe needs one label per training row and at least 2 classes, got "
            f"{len(train_x)} rows, {len(train_y)} labels, {len(np.unique(train_y))} classes"
        )
        raise InputError(msg)


def linear_probe_f1(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    seed: int = 0,
) -> float:
    """Macro F1 on the test rows of a logistic regression fitted on standardised train rows.

    Labels may be any hashable values; classes absent from training can never be predicted
    and count as misses.
    """
    _check_probe_inputs(train_x, train_y, test_x)
    classes, codes = np.unique(np.concatenate([train_y, test_y]), return_inverse=True)
    train_codes, test_codes = codes[: len(train_y)], codes[len(train_y) :]
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    probe.fit(train_x, train_codes)
    return float(macro_f1_scores(test_codes, probe.predict(test_x), len(classes)).macro)


def knn_accuracy(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    k: int = 10,
) -> float:
    """Accuracy on the test rows of a ``k``-nearest-neighbour vote by cosine distance."""
    _check_probe_inputs(train_x, train_y, test_x)
    if not 1 <= k <= len(train_x):
        msg = f"k must be between 1 and the {len(train_x)} training rows, got {k}"
        raise InputError(msg)
    vote = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    vote.fit(train_x, train_y)
    return float(np.mean(vote.predict(test_x) == test_y))
