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
from engine.training.data import load_data
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


def training_class_prior(model_dir: Path, classes: list[str]) -> np.ndarray | None:
    """Class frequencies (C,) of the objects the run trained on, in ``classes`` order.

    Each class counts at least once, so a class the run never saw gets a small, finite prior.
    None for a model that does not record its training run.
    """
    stored = read_run_config(model_dir)
    if stored is None:
        return None
    labels = load_data(TrainConfig.from_dict(stored)).train.labels
    return np.maximum(np.bincount(labels, minlength=len(classes)), 1).astype(np.float64)


def validation_table(model_dir: Path) -> pl.DataFrame:
    """Read the held-out validation objects of the run that trained ``model_dir``'s model."""
    config = _run_config(model_dir)
    ids = pl.DataFrame({"object_id": load_data(config).validation.curves.object_id})
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
    ``class_prior`` the weight of the training class prior is fitted too
    (:func:`training_class_prior`; :mod:`engine.evaluation.calibration`). Writes
    ``calibration.json`` into the model directory and returns the calibration report (NLL and
    ECE before and after) on the fitting objects.
    """
    model_dir = Path(model_dir)
    if surveys is None:
        surveys = trained_surveys(model_dir) if table is None else ()
    table = validation_table(model_dir) if table is None else table
    if surveys:
        table = pl.concat([table, survey_copies(surveys)(table)], how="diagonal_relaxed")
    predictor = load_predictor(model_dir)
    y = encode_labels(table["label"].to_numpy(), predictor.classes)
    logits = predictor.last_logits(table)
    prior = training_class_prior(model_dir, predictor.classes) if class_prior else None
    scaler = TemperatureScaler(prior_weight_by="macro_f1").fit(logits, y, class_prior=prior)
    report = calibration_report(logits, y, scaler)
    write_calibration(model_dir, scaler.to_dict(), n_objects=table.height, surveys=surveys)
    return report
