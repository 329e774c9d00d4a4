"""Build a model's domain reference from its training data and store it beside the model.

The reference is the model's training objects (folds 1-4 minus the held-out share); the
held-out set is that share. When the model directory's ``training.json`` holds its run config,
:func:`engine.training.data.load_data` splits the data again, so the held-out set is exactly the
run's validation split (never trained on) and the wavelength margin comes from the run's
redshift augmentation; otherwise a seeded 10 % of folds 1-4 (stratified by class when the
model classifies) is held out the same way and the default augmentation's margin is used.
Fold 0 is never read. Works for any model family through
:func:`engine.infer.embedders.load_embedder`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from engine.data.schema import read_table
from engine.infer.batches import InferenceSettings
from engine.infer.domain import DomainReference
from engine.infer.embedders import load_embedder
from engine.models.checkpoint import read_run_config
from engine.models.registry import ModelInfo, find_model
from engine.training.config import DataConfig, TrainConfig
from engine.training.data import load_data

#: share of folds 1-4 held out when the model stores no run config
HELD_OUT_FRACTION = 0.1
HELD_OUT_SEED = 0
#: redshift augmentation is covered up to this many sigma above z = 0
REDSHIFT_SIGMAS = 3.0

#: turns a canonical table into further reference objects (e.g. survey-degraded copies)
ExtraReference = Callable[[pl.DataFrame], pl.DataFrame]


def build_domain_reference(
    model_dir: str | Path,
    data_path: str | Path,
    folds_path: str | Path,
    *,
    extra_reference: ExtraReference | None = None,
    k: int = 10,
    threshold: float = 0.95,
    settings: InferenceSettings | None = None,
    command: str = "",
) -> Path:
    """Fit the domain reference of the model in ``model_dir`` and write it there.

    Parameters
    ----------
    model_dir : model name or directory
    data_path, folds_path : the canonical table the model trained on and its folds
    extra_reference : if given, called on the reference table and on the held-out table; what
        it returns (e.g. augmented copies) is added to each, so that the held-out distances
        come from the same mixture of objects as the reference
    k, threshold : as in :class:`~engine.infer.domain.DomainReference`
    settings : inference settings of the embedding pass
    command : the command that built it, recorded in ``domain.json``

    Returns the model directory.
    """
    info = find_model(model_dir)
    config = _run_config(info.path, Path(data_path), Path(folds_path))
    if config is not None:
        held_out_how = "the training run's validation split"
    else:
        config = _default_config(info, Path(data_path), Path(folds_path))
        held_out_how = f"stratified {HELD_OUT_FRACTION:.0%} of folds 1-4, seed {HELD_OUT_SEED}"
    split = load_data(config)
    table = read_table(data_path)
    reference_table = _select(table, split.train.curves.object_id)
    held_out_table = _select(table, split.validation.curves.object_id)
    n_extra = 0
    if extra_reference is not None:
        extra = extra_reference(reference_table)
        n_extra = extra.height
        reference_table = pl.concat([reference_table, extra], how="diagonal_relaxed")
        held_out_table = pl.concat(
            [held_out_table, extra_reference(held_out_table)], how="diagonal_relaxed"
        )
    embedder = load_embedder(info.path, settings=settings)
    domain = DomainReference(k=k, threshold=threshold, wavelength_margin=_margin(config))
    domain.fit(embedder.embed(reference_table), embedder.embed(held_out_table), reference_table)
    provenance = {
        "model": info.name,
        "data": str(data_path),
        "folds": str(folds_path),
        "reference": f"folds 1-4 minus the held-out set, {len(split.train):,} objects",
        "extra_reference_objects": n_extra,
        "held_out": f"{held_out_how}, {held_out_table.height:,} objects",
        "command": command,
        "built_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return domain.save(info.path, provenance=provenance)


def _run_config(model_dir: Path, data_path: Path, folds_path: Path) -> TrainConfig | None:
    """Return the run config of ``training.json`` reading the given data; ``None`` if absent."""
    stored = read_run_config(model_dir)
    if stored is None:
        return None
    config = TrainConfig.from_dict(stored)
    return replace(
        config, data=replace(config.data, path=str(data_path), folds_path=str(folds_path))
    )


def _default_config(info: ModelInfo, data_path: Path, folds_path: Path) -> TrainConfig:
    """Return a run config holding out a seeded 10 % of folds 1-4 (by class for classifiers).

    For models stored without their run config; its default augmentation gives the default
    wavelength margin.
    """
    data = DataConfig(
        path=str(data_path),
        folds_path=str(folds_path),
        validation_fraction=HELD_OUT_FRACTION,
        metadata_names=(),
    )
    return TrainConfig(
        name=info.path.name, steps=1, family=info.family, seed=HELD_OUT_SEED, data=data
    )


def _margin(config: TrainConfig) -> tuple[float, float]:
    """Wavelength margin ``(z_low, z_high)`` covering the run's redshift augmentation."""
    augment = config.augment
    if augment.redshift_rate == 0.0:
        return (0.0, 0.0)
    return (min(augment.redshift_min, 0.0), round(REDSHIFT_SIGMAS * augment.redshift_sigma, 6))


def _select(table: pl.DataFrame, object_ids: np.ndarray) -> pl.DataFrame:
    """Rows of ``table`` whose ids are in ``object_ids``, in table order."""
    ids = pl.DataFrame({"object_id": pl.Series(object_ids, dtype=pl.String)})
    return table.join(ids, on="object_id", how="semi", maintain_order="left")
