"""Cost of the training augmentations per batch, with and without the survey steps.

Run from the repository root (after ``catscope data plasticc --out data/plasticc``)::

    python benchmarks/augment_speed.py                              # configs/atcat-plasticc.toml
    python benchmarks/augment_speed.py --config configs/rtf-plasticc.toml --batches 200

Batches of ``--batch-size`` objects are drawn at random from the training folds (1-4), and each
is augmented once with the config's ``[augment]`` table as it is, and once with the survey
steps of :data:`SURVEY_STEPS` added (the values recommended for the issue-14 retraining).
Prints the mean milliseconds per batch of each.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import polars as pl

from engine.data.packed import PackedLightCurves
from engine.training.augment import AugmentConfig, augment
from engine.training.config import load_config

#: survey steps added to the config's [augment] table
SURVEY_STEPS = {
    "distance_rate": 0.3,
    "distance_z_ratio": (0.2, 1.5),
    "distance_galactic_mag": (-1.0, 1.5),
    "survey_rate": 0.5,
    "survey_profiles": ("lsst", "ztf", "atlas", "sdss", "gaia", "ps1", "one_band"),
    "survey_weights": (1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "survey_min_points": 3,
    "survey_depth_match_rate": 0.7,
    "total_rate": 0.15,
    "wavelength_jitter": 0.02,
    "metadata_field_dropout": 0.1,
}


def _training_curves(config_path: str) -> PackedLightCurves:
    data = load_config(config_path).data
    table = pl.read_parquet(data.path).join(pl.read_parquet(data.folds_path), on="object_id")
    table = table.filter(pl.col("fold").is_in(list(data.train_folds))).drop("fold")
    return PackedLightCurves.from_frame(table)


def _ms_per_batch(batches: list[PackedLightCurves], config: AugmentConfig) -> float:
    augment(batches[0], np.random.default_rng(0), config)  # warm caches (profiles, cosmology)
    start = time.perf_counter()
    for i, batch in enumerate(batches):
        augment(batch, np.random.default_rng(i), config)
    return (time.perf_counter() - start) / len(batches) * 1000.0


def main() -> None:
    """Time the config's augmentations with and without the survey steps."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/atcat-plasticc.toml")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    curves = _training_curves(args.config)
    rng = np.random.default_rng(0)
    batches = [
        curves.subset(rng.choice(len(curves), args.batch_size, replace=False))
        for _ in range(args.batches)
    ]
    points = np.mean([b.offsets[-1] for b in batches])
    base = load_config(args.config).augment
    print(f"{args.batches} batches of {args.batch_size} objects, {points:,.0f} points each")
    print(f"[augment] as configured: {_ms_per_batch(batches, base):.1f} ms a batch")
    with_survey = replace(base, **SURVEY_STEPS)
    print(f"with the survey steps:   {_ms_per_batch(batches, with_survey):.1f} ms a batch")


if __name__ == "__main__":
    main()
