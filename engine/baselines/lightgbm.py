"""LightGBM on hand-crafted features: the classical classification baseline on the fixed split.

Training uses the folds other than the evaluation fold. The number of boosting rounds is the
only setting chosen from data, by early stopping on an *inner* split (one training fold held
out); the model is then refitted on all training folds with that many rounds and scored once on
the evaluation fold. Objects are weighted by the inverse frequency of their class, because
PLAsTiCC is very unbalanced (30 Mira against 2,313 SNIa) and the scores are macro averages.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm
import numpy as np
import polars as pl
from sklearn.utils.class_weight import compute_sample_weight

from engine.baselines.features import extract_features, metadata_features
from engine.baselines.split import load_split
from engine.data.packed import PackedLightCurves
from engine.data.plasticc import EVAL_FOLD
from engine.errors import InvalidValueError
from engine.evaluation.metrics import classification_report


@dataclass(frozen=True)
class LightGBMSettings:
    """Fixed hyperparameters of the baseline (not tuned on the evaluation fold).

    Moderate trees with feature and row subsampling, the usual choice for a few thousand objects
    and ~200 features; ``max_rounds`` is only an upper bound for early stopping.
    """

    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 10
    feature_fraction: float = 0.5
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 50
    seed: int = 0
    n_jobs: int = 2

    def params(self, n_classes: int) -> dict:
        """LightGBM parameters of a deterministic multiclass model with these settings."""
        return {
            "objective": "multiclass",
            "num_class": n_classes,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }


def design_matrix(
    packed: PackedLightCurves, *, use_metadata: bool, n_jobs: int = 2
) -> pl.DataFrame:
    """Light-curve features of every object, with the model metadata columns if asked."""
    features = extract_features(packed, n_jobs=n_jobs)
    if use_metadata:
        features = features.join(metadata_features(packed), on="object_id", maintain_order="left")
    return features


def evaluate_lightgbm(
    features: pl.DataFrame,
    labels: np.ndarray,
    folds: np.ndarray,
    *,
    eval_fold: int = EVAL_FOLD,
    settings: LightGBMSettings | None = None,
) -> dict:
    """Train on every fold but ``eval_fold``, score on ``eval_fold``.

    Parameters
    ----------
    features : ``object_id`` then numeric feature columns, one row per object
    labels : (N,) class names
    folds : (N,) fold of each object; the lowest training fold is the inner early-stopping split
    eval_fold : the held-out fold
    settings : hyperparameters (default :class:`LightGBMSettings`)

    Returns
    -------
    dict: the :func:`~engine.evaluation.metrics.classification_report` of the evaluation fold
    plus ``n_features``, ``n_train``, ``n_rounds``, ``fit_time_s``, ``top_features_by_gain``
    (the 15 most useful features) and ``settings``
    """
    settings = settings or LightGBMSettings()
    labels, folds = np.asarray(labels).astype(str), np.asarray(folds)
    train, test = folds != eval_fold, folds == eval_fold
    if not test.any() or len(np.unique(folds[train])) < 2:
        msg = (
            f"eval_fold={eval_fold} needs objects in it and at least two other folds "
            f"(one for early stopping); folds present: {sorted(np.unique(folds).tolist())}"
        )
        raise InvalidValueError(msg)
    class_names = sorted(np.unique(labels).tolist())
    x = features.drop("object_id")
    names = x.columns
    x = x.to_numpy().astype(np.float32)
    y = np.searchsorted(class_names, labels)

    params = settings.params(len(class_names))

    def dataset(rows: np.ndarray) -> lightgbm.Dataset:
        weight = compute_sample_weight("balanced", y[rows])
        return lightgbm.Dataset(x[rows], y[rows], weight=weight, feature_name=names)

    started = time.perf_counter()
    inner_val = train & (folds == folds[train].min())
    probe = lightgbm.train(
        params,
        dataset(train & ~inner_val),
        num_boost_round=settings.max_rounds,
        valid_sets=[dataset(inner_val)],
        callbacks=[lightgbm.early_stopping(settings.early_stopping_rounds, verbose=False)],
    )
    n_rounds = max(probe.best_iteration, 1)
    model = lightgbm.train(params, dataset(train), num_boost_round=n_rounds)
    fit_time = time.perf_counter() - started

    predicted = model.predict(x[test]).argmax(axis=1)  # (N_test, C) probabilities -> codes
    report = classification_report(y[test], predicted, class_names)
    importance = model.feature_importance(importance_type="gain")
    top = np.argsort(importance)[::-1][:15]
    return {
        **report,
        "n_features": len(names),
        "n_train": int(train.sum()),
        "n_rounds": n_rounds,
        "fit_time_s": round(fit_time, 2),
        "top_features_by_gain": [names[i] for i in top],
        "settings": asdict(settings),
    }


def run_lightgbm_baseline(
    table_path: str | Path,
    folds_path: str | Path,
    *,
    use_metadata: bool,
    eval_fold: int = EVAL_FOLD,
    settings: LightGBMSettings | None = None,
) -> dict:
    """Extract features from ``table_path``, train LightGBM on the fixed split, score ``eval_fold``.

    ``use_metadata=False`` gives the light-curve-only model, the fair comparison for models
    that see no metadata. Returns the dict of :func:`evaluate_lightgbm` plus ``use_metadata``
    and ``feature_time_s``.
    """
    settings = settings or LightGBMSettings()
    packed, folds = load_split(table_path, folds_path)
    started = time.perf_counter()
    features = design_matrix(packed, use_metadata=use_metadata, n_jobs=settings.n_jobs)
    feature_time = time.perf_counter() - started
    result = evaluate_lightgbm(
        features, packed.label, folds, eval_fold=eval_fold, settings=settings
    )
    return {"use_metadata": use_metadata, "feature_time_s": round(feature_time, 2), **result}
