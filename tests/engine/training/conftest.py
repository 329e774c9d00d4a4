"""Tiny synthetic canonical tables for the training tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.data.packed import PackedLightCurves
from engine.data.schema import write_table

WAVELENGTHS = np.array([3671.0, 4827.0, 6223.0, 7546.0, 8691.0, 9710.0], dtype=np.float32)
CLASSES = ("flat", "rise", "wave")


def synthetic_frame(
    n_objects: int, *, seed: int = 0, min_len: int = 3, max_len: int = 40
) -> pl.DataFrame:
    """A canonical table of ``n_objects`` light curves of three easy classes, with metadata."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_objects):
        label = CLASSES[k % len(CLASSES)]
        n = int(rng.integers(min_len, max_len + 1))
        time = 60000.0 + np.sort(rng.uniform(0.0, 100.0, n))
        t = time - time[0]
        signal = {"flat": 0.0 * t, "rise": 2.0 * t, "wave": 50.0 * np.sin(t / 5.0)}[label]
        flux_err = rng.uniform(1.0, 5.0, n)
        band = rng.integers(0, 6, n)
        rows.append(
            {
                "object_id": f"obj{k}",
                "time": time.tolist(),
                "band": [f"lsst_{'ugrizy'[b]}" for b in band],
                "wavelength": WAVELENGTHS[band].tolist(),
                "flux": (signal + rng.normal(0.0, flux_err)).tolist(),
                "flux_err": flux_err.tolist(),
                "detected": [True] * n,
                "hostgal_photoz": float(rng.uniform(0, 1)) if k % 7 else float("nan"),
                "mwebv": float(rng.uniform(0, 0.1)),
                "label": label,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "object_id": pl.String,
            "time": pl.List(pl.Float64),
            "band": pl.List(pl.String),
            "wavelength": pl.List(pl.Float32),
            "flux": pl.List(pl.Float32),
            "flux_err": pl.List(pl.Float32),
            "detected": pl.List(pl.Boolean),
            "hostgal_photoz": pl.Float64,
            "mwebv": pl.Float64,
            "label": pl.String,
        },
    )


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every training test runs on one thread (``one_thread`` of ``tests/engine/conftest.py``)."""


@pytest.fixture
def make_frame():
    """The :func:`synthetic_frame` factory, for tests that need their own sizes and seeds."""
    return synthetic_frame


@pytest.fixture
def packed() -> PackedLightCurves:
    return PackedLightCurves.from_frame(synthetic_frame(60, seed=1))


def run_values(
    dataset: tuple[Path, Path], tmp_path: Path, name: str, *, metadata_names: Sequence[str] = ()
) -> dict:
    """Settings of a 3-step run ``name`` on ``dataset`` under ``tmp_path``, as a config dict."""
    table, folds = dataset
    return {
        "name": name,
        "steps": 3,
        "batch_size": 8,
        "eval_every": 2,
        "log_every": 1,
        "output_dir": str(tmp_path / "models"),
        "run_dir": str(tmp_path / "runs"),
        "data": {
            "path": str(table),
            "folds_path": str(folds),
            "metadata_names": list(metadata_names),
            "validation_fraction": 0.2,
            "bucket_batches": 2,
        },
    }


@pytest.fixture
def dataset(tmp_path):
    """(table path, folds path) of 90 synthetic objects in folds 0-4."""
    frame = synthetic_frame(90, seed=2)
    table = tmp_path / "table.parquet"
    write_table(frame, table)
    folds = tmp_path / "folds.parquet"
    pl.DataFrame(
        {"object_id": frame["object_id"], "fold": np.arange(len(frame)) % 5}
    ).write_parquet(folds)
    return table, folds


@pytest.fixture
def survey_augment() -> dict:
    """An ``[augment]`` table with every survey step on, hard, for smoke runs of each family."""
    return {
        "distance_rate": 0.8,
        "survey_rate": 0.8,
        "survey_profiles": ["lsst", "ztf", "sdss", "gaia", "one_band"],
        "total_rate": 0.3,
        "wavelength_jitter": 0.02,
        "metadata_field_dropout": 0.2,
    }
