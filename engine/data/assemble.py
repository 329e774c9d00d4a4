"""Turn a long table of observations into the canonical light-curve table, validating as it goes.

Every reader produces a *long* frame (one row per observation, the columns of
:data:`LONG_COLUMNS` plus ``_row``, the observation's row number in the source file) and hands it
to :func:`assemble`, so every format gets the same checks and the same error messages.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from astropy.time import Time

from engine.data.bands import BandRegistry
from engine.data.clean import NUMERIC, CleaningPolicy, clean_repeats, clean_values
from engine.data.report import ROW, BandSeen, IngestReport, describe_objects, describe_rows
from engine.data.schema import (
    LABEL_COLUMN,
    LIGHT_CURVE_SCHEMA,
    MAX_OBJECT_ID_LENGTH,
    check_table,
    too_long,
)
from engine.errors import EmptyLightCurveError, InvalidValueError, UnknownBandError

#: columns of the long frame readers hand to :func:`assemble` (plus optional detected, label)
LONG_COLUMNS = ("object_id", "time", "band", "flux", "flux_err")
#: times above this are Julian Dates, not MJD (JD 2,400,000.5 = MJD 0)
JD_THRESHOLD = 2_400_000.0
#: text read as a missing number besides empty cells ('--' is astropy's masked value)
MISSING_MARKERS = ("NA", "N/A", "null", "NULL", "None", "--")

TimeFormat = Literal["auto", "jd"]


def cast_numeric(frame: pl.DataFrame, name: str, *, source: str) -> pl.DataFrame:
    """Cast column ``name`` to Float64, naming the rows whose values are not numbers.

    Empty cells and :data:`MISSING_MARKERS` become null (dropped later as missing); ``nan`` and
    ``inf`` parse as numbers. ``frame`` must have the ``_row`` column.
    """
    if frame.schema[name].is_numeric():
        return frame.with_columns(pl.col(name).cast(pl.Float64))
    as_text = pl.col(name).cast(pl.String).str.strip_chars()
    cast = as_text.cast(pl.Float64, strict=False)
    missing = as_text.is_null() | (as_text == "") | as_text.is_in(MISSING_MARKERS)
    bad = frame.filter(cast.is_null() & ~missing)
    if bad.height:
        example = bad[name].cast(pl.String).head(1).item()
        msg = (
            f"{source}: column {name!r} has non-numeric values at {describe_rows(bad)} "
            f"(e.g. {example!r}); expected numbers"
        )
        raise InvalidValueError(msg)
    return frame.with_columns(cast.alias(name))


def jd_to_mjd(jd: np.ndarray) -> np.ndarray:
    """Convert finite Julian Dates to Modified Julian Dates (MJD = JD - 2400000.5) with astropy."""
    return Time(jd, format="jd").mjd


def _convert_julian_dates(
    points: pl.DataFrame, report: IngestReport, time_format: TimeFormat
) -> pl.DataFrame:
    """Convert JD to MJD: always for ``"jd"``, for ``"auto"`` when the median time is a JD."""
    if not points.height:
        return points
    median = points["time"].median()
    column = report.source_column("time")
    if time_format == "jd":
        if points["time"].min() <= JD_THRESHOLD:
            bad = points.filter(pl.col("time") <= JD_THRESHOLD)
            msg = (
                f"{report.source}: column {column!r} is read as Julian Dates but holds "
                f"{bad['time'][0]!r} at {describe_rows(bad)}; a JD is > 2,400,000. If the times "
                f"are MJD or reduced JD, pass --columns time={column} to use them as they are"
            )
            raise InvalidValueError(msg)
        report.note(f"column {column!r} holds Julian Dates; converted to MJD = JD - 2400000.5")
    elif median > JD_THRESHOLD:
        report.warn(
            f"times in column {column!r} look like Julian Dates (> 2,400,000); "
            "converted to MJD = JD - 2400000.5"
        )
    else:
        return points
    return points.with_columns(pl.Series("time", jd_to_mjd(points["time"].to_numpy())))


def _resolve_bands(
    points: pl.DataFrame, registry: BandRegistry, report: IngestReport
) -> pl.DataFrame:
    """Replace band names by canonical names, add ``wavelength`` and record the bands seen."""
    source = report.source
    bands = points["band"].unique(maintain_order=True).to_list()
    for band in bands:
        if band is None or band == "":
            at = points.filter(pl.col("band").is_null() | (pl.col("band") == ""))
            msg = f"{source}: missing band name at {describe_rows(at)}"
            raise InvalidValueError(msg)
        try:
            registry.canonical(band)
        except UnknownBandError as exc:
            msg = f"{source}: {describe_rows(points.filter(pl.col('band') == band))}: {exc}"
            raise UnknownBandError(msg) from exc
    resolved = registry.resolve(bands)
    counts = dict(points["band"].value_counts().iter_rows())
    report.bands = [BandSeen(n, c, w, counts[n]) for n, (c, w) in resolved.items()]
    return points.with_columns(
        pl.col("band").replace_strict({k: v[0] for k, v in resolved.items()}).alias("band"),
        pl.col("band")
        .replace_strict({k: v[1] for k, v in resolved.items()}, return_dtype=pl.Float32)
        .alias("wavelength"),
    )


def _check_labels(points: pl.DataFrame, source: str) -> None:
    clash = points.group_by("object_id").agg(pl.col(LABEL_COLUMN).n_unique().alias("n"))
    clash = clash.filter(pl.col("n") > 1)
    if clash.height:
        msg = (
            f"{source}: objects {describe_objects(clash)} have more than one label; "
            "a label is per object"
        )
        raise InvalidValueError(msg)


def _join_metadata(
    table: pl.DataFrame, metadata: pl.DataFrame, report: IngestReport
) -> pl.DataFrame:
    """Left-join per-object ``metadata`` on ``table``; warn about objects it does not cover."""
    metadata = metadata.with_columns(pl.col("object_id").cast(pl.String).str.strip_chars())
    repeated = metadata.filter(pl.col("object_id").is_duplicated())
    if repeated.height:
        msg = (
            f"{report.source}: the metadata has more than one row for objects "
            f"{describe_objects(repeated)}; give one row per object"
        )
        raise InvalidValueError(msg)
    clash = sorted(set(metadata.columns) & set(table.columns) - {"object_id"})
    if clash:
        msg = (
            f"{report.source}: metadata columns {clash} are also in the light-curve file; "
            "give each per-object value once"
        )
        raise InvalidValueError(msg)
    uncovered = table.join(metadata.select("object_id"), on="object_id", how="anti").height
    if uncovered:
        report.warn(f"{uncovered} of {table.height} objects have no row in the metadata")
    return table.join(metadata, on="object_id", how="left", maintain_order="left")


def assemble(
    points: pl.DataFrame,
    *,
    source: str,
    registry: BandRegistry | None = None,
    metadata: pl.DataFrame | None = None,
    time_format: TimeFormat = "auto",
    report: IngestReport | None = None,
    policy: CleaningPolicy | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Validate a long frame of observations and group it into the canonical table.

    Unusable points are cleaned by ``policy`` (:mod:`engine.data.clean`), each rule counted in
    the report. Light curves of any length are kept whole: a model given more points than its
    maximum subsamples them evenly when it builds a batch
    (:func:`engine.data.batching.evenly_subsample`), so the table never loses data.

    Parameters
    ----------
    points
        One row per observation with the :data:`LONG_COLUMNS`, optional ``detected`` and
        ``label``, and ``_row`` (row number in the source, for messages; added if absent).
        Numeric columns may be text: values that are not numbers are reported by row.
    source
        Name of the input (file path) used in every message.
    registry
        Band registry used to resolve band names (default: built-in bands only).
    metadata
        Optional per-object columns keyed by ``object_id`` (one row per object, joined on the
        result).
    time_format
        ``"jd"``: ``time`` holds Julian Dates, converted to MJD; ``"auto"``: converted only when
        the median time is above :data:`JD_THRESHOLD` (with a warning).
    report
        Report to fill (a reader's, holding its notes already); a new one by default.
    policy
        What to drop, floor and merge (:mod:`engine.data.clean`); lenient by default.

    Returns
    -------
    The canonical table (objects in order of first appearance, points sorted by time; objects
    cleaning dropped left out) and an :class:`IngestReport`. Raises
    :class:`~engine.errors.InputError` subclasses naming the file, object and rows at fault.
    """
    registry = registry or BandRegistry()
    report = report or IngestReport(source=source)
    policy = policy or CleaningPolicy()
    if points.height == 0:
        msg = f"{source}: no observations (the table has no rows)"
        raise EmptyLightCurveError(msg)
    if ROW not in points.columns:
        points = points.with_row_index(ROW, offset=1)
    points = points.with_columns(
        pl.col("object_id").cast(pl.String).str.strip_chars(),
        pl.col("band").cast(pl.String).str.strip_chars(),
    )
    missing_id = points.filter(pl.col("object_id").is_null() | (pl.col("object_id") == ""))
    if missing_id.height:
        msg = f"{source}: empty object id at {describe_rows(missing_id)}"
        raise InvalidValueError(msg)
    long_id = points.filter(pl.col("object_id").str.len_chars() > MAX_OBJECT_ID_LENGTH)
    if long_id.height:
        msg = (
            f"{source}: object id over {MAX_OBJECT_ID_LENGTH} characters at "
            f"{describe_rows(long_id)}, {too_long(long_id['object_id'])}"
        )
        raise InvalidValueError(msg)
    if "detected" not in points.columns:
        points = points.with_columns(pl.lit(True).alias("detected"))
    points = points.with_columns(pl.col("detected").cast(pl.Boolean).fill_null(True))

    for name in NUMERIC:
        points = cast_numeric(points, name, source=source)
    object_order = points.select(pl.col("object_id").unique(maintain_order=True))
    points = clean_values(points, policy, report)
    points = _convert_julian_dates(points, report, time_format)
    points = _resolve_bands(points, registry, report)
    points = clean_repeats(points, policy, report, object_order["object_id"])
    has_label = LABEL_COLUMN in points.columns
    if has_label:
        points = points.with_columns(pl.col(LABEL_COLUMN).cast(pl.String))
        _check_labels(points, source)

    grouped = (
        points.sort(["object_id", "time", "band"], maintain_order=True)
        .group_by("object_id", maintain_order=True)
        .agg(
            pl.col("time"),
            pl.col("band"),
            pl.col("wavelength"),
            pl.col("flux").cast(pl.Float32),
            pl.col("flux_err").cast(pl.Float32),
            pl.col("detected"),
            *([pl.col(LABEL_COLUMN).first()] if has_label else []),
        )
    )
    table = object_order.join(grouped, on="object_id", how="inner", maintain_order="left")
    if metadata is not None:
        table = _join_metadata(table, metadata, report)
    table = check_table(table.cast(dict(LIGHT_CURVE_SCHEMA)))
    report.n_objects = table.height
    report.n_points = int(table["time"].list.len().sum())
    return table, report
