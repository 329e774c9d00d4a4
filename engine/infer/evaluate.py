"""Evaluate a model on a labelled table: the numbers ``catscope evaluate`` writes and the app shows.

Classification at the last point (macro F1 and the class-balanced macro F1 of ATCAT section
2.3.1, per-class scores, confusion matrix), calibration before and after temperature scaling
(ECE, reliability bins), early detection (macro F1 vs points seen and vs days since the first
point) and the next-point negative log-likelihood in FLUXCAL units.
"""

from __future__ import annotations

import time

import polars as pl

from engine.data.packed import PackedLightCurves
from engine.errors import InputError
from engine.evaluation import (
    TemperatureScaler,
    calibration_report,
    classification_report,
    early_detection_report,
    encode_labels,
    nll_summary,
)
from engine.infer.predictor import Predictor


def _labelled(table: pl.DataFrame, classes: list[str]) -> pl.DataFrame:
    if "label" not in table.columns:
        msg = "evaluation needs a 'label' column with the true class of every object"
        raise InputError(msg)
    unknown = set(table["label"].drop_nulls().unique().to_list()) - set(classes)
    if unknown:
        msg = f"labels {sorted(unknown)} are not classes of this model ({', '.join(classes)})"
        raise InputError(msg)
    return table.filter(pl.col("label").is_not_null())


def next_point_nll(predictor: Predictor, table: pl.DataFrame) -> dict:
    """Next-point NLL summary over every point that has a predecessor, per object and class."""
    log_prob = predictor.next_point_log_prob(table)  # NaN on each object's last point
    return nll_summary(
        -log_prob.probabilities[:, 0],
        offsets=log_prob.offsets,
        y_true=table["label"].to_numpy() if "label" in table.columns else None,
        class_names=predictor.classes,
    )


def evaluate_predictor(
    predictor: Predictor,
    table: pl.DataFrame,
    *,
    n_bins: int = 15,
) -> dict:
    """Every evaluation figure of ``predictor`` on the labelled ``table`` (JSON-ready)."""
    started = time.perf_counter()
    classes = predictor.classes
    table = _labelled(table, classes)
    y = encode_labels(table["label"].to_numpy(), classes)
    logits = predictor.last_logits(table)
    predicted = logits[:, : len(classes)].argmax(axis=1)
    scaler = predictor.calibration or TemperatureScaler().fit(logits, y)
    calibration = calibration_report(logits, y, scaler, n_bins=n_bins)
    calibration["fitted_on"] = (
        "held-out part of the training folds" if predictor.calibration else "this data (no stored calibration)"
    )
    points = predictor.predict_points(table)
    early = early_detection_report(
        points.probabilities[:, : len(classes)].argmax(axis=1),
        y,
        points.time,
        classes,
        offsets=points.offsets,
    )
    packed = PackedLightCurves.from_frame(table)
    return {
        "model": predictor.info.name,
        "n_objects": table.height,
        "n_points": int(packed.offsets[-1]),
        "classification": classification_report(y, predicted, classes),
        "calibration": calibration,
        "early_detection": early,
        "next_point_nll": next_point_nll(predictor, table),
        "seconds": time.perf_counter() - started,
    }
