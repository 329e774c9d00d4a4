"""Fit and store a model's calibration (temperature, class prior) on objects it was not trained on.

The default calibration set is the validation part of the model's own training folds (the
objects that picked the checkpoint; never fold 0, which stays the untouched evaluation fold), so
``catscope evaluate`` on fold 0 reports an honest before/after ECE. A model trained with survey
augmentation is calibrated on those objects plus each of them observed by one of its survey
profiles (:func:`engine.training.surveys.survey_copies`): the mixture it was trained for, so
that its confidence means the same on a two-band alert curve as on an LSST one. The class
prior is that of the run's training objects, with the weight whose predictions have the best
macro F1 on these objects, so a class-balanced model calls a sparse curve by how common its
class is when the curve cannot tell, without giving up its rare classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from engine.data.schema import read_table
from engine.errors import ModelNotFoundError
from engine.evaluation import TemperatureScaler, calibration_report, encode_labels
from engine.infer.predictor import load_predictor
from engine.models.checkpoint import TRAINING_FILE, read_run_config, write_calibration
from engine.training.config import TrainConfig
from engine.training.data import TrainingData, load_data
from engine.training.surveys import survey_copies


def _run_config(model_dir: Path) -> TrainConfig:
    stored = read_run_config(model_dir)
    if stored is None:
        msg = f"no training run config at {model_dir}: {TRAINING_FILE} is missing or holds none"
        raise ModelNotFoundError(msg)
    return TrainConfig.from_dict(stored)


def trained_surveys(model_dir: Path) -> tuple[str, ...]:
    """Survey profiles the model's run observed its training objects with (empty: none)."""
    augment = _run_config(model_dir).augment
    return augment.survey_profiles if augment.survey_rate > 0 else ()


def training_class_prior(data: TrainingData) -> np.ndarray:
    """Class frequencies (C,) of the objects a run trained on, in its class order.

    Each class counts at least once, so a class the run never saw gets a small, finite prior.
    """
    counts = np.bincount(data.train.labels, minlength=len(data.class_names))
    return np.maximum(counts, 1).astype(np.float64)


def validation_table(config: TrainConfig, data: TrainingData) -> pl.DataFrame:
    """Read the held-out validation objects of the run of ``config`` (its ``data``)."""
    ids = pl.DataFrame({"object_id": data.validation.curves.object_id})
    return read_table(config.data.path).join(ids, on="object_id", how="semi")


def calibrate_model(
    model_dir: str | Path,
    table: pl.DataFrame | None = None,
    *,
    surveys: tuple[str, ...] | None = None,
    class_prior: bool = True,
) -> dict:
    """Fit temperature scaling on ``table`` (default: :func:`validation_table`) and store it.

    ``surveys`` (default: :func:`trained_surveys` when ``table`` is not given, else none) adds
    each object observed once more by one of those profiles (module docstring). With
    ``class_prior`` the weight of the training class prior is fitted too, for a model that
    records its training run (:func:`training_class_prior`;
    :mod:`engine.evaluation.calibration`). Writes
    ``calibration.json`` into the model directory and returns the calibration report (NLL and
    ECE before and after) on the fitting objects.
    """
    model_dir = Path(model_dir)
    if surveys is None:
        surveys = trained_surveys(model_dir) if table is None else ()
    # the run's data, read once: the default fitting objects and the class prior both need it
    if table is None:
        config = _run_config(model_dir)
    else:
        stored = read_run_config(model_dir) if class_prior else None
        config = None if stored is None else TrainConfig.from_dict(stored)
    data = None if config is None else load_data(config)
    table = validation_table(config, data) if table is None else table
    if surveys:
        table = pl.concat([table, survey_copies(surveys)(table)], how="diagonal_relaxed")
    predictor = load_predictor(model_dir)
    y = encode_labels(table["label"].to_numpy(), predictor.classes)
    logits = predictor.last_logits(table)
    prior = training_class_prior(data) if class_prior and data is not None else None
    scaler = TemperatureScaler(prior_weight_by="macro_f1").fit(logits, y, class_prior=prior)
    report = calibration_report(logits, y, scaler)
    write_calibration(model_dir, scaler.to_dict(), n_objects=table.height, surveys=surveys)
    return report
