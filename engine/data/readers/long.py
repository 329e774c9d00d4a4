"""Reader for long tables: CSV or Parquet with one row per observation, columns found by name.

The columns are detected as :mod:`engine.data.readers.columns` describes; any other column
whose value is constant within each object becomes per-object metadata. A Parquet file with one
row per object and list columns (e.g. a catscope table) is exploded to one row per point first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import reduce

import polars as pl

from engine.data.assemble import assemble
from engine.data.bands import BandRegistry
from engine.data.clean import CleaningPolicy
from engine.data.readers.columns import (
    ColumnMap,
    as_float_where_possible,
    constant_columns,
    detect_columns,
    detect_id_and_label,
    is_truth,
    points_from_frame,
)
from engine.data.report import ROW, IngestReport
from engine.data.schema import LABEL_COLUMN


def combine_metadata(frames: Sequence[pl.DataFrame | None]) -> pl.DataFrame | None:
    """Outer-join per-object frames on ``object_id``; a later frame wins a shared column."""
    present = [f for f in frames if f is not None]

    def join(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
        left = left.drop([c for c in right.columns if c != "object_id" and c in left.columns])
        return left.join(right, on="object_id", how="full", coalesce=True, maintain_order="left")

    return reduce(join, present) if present else None


def finish(
    points: pl.DataFrame,
    frame: pl.DataFrame,
    columns: ColumnMap,
    *,
    report: IngestReport,
    registry: BandRegistry | None = None,
    metadata: pl.DataFrame | None = None,
    format_metadata: pl.DataFrame | None = None,
    policy: CleaningPolicy | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Assemble ``points`` (cleaned by ``policy``) and add per-object metadata.

    ``metadata`` (the user's file) is checked and joined by
    :func:`~engine.data.assemble.assemble`; the file's own constant columns and
    ``format_metadata`` (e.g. a SNANA HEAD table) fill the columns it does not have.
    """
    table, report = assemble(
        points,
        source=report.source,
        registry=registry,
        metadata=metadata,
        time_format=columns.time_format,
        report=report,
        policy=policy,
    )
    own = combine_metadata([constant_columns(frame, columns, report), format_metadata])
    if own is None:
        return table, report
    own = own.drop([c for c in own.columns if c != "object_id" and c in table.columns])
    return table.join(own, on="object_id", how="left", maintain_order="left"), report


def long_from_frame(
    frame: pl.DataFrame,
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    registry: BandRegistry | None = None,
    metadata: pl.DataFrame | None = None,
    format: str = "long",
    policy: CleaningPolicy | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Canonical table from a long frame of observations, as loaded by :mod:`.files`.

    Parameters
    ----------
    frame
        One row per observation, with ``_row``; column types may be text.
    source
        Input name used in every message.
    columns
        Role -> column name, overriding detection (see :mod:`engine.data.readers.columns`).
    registry
        Band registry (default: built-in bands).
    metadata
        Per-object columns keyed by ``object_id`` (e.g. from :func:`metadata_from_frame`);
        they win over the file's own constant columns.
    format
        Format name recorded in the report.
    policy
        Cleaning policy (:mod:`engine.data.clean`; lenient by default).
    """
    report = IngestReport(source=source, format=format)
    mapping = detect_columns(frame.columns, columns, source=source)
    points = points_from_frame(frame, mapping, report=report)
    return finish(
        points, frame, mapping, report=report, registry=registry, metadata=metadata, policy=policy
    )


def metadata_from_frame(frame: pl.DataFrame, *, source: str) -> pl.DataFrame:
    """Per-object metadata from a table with an object-id column (one row per object).

    The id and optional label columns are found like a light-curve file's; other columns are
    kept (as numbers where every value is one), except simulation truth (``true_*``, ``sim_*``).
    """
    found = detect_id_and_label(frame.columns, source=source)
    keep = [c for c in frame.columns if not is_truth(c) and c not in found.values()]
    renamed = frame.select(
        pl.col(found["object_id"]).cast(pl.String).str.strip_chars().alias("object_id"),
        *([pl.col(found["label"]).cast(pl.String).alias(LABEL_COLUMN)] if "label" in found else []),
        *(pl.col(c) for c in keep if c != ROW),
    )
    return as_float_where_possible(renamed, keep=("object_id", LABEL_COLUMN))
