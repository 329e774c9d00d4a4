"""Build a light-curve file as real ones come: a few sentinel magnitudes, zero errors, repeats.

Used by the CLI and app tests and by the "done when" check of issue 13; no data is committed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

#: what a survey writes for "no measurement"
SENTINEL_MAG, SENTINEL_ERR = 99.99, 9.99


def magnitude_rows(table: pl.DataFrame) -> pl.DataFrame:
    """The points of a canonical table brighter than FLUXCAL 1 as rows of AB magnitudes."""
    points = table.select("object_id", "time", "band", "flux", "flux_err").explode(
        "time", "band", "flux", "flux_err"
    )
    return points.filter(pl.col("flux") > 1.0).select(
        "object_id",
        pl.col("time").alias("mjd"),
        pl.col("band").alias("filter"),
        (27.5 - 2.5 * pl.col("flux").cast(pl.Float64).log10()).round(4).alias("mag"),
        (pl.col("flux_err") / pl.col("flux") / (0.4 * math.log(10))).round(4).alias("magerr"),
    )


def write_messy_csv(
    table: pl.DataFrame, path: Path, *, fraction: float = 0.01, seed: int = 0
) -> dict[str, int]:
    """Write ``table`` as a magnitude CSV with ``fraction`` of rows spoiled in each of 3 ways.

    Distinct rows get 99.99 ± 9.99, a zero error, or a second row at the same time and band
    with a magnitude 0.05 fainter (a re-reduction). Returns how many rows each got, keyed by
    the report's rule names.
    """
    rows = magnitude_rows(table)
    n = max(1, round(fraction * rows.height))
    chosen = np.random.default_rng(seed).choice(rows.height, size=3 * n, replace=False)
    sentinel, zero, repeat = np.split(chosen, 3)
    index = pl.int_range(pl.len())
    rows = rows.with_columns(
        pl.when(index.is_in(sentinel)).then(SENTINEL_MAG).otherwise("mag").alias("mag"),
        pl.when(index.is_in(sentinel))
        .then(SENTINEL_ERR)
        .when(index.is_in(zero))
        .then(0.0)
        .otherwise("magerr")
        .alias("magerr"),
    )
    repeats = rows[repeat].with_columns(pl.col("mag") + 0.05)
    pl.concat([rows, repeats]).write_csv(path)
    return {"sentinel_magnitudes": n, "bad_errors": n, "same_time": n}


def write_metadata_csv(table: pl.DataFrame, path: Path) -> None:
    """Write the per-object metadata of ``table`` (redshift, extinction) as a CSV."""
    table.select("object_id", "hostgal_photoz", "hostgal_photoz_err", "mwebv").write_csv(path)
