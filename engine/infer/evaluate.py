"""Evaluate a model on a labelled table: the numbers ``catscope evaluate`` writes and the app shows.

Classification at the last point (macro F1 and the class-balanced macro F1 of ATCAT section
2.3.1, per-class scores, confusion matrix), calibration before and after temperature scaling
(ECE, reliability bins), early detection (macro F1 vs points seen and vs days since the first
point) and the next-point negative log-likelihood in FLUXCAL units.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

from engine.baselines.gp import next_point_positions
from engine.baselines.split import load_split
from engine.data.packed import PackedLightCurves
from engine.data.schema import read_table
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


def nll_at_gp_positions(
    predictor: Predictor,
    table_path: Path,
    folds_path: Path,
    *,
    fold: int = 0,
    per_class: int = 16,
    max_positions: int = 20,
    seed: int = 0,
) -> dict:
    """Next-point NLL on exactly the objects and points the GP baseline is scored on.

    Uses :func:`engine.baselines.gp.next_point_positions` with the GP baseline's defaults, so
    the two numbers are comparable point by point (FLUXCAL units, natural log). Positions lie
    within the model's first ``max_points`` points (256 for the shipped models, as in the GP
    run), so the model sees exactly the points before each target.
    """
    packed, folds = load_split(table_path, folds_path)
    packed = packed.subset(np.flatnonzero(folds == fold))
    positions = next_point_positions(
        packed,
        per_class=per_class,
        max_positions=max_positions,
        seed=seed,
        max_points=predictor.max_points,
    )
    chosen = np.array(sorted(positions))
    ids = pl.DataFrame({"object_id": packed.object_id[chosen]})
    table = read_table(table_path).join(ids, on="object_id", how="semi", maintain_order="right")
    table = ids.join(table, on="object_id", how="left")  # the order of ``chosen``
    log_prob = predictor.next_point_log_prob(table)
    # row i of an object predicts point i + 1, so point k is scored by row k - 1
    nll = [
        -log_prob.probabilities[log_prob.offsets[row] + positions[k] - 1, 0]
        for row, k in enumerate(chosen)
    ]
    summary = nll_summary(nll, y_true=packed.label[chosen], class_names=predictor.classes)
    return summary | {"positions": "engine.baselines.gp.next_point_positions", "fold": fold}


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
    scaler = predictor.calibration or TemperatureScaler().fit(logits, y)
    predicted = scaler.transform(logits)[:, : len(classes)].argmax(axis=1)
    calibration = calibration_report(logits, y, scaler, n_bins=n_bins)
    calibration["fitted_on"] = (
        "held-out part of the training folds"
        if predictor.calibration
        else "this data (no stored calibration)"
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
