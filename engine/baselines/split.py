"""Load a labelled canonical table with its fixed ``object_id -> fold`` split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from engine.data.folds import read_folds
from engine.data.packed import PackedLightCurves
from engine.data.schema import LABEL_COLUMN, read_table
from engine.errors import InputError, MissingColumnError


def load_split(
    table_path: str | Path, folds_path: str | Path
) -> tuple[PackedLightCurves, np.ndarray]:
    """Read the light curves of ``table_path``, packed, and the fold of each object, (N,) int64.

    Raises :class:`~engine.errors.InputError` if the table has no labels or an object has no fold.
    """
    table = read_table(table_path)
    if LABEL_COLUMN not in table.columns:
        msg = f"{table_path}: the baselines need a {LABEL_COLUMN!r} column of class names"
        raise MissingColumnError(msg)
    joined = table.select("object_id").join(
        read_folds(folds_path), on="object_id", how="left", maintain_order="left"
    )
    missing = joined.filter(pl.col("fold").is_null())["object_id"]
    if len(missing):
        msg = (
            f"{folds_path}: {len(missing)} objects of {table_path} have no fold, "
            f"e.g. {missing.head(5).to_list()}"
        )
        raise InputError(msg)
    return PackedLightCurves.from_frame(table), joined["fold"].to_numpy().astype(np.int64)
