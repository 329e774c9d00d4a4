"""The ``object_id -> fold`` table of a fixed split (``folds.parquet``), read with one schema."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from engine.errors import InputError

FOLDS_SCHEMA = pl.Schema({"object_id": pl.String, "fold": pl.Int64})


def read_folds(path: str | Path) -> pl.DataFrame:
    """Read the folds table at ``path`` as :data:`FOLDS_SCHEMA` (ids as strings, folds Int64)."""
    try:
        folds = pl.read_parquet(path, columns=FOLDS_SCHEMA.names())
    except (OSError, pl.exceptions.PolarsError) as exc:
        msg = f"{path}: cannot read as an object_id -> fold Parquet table ({exc})"
        raise InputError(msg) from exc
    return folds.cast(dict(FOLDS_SCHEMA))


def select_folds(table: pl.DataFrame, folds_path: str | Path, folds: Iterable[int]) -> pl.DataFrame:
    """Return the objects of ``table`` in ``folds`` of the folds table, in ``table`` order."""
    chosen = read_folds(folds_path).filter(pl.col("fold").is_in(list(folds))).select("object_id")
    return table.join(chosen, on="object_id", how="semi", maintain_order="left")
