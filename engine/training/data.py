"""Training data of a run: read the canonical table, split it by folds, fit the metadata scaler.

Fold 0 is the evaluation fold and is never read here. The training folds are split once more,
stratified by class, into the objects trained on and a small validation set used only to pick
the checkpoint. The class list is every label of the whole table in sorted order, so it does not
depend on which folds a run uses.

The splits keep the *raw* metadata, because augmentations such as the redshift of
:mod:`engine.training.distance` act on physical values; the fitted :class:`MetadataScaler` is
applied after augmentation (:func:`engine.training.augment.augment`), and
:attr:`Split.model_curves` gives the scaled curves a model reads without augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import polars as pl
from sklearn.model_selection import train_test_split

from engine.data.folds import read_folds
from engine.data.packed import PackedLightCurves
from engine.data.schema import LABEL_COLUMN, read_table
from engine.errors import InputError, MissingColumnError
from engine.training.config import TrainConfig
from engine.training.metadata import MetadataScaler
from engine.training.surveys import degrade_mixture


@dataclass(frozen=True)
class Split:
    """Light curves with raw metadata, class indices (N,) int64 or None, and the scaler.

    ``scaler`` (None when the model reads no metadata) turns the raw metadata into what the
    model reads; :attr:`model_curves` applies it.
    """

    curves: PackedLightCurves
    labels: np.ndarray | None
    scaler: MetadataScaler | None = None

    def __len__(self) -> int:
        return len(self.curves)

    @cached_property
    def model_curves(self) -> PackedLightCurves:
        """The curves with their metadata scaled as the model reads it (computed once)."""
        if self.scaler is None:
            return self.curves
        return replace(self.curves, metadata=self.scaler.transform_columns(self.curves.metadata))


@dataclass(frozen=True)
class TrainingData:
    """Training and validation objects, class names and the fitted metadata scaler.

    ``survey_validation`` (with ``select_on_surveys``) holds the validation objects once more,
    each observed by one of the run's survey profiles (:func:`survey_validation`).
    """

    train: Split
    validation: Split
    class_names: tuple[str, ...]
    scaler: MetadataScaler | None
    survey_validation: Split | None = None


#: seed of the one draw of :func:`survey_validation` (the same copies at every evaluation)
SURVEY_VALIDATION_SEED = 20261203


def survey_validation(validation: Split, config: TrainConfig) -> Split:
    """Observe each validation object by one of the run's survey profiles, drawn once.

    Profiles are drawn with the run's ``survey_weights``, moved into the survey's reach at its
    ``survey_depth_match_rate`` and given total photometry at its ``total_rate``, as in
    training (:func:`engine.training.surveys.degrade_mixture`), from a fixed seed.
    """
    augment = config.augment
    if not augment.survey_profiles:
        msg = "select_on_surveys needs [augment] survey_profiles to observe the validation with"
        raise InputError(msg)
    curves = degrade_mixture(
        validation.curves,
        np.random.default_rng(SURVEY_VALIDATION_SEED),
        augment.profiles(),
        rate=1.0,
        weights=augment.survey_weights or None,
        total_rate=augment.total_rate,
        depth_match_rate=augment.survey_depth_match_rate,
        min_points=augment.survey_min_points,
    )
    return replace(validation, curves=curves)


def _read_training_folds(config: TrainConfig) -> pl.DataFrame:
    data = config.data
    table = read_table(data.path)
    frame = table.join(read_folds(data.folds_path), on="object_id", how="inner")
    frame = frame.filter(pl.col("fold").is_in(list(data.train_folds))).drop("fold")
    if frame.is_empty():
        msg = (
            f"no object of {data.path} is in train_folds {list(data.train_folds)} "
            f"of {data.folds_path}"
        )
        raise InputError(msg)
    missing = [n for n in data.metadata_names if n not in frame.columns]
    if missing:
        msg = f"{data.path} has no metadata column(s) {missing}; it has {frame.columns}"
        raise MissingColumnError(msg)
    return frame


def _class_names(config: TrainConfig) -> tuple[str, ...]:
    labels = read_table(config.data.path, columns=[LABEL_COLUMN])[LABEL_COLUMN]
    return tuple(sorted(labels.drop_nulls().unique().to_list()))


def load_data(config: TrainConfig) -> TrainingData:
    """Read, split and prepare the data of a run (see the module docstring)."""
    frame = _read_training_folds(config)
    classify = config.loss.classifies
    labels = None
    class_names: tuple[str, ...] = ()
    if classify:
        if LABEL_COLUMN not in frame.columns or frame[LABEL_COLUMN].null_count():
            n = frame[LABEL_COLUMN].null_count() if LABEL_COLUMN in frame.columns else len(frame)
            msg = (
                f"{config.data.path}: {n} training objects have no {LABEL_COLUMN!r}; "
                "classification losses need every object labelled (set the [loss] "
                "classification weights to 0 to train the generative head only)"
            )
            raise InputError(msg)
        class_names = _class_names(config)
        labels = (
            frame[LABEL_COLUMN]
            .replace_strict(list(class_names), list(range(len(class_names))), return_dtype=pl.Int64)
            .to_numpy()
        )
    try:
        train_index, val_index = train_test_split(
            np.arange(len(frame)),
            test_size=config.data.validation_fraction,
            random_state=config.seed,
            stratify=labels,
        )
    except ValueError as exc:  # a class too rare to appear on both sides of the split
        msg = (
            f"cannot hold out validation_fraction={config.data.validation_fraction} of the "
            f"{len(frame)} training objects stratified by class ({exc})"
        )
        raise InputError(msg) from exc
    curves = PackedLightCurves.from_frame(frame)
    names = config.data.metadata_names
    scaler = None
    if names:
        raw = np.stack([curves.metadata[n] for n in names], axis=1)  # (N, M)
        scaler = MetadataScaler(names).fit(raw[train_index])

    def split(index: np.ndarray) -> Split:
        index = np.sort(index)
        return Split(curves.subset(index), None if labels is None else labels[index], scaler)

    validation = split(val_index)
    return TrainingData(
        train=split(train_index),
        validation=validation,
        class_names=class_names,
        scaler=scaler,
        survey_validation=survey_validation(validation, config)
        if config.data.select_on_surveys
        else None,
    )
