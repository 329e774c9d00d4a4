"""Small synthetic light curves shared by the baseline tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.data.assemble import assemble
from engine.data.packed import PackedLightCurves
from engine.data.plasticc import FOLDS_NAME, TABLE_NAME
from engine.data.schema import write_table

BANDS = ("u", "g", "r", "i", "z", "y")


def light_curve_points(
    object_id: str, kind: str, rng: np.random.Generator, *, n: int = 90, bands=BANDS
) -> dict[str, list]:
    """Points of one object: a flat, noisy source ("flat") or a 30-day burst ("burst")."""
    time = np.sort(rng.uniform(0.0, 300.0, n)) + 60000.0
    band = np.array(bands)[rng.integers(0, len(bands), n)]
    if kind == "burst":
        peak = rng.uniform(100.0, 200.0)
        flux = 200.0 * np.exp(-0.5 * ((time - 60000.0 - peak) / 15.0) ** 2)
    else:
        flux = np.full(n, 20.0)
    flux = flux + rng.normal(0.0, 2.0, n)
    return {
        "object_id": [object_id] * n,
        "time": time.tolist(),
        "band": band.tolist(),
        "flux": flux.tolist(),
        "flux_err": [2.0] * n,
        "label": [kind] * n,
    }


def make_table(kinds: list[str], lengths: list[int], *, seed: int = 0) -> pl.DataFrame:
    """Canonical table of one synthetic object per entry of ``kinds``, with metadata."""
    rng = np.random.default_rng(seed)
    parts = [
        light_curve_points(f"o{i}", kind, rng, n=n)
        for i, (kind, n) in enumerate(zip(kinds, lengths, strict=True))
    ]
    points = pl.DataFrame({key: sum((p[key] for p in parts), []) for key in parts[0]})
    meta = pl.DataFrame(
        {
            "object_id": [f"o{i}" for i in range(len(kinds))],
            "hostgal_photoz": rng.uniform(0.0, 1.0, len(kinds)),
            "mwebv": rng.uniform(0.0, 0.1, len(kinds)),
        }
    )
    table, _ = assemble(points, source="synthetic", metadata=meta)
    return table


@pytest.fixture(scope="session")
def table_factory():
    """:func:`make_table`, for tests that need their own mix of objects."""
    return make_table


@pytest.fixture(scope="session")
def toy_files(tmp_path_factory) -> tuple[Path, Path]:
    """A separable two-class table (40 flat, 40 burst objects) and its 5 folds on disk."""
    kinds = ["flat", "burst"] * 40
    table = make_table(kinds, [60] * len(kinds), seed=1)
    directory = tmp_path_factory.mktemp("toy")
    write_table(table, directory / TABLE_NAME)
    folds = pl.DataFrame(
        {
            "object_id": table["object_id"],
            "fold": (np.arange(table.height) // 2 % 5).astype(np.int8),
        }
    )
    folds.write_parquet(directory / FOLDS_NAME)
    return directory / TABLE_NAME, directory / FOLDS_NAME


@pytest.fixture
def packed_pair() -> PackedLightCurves:
    """One burst in all six bands and one flat source seen only in g and r."""
    rng = np.random.default_rng(0)
    full = light_curve_points("full", "burst", rng, n=120)
    partial = light_curve_points("partial", "flat", rng, n=40, bands=("g", "r"))
    points = pl.DataFrame({key: full[key] + partial[key] for key in full})
    table, _ = assemble(points, source="synthetic")
    return PackedLightCurves.from_frame(table)
