"""Turn a long table of observations into the canonical light-curve table, validating as it goes.

Every reader produces a *long* frame (one row per observation, the columns of
:data:`LONG_COLUMNS` plus ``_row``, the observation's row number in the source file) and hands it
to :func:`assemble`, so every format gets the same checks and the same error messages.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import polars as pl

from engine.data.bands import BandRegistry
from engine.data.schema import LABEL_COLUMN, LIGHT_CURVE_SCHEMA, check_table
from engine.errors import EmptyLightCurveError, InvalidValueError, UnknownBandError

#: columns of the long frame a reader hands to :func:`assemble` (``detected`` and ``label`` optional)
LONG_COLUMNS = ("object_id", "time", "band", "flux", "flux_err")
ROW = "_row"
#: times above this are Julian Dates, not MJD (JD 2,400,000.5 = MJD 0)
JD_THRESHOLD = 2_400_000.0
_NUMERIC = ("time", "flux", "flux_err")
_MAX_LISTED = 5


class IngestWarning(UserWarning):
    """Input was usable but something was dropped or converted; the message says what."""


@dataclass
class IngestReport:
    """What :func:`assemble` kept, dropped and converted."""

    source: str
    n_objects: int = 0
    n_points: int = 0
    dropped_non_finite: int = 0
    dropped_duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record ``message`` and emit it as an :class:`IngestWarning`."""
        self.notes.append(message)
        warnings.warn(f"{self.source}: {message}", IngestWarning, stacklevel=3)


def _rows(frame: pl.DataFrame) -> str:
    """'rows 3, 8, 9 (and 12 more)' for the first offending rows of ``frame``."""
    rows = frame[ROW].head(_MAX_LISTED).to_list()
    more = frame.height - len(rows)
    text = ", ".join(str(r) for r in rows)
    return f"row{'s' if frame.height > 1 else ''} {text}" + (f" (and {more} more)" if more else "")


def _objects(frame: pl.DataFrame) -> str:
    ids = frame["object_id"].unique(maintain_order=True)
    shown = ", ".join(repr(i) for i in ids.head(_MAX_LISTED).to_list())
    return shown + (f" (and {ids.len() - _MAX_LISTED} more)" if ids.len() > _MAX_LISTED else "")


def _cast_numeric(points: pl.DataFrame, source: str) -> pl.DataFrame:
    """Cast time/flux/flux_err to Float64, naming the rows whose values are not numbers."""
    for name in _NUMERIC:
        if points.schema[name].is_numeric():
            continue
        as_text = pl.col(name).cast(pl.String).str.strip_chars()
        cast = as_text.cast(pl.Float64, strict=False)
        bad = points.filter(cast.is_null() & as_text.is_not_null() & (as_text != ""))
        if bad.height:
            example = bad[name].cast(pl.String).head(1).item()
            msg = (
                f"{source}: column {name!r} has non-numeric values at {_rows(bad)} "
                f"(e.g. {example!r}); expected numbers"
            )
            raise InvalidValueError(msg)
        points = points.with_columns(cast.alias(name))
    return points.with_columns(pl.col(n).cast(pl.Float64) for n in _NUMERIC)


def _drop_non_finite(points: pl.DataFrame, report: IngestReport) -> pl.DataFrame:
    finite = pl.all_horizontal(pl.col(n).is_not_null() & pl.col(n).is_finite() for n in _NUMERIC)
    kept = points.filter(finite)
    dropped = points.height - kept.height
    if dropped:
        report.dropped_non_finite = dropped
        report.warn(
            f"dropped {dropped} point(s) with a missing, NaN or infinite time, flux or flux_err "
            f"({_rows(points.filter(~finite))})"
        )
    return kept


def _check_errors_positive(points: pl.DataFrame, source: str) -> None:
    bad = points.filter(pl.col("flux_err") <= 0)
    if bad.height:
        msg = (
            f"{source}: flux errors must be > 0, found {bad['flux_err'][0]!r} at {_rows(bad)} "
            f"(object {_objects(bad)}); check the error column and its units"
        )
        raise InvalidValueError(msg)


def _convert_julian_dates(points: pl.DataFrame, report: IngestReport) -> pl.DataFrame:
    if points.height and points["time"].median() > JD_THRESHOLD:
        report.warn("times look like Julian Dates (> 2,400,000); converted to MJD = JD - 2400000.5")
        return points.with_columns(pl.col("time") - 2_400_000.5)
    return points


def _drop_duplicates(points: pl.DataFrame, report: IngestReport, source: str) -> pl.DataFrame:
    key = ["object_id", "time", "band"]
    values = [*key, "flux", "flux_err"]
    unique = points.unique(subset=values, keep="first", maintain_order=True)
    clash = unique.filter(pl.len().over(key) > 1)
    if clash.height:
        first = clash.head(1)
        msg = (
            f"{source}: object {first['object_id'].item()!r} has {clash.height} observations at "
            f"the same time and band with different fluxes ({_rows(clash)}); remove the "
            "duplicates or give them distinct times"
        )
        raise InvalidValueError(msg)
    dropped = points.height - unique.height
    if dropped:
        report.dropped_duplicates = dropped
        report.warn(f"dropped {dropped} exact duplicate observation(s)")
    return unique


def _check_labels(points: pl.DataFrame, source: str) -> None:
    clash = points.group_by("object_id").agg(pl.col(LABEL_COLUMN).n_unique().alias("n"))
    clash = clash.filter(pl.col("n") > 1)
    if clash.height:
        msg = (
            f"{source}: objects {_objects(clash)} have more than one label; a label is per object"
        )
        raise InvalidValueError(msg)


def assemble(
    points: pl.DataFrame,
    *,
    source: str,
    registry: BandRegistry | None = None,
    metadata: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Validate a long frame of observations and group it into the canonical table.

    Parameters
    ----------
    points
        One row per observation with the :data:`LONG_COLUMNS`, optional ``detected`` and
        ``label``, and ``_row`` (row number in the source, for messages; added if absent).
    source
        Name of the input (file path) used in every message.
    registry
        Band registry used to resolve band names (default: built-in bands only).
    metadata
        Optional per-object columns keyed by ``object_id`` (joined on the result).

    Returns
    -------
    The canonical table (objects in order of first appearance, points sorted by time) and an
    :class:`IngestReport`. Raises :class:`~engine.errors.InputError` subclasses naming the file,
    object and rows at fault.
    """
    registry = registry or BandRegistry()
    report = IngestReport(source=source)
    if ROW not in points.columns:
        points = points.with_row_index(ROW, offset=1)
    points = points.with_columns(
        pl.col("object_id").cast(pl.String).str.strip_chars(),
        pl.col("band").cast(pl.String).str.strip_chars(),
    )
    missing_id = points.filter(pl.col("object_id").is_null() | (pl.col("object_id") == ""))
    if missing_id.height:
        msg = f"{source}: empty object id at {_rows(missing_id)}"
        raise InvalidValueError(msg)
    if "detected" not in points.columns:
        points = points.with_columns(pl.lit(True).alias("detected"))
    points = points.with_columns(pl.col("detected").cast(pl.Boolean).fill_null(True))

    points = _cast_numeric(points, source)
    object_order = points.select(pl.col("object_id").unique(maintain_order=True))
    points = _drop_non_finite(points, report)
    emptied = object_order.join(points.select("object_id").unique(), on="object_id", how="anti")
    if emptied.height:
        msg = (
            f"{source}: objects {_objects(emptied)} have no finite observation left after "
            "dropping NaN/inf values"
        )
        raise EmptyLightCurveError(msg)
    _check_errors_positive(points, source)
    points = _convert_julian_dates(points, report)

    bands = points["band"].unique().to_list()
    for band in bands:
        at = points.filter(pl.col("band").eq_missing(band))
        if band is None or band == "":
            msg = f"{source}: missing band name at {_rows(at)}"
            raise InvalidValueError(msg)
        try:
            registry.canonical(band)
        except UnknownBandError as exc:
            msg = f"{source}: {_rows(at)}: {exc}"
            raise UnknownBandError(msg) from exc
    resolved = registry.resolve(bands)
    points = points.with_columns(
        pl.col("band").replace_strict({k: v[0] for k, v in resolved.items()}).alias("band"),
        pl.col("band")
        .replace_strict({k: v[1] for k, v in resolved.items()}, return_dtype=pl.Float32)
        .alias("wavelength"),
    )
    points = _drop_duplicates(points, report, source)
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
    table = object_order.join(grouped, on="object_id", how="left", maintain_order="left")
    if metadata is not None:
        metadata = metadata.with_columns(pl.col("object_id").cast(pl.String))
        table = table.join(metadata, on="object_id", how="left", maintain_order="left")
    table = check_table(table.cast(dict(LIGHT_CURVE_SCHEMA)))
    report.n_objects = table.height
    report.n_points = int(table["time"].list.len().sum())
    return table, report

