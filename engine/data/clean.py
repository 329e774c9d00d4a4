"""Cleaning policy: keep what is usable in a real file, and say exactly what was not.

Files from surveys and papers carry "no measurement" markers (magnitude 99.99 with error 9.99,
-99, 999), errors of 0.0 for "unknown", rows repeated by a re-reduction and photometry of two
telescopes at the same time in one filter. Instead of refusing the file, the rules below run on
the long frame of observations (one row per point, ``_row`` its source row) in this order, each
recording a :class:`~engine.data.report.RuleRecord` (points affected and examples):

1. **sentinel magnitudes** (source magnitudes, before conversion): outside
   :data:`MAG_RANGE` = [-5, 40] (which covers 99, 99.99, -99, 999 ...) -> dropped;
2. **sentinel fluxes**: a flux or flux error that is a fill value, :data:`FLUX_LIMIT` or more
   in size (1e30, 9.9e36 ...; float32 storage ends at 3.4e38) -> dropped. Negative fill values
   of errors (-9, -99, -999) are bad errors (rule 4); a flux of -999 is not dropped, since a
   difference flux can be;
3. **non-finite values**: a missing, NaN or infinite time, flux or flux error -> dropped;
4. **bad errors**: zero, negative or too small for float32 -> dropped. With
   ``min_mag_err`` (magnitude sources: ``mag_err`` below it is raised to it) or
   ``min_flux_err_frac`` (``flux_err`` below that fraction of ``|flux|`` is raised to it) zero
   and small errors are *floored* instead, since many papers publish 0.0 for "unknown";
   negative errors are dropped even then (they are markers, not measurements);

and after band names are resolved (:func:`clean_repeats`):

5. **exact duplicates**: one of identical rows (object, time, band, flux, error) kept;
6. **same time and band**: points of one object in one band whose times are within
   ``same_time_tol`` days (chained) are merged into one by inverse-variance weighting in flux
   space: ``flux = Σ w f / Σ w``, ``flux_err = 1 / sqrt(Σ w)`` with ``w = 1 / flux_err²``, at
   the earliest time, detected if any was;
7. **too few points**: objects left with fewer than ``min_points`` points -> dropped, listed.

``strict=True`` restores the behaviour from before this module: the first sentinel magnitude,
bad error or same-time clash refuses the file with the message it always had (a sentinel flux
refuses it too); non-finite points and exact duplicates are dropped and counted as before, no
object is dropped for having few points, and an object left with no point is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import polars as pl

from engine.data.report import (
    MAX_EXAMPLES,
    ROW,
    IngestReport,
    RuleRecord,
    describe_objects,
    describe_rows,
)
from engine.data.schema import mag_to_flux
from engine.errors import EmptyLightCurveError, InputError, InvalidValueError

#: plausible AB magnitudes; values outside are "no data" markers or not magnitudes at all
MAG_RANGE = (-5.0, 40.0)
#: fluxes or errors this large are fill values (FLUXCAL 1e30 is magnitude -47; float32 ends
#: at 3.4e38)
FLUX_LIMIT = 1e30
#: columns of the long frame with the source magnitude and its error (magnitude files only)
SOURCE_MAG, SOURCE_MAG_ERR = "_mag", "_mag_err"
NUMERIC = ("time", "flux", "flux_err")


@dataclass(frozen=True)
class CleaningPolicy:
    """How to treat unusable points (see the module docstring for the rules).

    Parameters
    ----------
    strict
        Refuse the file at the first problem, with the messages of earlier versions.
    min_points
        Objects left with fewer points are dropped (not applied with ``strict``).
    same_time_tol
        Points of one object and band closer in time than this (days) are merged.
    min_mag_err
        Floor (mag) for the errors of magnitude sources, instead of dropping zero errors.
    min_flux_err_frac
        Floor for ``flux_err / |flux|``, instead of dropping zero errors.
    """

    strict: bool = False
    min_points: int = 3
    same_time_tol: float = 1e-5
    min_mag_err: float | None = None
    min_flux_err_frac: float | None = None

    def __post_init__(self) -> None:
        if self.min_points < 1:
            msg = f"--min-points must be at least 1, got {self.min_points}"
            raise InputError(msg)
        if not self.same_time_tol >= 0:
            msg = f"--same-time-tol must be >= 0 days, got {self.same_time_tol}"
            raise InputError(msg)
        for name, value in (
            ("--min-mag-err", self.min_mag_err),
            ("--min-flux-err-frac", self.min_flux_err_frac),
        ):
            if value is not None and not (math.isfinite(value) and value > 0):
                msg = f"{name} must be a positive number, got {value}"
                raise InputError(msg)
            if value is not None and self.strict:
                msg = f"{name} floors zero errors, which --strict refuses; choose one of them"
                raise InputError(msg)

    @property
    def floors_errors(self) -> bool:
        """Whether zero and small errors are floored rather than dropped."""
        return self.min_mag_err is not None or self.min_flux_err_frac is not None


def drop_sentinel_magnitudes(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport
) -> pl.DataFrame:
    """Rule 1: drop points whose source magnitude is outside :data:`MAG_RANGE`."""
    if SOURCE_MAG not in points.columns:
        return points
    low, high = MAG_RANGE
    mag = pl.col(SOURCE_MAG)
    bad_expr = (mag.is_finite() & ((mag < low) | (mag > high))).fill_null(False)
    bad = points.filter(bad_expr)
    column, err_column = report.source_column("mag"), report.source_column("mag_err")
    if bad.height and policy.strict:
        msg = (
            f"{report.source}: column {column!r} does not look like AB magnitudes: "
            f"{bad[SOURCE_MAG][0]!r} at {describe_rows(bad)} is outside [{low:g}, {high:g}]. "
            "Remove 'no data' markers such as 99 first; if the column holds fluxes, pass "
            f"--columns flux={column},flux_err={err_column}"
        )
        raise InvalidValueError(msg)
    found = pl.format("{}={}", pl.lit(column), mag)
    report.record(
        RuleRecord.of("sentinel_magnitudes", "sentinel mags", "dropped", bad, found),
        f"dropped {bad.height} point(s) with 'no data' or impossible magnitudes in {column!r} "
        f"(outside [{low:g}, {high:g}]; {describe_rows(bad)})",
    )
    return points.filter(~bad_expr)


def drop_sentinel_fluxes(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport
) -> pl.DataFrame:
    """Rule 2: drop points whose flux or flux error is a fill value."""

    def fill(name: str) -> pl.Expr:
        return pl.col(name).is_finite() & (pl.col(name).abs() >= FLUX_LIMIT)

    bad_expr = (fill("flux") | fill("flux_err")).fill_null(False)
    bad = points.filter(bad_expr)
    column = report.source_column("flux", "mag")
    if bad.height and policy.strict:
        msg = (
            f"{report.source}: column {column!r} gives fill values or fluxes beyond "
            f"{FLUX_LIMIT:g} ({bad['flux'][0]!r} ± {bad['flux_err'][0]!r} at "
            f"{describe_rows(bad)}); check its units"
        )
        raise InvalidValueError(msg)
    found = pl.format("flux={} ± {}", pl.col("flux"), pl.col("flux_err"))
    report.record(
        RuleRecord.of("sentinel_fluxes", "sentinel fluxes", "dropped", bad, found),
        f"dropped {bad.height} point(s) whose flux or error is a fill value (beyond "
        f"{FLUX_LIMIT:g}; {describe_rows(bad)})",
    )
    return points.filter(~bad_expr)


def drop_non_finite(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport
) -> pl.DataFrame:
    """Rule 3: drop points with a missing, NaN or infinite time, flux or flux error.

    With ``strict``, an object left with no point is an error (as it always was).
    """
    finite = pl.all_horizontal(pl.col(n).is_not_null() & pl.col(n).is_finite() for n in NUMERIC)
    bad = points.filter(~finite)
    kept = points.filter(finite)
    found = pl.format("time={} flux={} ± {}", *(pl.col(n) for n in NUMERIC))
    report.record(
        RuleRecord.of("non_finite", "missing or NaN values", "dropped", bad, found),
        f"dropped {bad.height} point(s) with a missing, NaN or infinite time, flux or flux_err "
        f"({describe_rows(bad)})",
    )
    if policy.strict:
        emptied = points.join(kept.select("object_id").unique(), on="object_id", how="anti")
        if emptied.height:
            msg = (
                f"{report.source}: objects {describe_objects(emptied)} have no finite "
                "observation left after dropping NaN/inf/missing values"
            )
            raise EmptyLightCurveError(msg)
    return kept


def _floored_errors(points: pl.DataFrame, policy: CleaningPolicy) -> pl.Expr:
    """``flux_err`` with the policy's floors applied (negative errors are left as they are)."""
    err = pl.col("flux_err")
    if policy.min_mag_err is not None and SOURCE_MAG_ERR in points.columns:
        _, floor = mag_to_flux(pl.col(SOURCE_MAG), policy.min_mag_err)
        low = (pl.col(SOURCE_MAG_ERR) < policy.min_mag_err) & (pl.col(SOURCE_MAG_ERR) >= 0)
        err = pl.when(low).then(floor).otherwise(err)
    if policy.min_flux_err_frac is not None:
        floor = policy.min_flux_err_frac * pl.col("flux").abs()
        err = pl.when((err < floor) & (err >= 0)).then(floor).otherwise(err)
    return err


def _usable_error(err: pl.Expr) -> pl.Expr:
    """Errors must be > 0 and stay between ~1e-38 and 3e38 once stored as float32."""
    err32 = err.cast(pl.Float32)
    return (err32 > 0) & err32.is_finite()


def drop_bad_errors(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport
) -> pl.DataFrame:
    """Rule 4: floor zero and small errors if the policy says so, then drop unusable ones."""
    if policy.floors_errors:
        floored = points.with_columns(_floored_errors(points, policy).alias("_floored"))
        changed = floored.filter(pl.col("_floored") != pl.col("flux_err"))
        found = pl.format("flux_err={} raised to {}", pl.col("flux_err"), pl.col("_floored"))
        report.record(
            RuleRecord.of("error_floor", "errors floored", "floored", changed, found),
            f"raised {changed.height} error(s) to the floor ({describe_rows(changed)})",
        )
        points = floored.drop("flux_err").rename({"_floored": "flux_err"}).select(points.columns)
    bad = points.filter(~_usable_error(pl.col("flux_err")))
    column = report.source_column("flux_err", "mag_err")
    if bad.height and policy.strict:
        msg = (
            f"{report.source}: errors must be > 0 (and between 1e-38 and 3e38), found "
            f"{bad['flux_err'][0]!r} at {describe_rows(bad)} (object {describe_objects(bad)}); "
            f"check the error column {column!r} and its units"
        )
        raise InvalidValueError(msg)
    error = SOURCE_MAG_ERR if SOURCE_MAG_ERR in points.columns else "flux_err"
    found = pl.format("{}={}", pl.lit(column), pl.col(error))
    report.record(
        RuleRecord.of("bad_errors", "zero errors", "dropped", bad, found),
        f"dropped {bad.height} point(s) with a zero, negative or unrepresentable error in "
        f"{column!r} ({describe_rows(bad)}); --min-mag-err or --min-flux-err-frac floor them "
        "instead",
    )
    return points.filter(_usable_error(pl.col("flux_err")))


def clean_values(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport
) -> pl.DataFrame:
    """Run rules 1-4 (per-point values) on a long frame whose numbers are Float64."""
    for rule in (drop_sentinel_magnitudes, drop_sentinel_fluxes, drop_non_finite, drop_bad_errors):
        points = rule(points, policy, report)
    return points.drop(SOURCE_MAG, SOURCE_MAG_ERR, strict=False)


def drop_exact_duplicates(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport
) -> pl.DataFrame:
    """Rule 5: keep one of identical observations (object, time, band, flux, error)."""
    values = ["object_id", "time", "band", "flux", "flux_err"]
    unique = points.unique(subset=values, keep="first", maintain_order=True)
    repeated = points.join(unique.select(ROW), on=ROW, how="anti")
    found = pl.format("time={} band={}", pl.col("time"), pl.col("band"))
    report.record(
        RuleRecord.of("exact_duplicates", "exact duplicates", "dropped", repeated, found),
        f"dropped {repeated.height} exact duplicate observation(s)",
    )
    return unique


def merge_same_time(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport
) -> pl.DataFrame:
    """Rule 6: merge points of one object and band within ``same_time_tol`` days.

    With ``strict``, two points at exactly the same time and band refuse the file.
    """
    key = ["object_id", "band"]
    if policy.strict:
        clash = points.filter(pl.len().over([*key, "time"]) > 1)
        if clash.height:
            first = clash.head(1)
            msg = (
                f"{report.source}: object {first['object_id'].item()!r} has {clash.height} "
                "observations at the same time and band with different fluxes "
                f"({describe_rows(clash)}); remove the duplicates or give them distinct times"
            )
            raise InvalidValueError(msg)
        return points
    ordered = points.sort([*key, "time"], maintain_order=True)
    starts = (
        (pl.col("time").diff() > policy.same_time_tol)
        | (pl.col("object_id") != pl.col("object_id").shift())
        | (pl.col("band") != pl.col("band").shift())
    )
    ordered = ordered.with_columns(starts.fill_null(True).cum_sum().alias("_group"))
    repeated = pl.len().over("_group") > 1
    single, several = ordered.filter(~repeated), ordered.filter(repeated)
    weight = 1.0 / pl.col("flux_err") ** 2
    others = [c for c in points.columns if c not in ("flux", "flux_err", "detected")]
    merged = several.group_by("_group", maintain_order=True).agg(
        *(pl.col(c).first() for c in others),
        ((pl.col("flux") * weight).sum() / weight.sum()).alias("flux"),
        (1.0 / weight.sum().sqrt()).alias("flux_err"),
        pl.col("detected").any(),
    )
    folded = several.filter(~pl.col("_group").is_first_distinct())
    found = pl.format("time={} band={}", pl.col("time"), pl.col("band"))
    report.record(
        RuleRecord.of("same_time", "same-time points merged", "merged", folded, found),
        f"merged {several.height} point(s) at the same time and band into {merged.height} by "
        f"inverse-variance weighting ({describe_rows(several)})",
    )
    return pl.concat([single.drop("_group"), merged.select(points.columns)]).sort(
        ["object_id", "time", "band"], maintain_order=True
    )


def drop_short_objects(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport, objects: pl.Series
) -> pl.DataFrame:
    """Rule 7: drop objects with fewer than ``min_points`` points (not with ``strict``).

    ``objects`` are the ids before cleaning: those earlier rules left with no point are listed
    as dropped too.
    """
    if policy.strict:
        return points
    counted = points.with_columns(pl.len().over("object_id").alias("_n"))
    short = pl.col("_n") < policy.min_points
    dropped = counted.filter(short)
    left = set(points["object_id"].unique().to_list()) - set(dropped["object_id"].to_list())
    ids = tuple(o for o in objects.unique(maintain_order=True).to_list() if o not in left)
    label = f"points of objects with < {policy.min_points} points"
    found = pl.format("object has {} point(s)", pl.col("_n"))
    record = RuleRecord.of("min_points", label, "dropped", dropped, found)
    report.record(
        replace(record, objects=ids),
        f"dropped {len(ids)} object(s) with fewer than {policy.min_points} points "
        f"({', '.join(map(repr, ids[:MAX_EXAMPLES]))}"
        f"{f' and {len(ids) - MAX_EXAMPLES} more' if len(ids) > MAX_EXAMPLES else ''})",
    )
    kept = counted.filter(~short).drop("_n")
    if kept.height == 0:
        msg = (
            f"{report.source}: no object has {policy.min_points} usable points after cleaning "
            f"({report.summary()}); lower --min-points or check the file"
        )
        raise EmptyLightCurveError(msg)
    return kept


def clean_repeats(
    points: pl.DataFrame, policy: CleaningPolicy, report: IngestReport, objects: pl.Series
) -> pl.DataFrame:
    """Run rules 5-7 on a long frame whose bands are canonical names.

    ``objects`` are the object ids before cleaning (see :func:`drop_short_objects`).
    """
    points = drop_exact_duplicates(points, policy, report)
    points = merge_same_time(points, policy, report)
    return drop_short_objects(points, policy, report, objects)
