"""Reader for ZTF alert photometry: ``objectId``, ``jd``/``mjd``, ``fid``, ``magpsf``, ``sigmapsf``.

This is the layout of the ZTF alert stream's ``candidate``/``prv_candidates`` records and of
broker exports (ALeRCE, Fink). ``fid`` 1, 2, 3 are ZTF g, r, i; ``jd`` is converted to MJD.

* **Upper limits are dropped.** Rows without ``magpsf`` are non-detections that only carry a
  limiting magnitude (``diffmaglim``). The canonical table holds measured fluxes with a positive
  error, and a limit is not a measurement: inventing a flux for it would feed the models values
  unlike anything they were trained on. The rows are counted in a warning and in the report's
  ``upper_limits`` rule; an object with only upper limits is left out.
* **Negative differences keep their sign.** ``magpsf`` is the magnitude of the absolute
  difference flux; ``isdiffpos`` (``t``/``f``, or ``1``/``0``/``-1``) says whether the source got
  brighter or fainter than the reference, so ``isdiffpos`` false gives a negative flux.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from engine.data.bands import BandRegistry
from engine.data.clean import CleaningPolicy
from engine.data.readers.columns import detect_columns, points_from_frame, squash
from engine.data.readers.long import finish
from engine.data.report import ROW, IngestReport, RuleRecord, describe_rows
from engine.errors import EmptyLightCurveError, InvalidValueError

_POSITIVE = ("t", "true", "1", "+1")
_NEGATIVE = ("f", "false", "0", "-1")


def is_ztf(columns: list[str]) -> bool:
    """Tell whether ``columns`` are ZTF alert photometry (``fid``, ``magpsf``, ``sigmapsf``)."""
    return {"fid", "magpsf", "sigmapsf"} <= {squash(c) for c in columns}


def _drop_upper_limits(frame: pl.DataFrame, mag: str, report: IngestReport) -> pl.DataFrame:
    text = pl.col(mag).cast(pl.String).str.strip_chars()
    measured = text.is_not_null() & (text != "") & (text.str.to_lowercase() != "nan")
    kept = frame.filter(measured)
    dropped = frame.height - kept.height
    if not dropped:
        return frame
    if kept.height == 0:
        msg = (
            f"{report.source}: all {dropped} rows are upper limits (no {mag!r}); catscope needs "
            "measured magnitudes"
        )
        raise EmptyLightCurveError(msg)
    object_id = report.columns["object_id"]
    limits = frame.filter(~measured).select(pl.col(object_id).alias("object_id"), ROW, mag)
    lost = frame[object_id].n_unique() - kept[object_id].n_unique()
    found = pl.format("no {}", pl.lit(mag))
    report.record(
        RuleRecord.of("upper_limits", "upper limits", "dropped", limits, found),
        f"dropped {dropped} upper limit(s) (rows with no {mag!r}: non-detections)"
        + (f"; {lost} object(s) had only upper limits and are left out" if lost else ""),
    )
    return kept


def _signs(frame: pl.DataFrame, column: str, source: str) -> pl.Series:
    """+1 or -1 per row from ``isdiffpos``."""
    text = frame[column].cast(pl.String).str.strip_chars().str.to_lowercase()
    signs = text.replace_strict(
        {**dict.fromkeys(_POSITIVE, 1.0), **dict.fromkeys(_NEGATIVE, -1.0)}, default=None
    )
    bad = frame.filter(signs.is_null())
    if bad.height:
        msg = (
            f"{source}: column {column!r} has {bad[column][0]!r} at {describe_rows(bad)}; "
            f"expected one of {', '.join(_POSITIVE + _NEGATIVE)}"
        )
        raise InvalidValueError(msg)
    return signs


def ztf_from_frame(
    frame: pl.DataFrame,
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    registry: BandRegistry | None = None,
    metadata: pl.DataFrame | None = None,
    policy: CleaningPolicy | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Canonical table from a loaded ZTF alert-photometry frame (with ``_row``)."""
    report = IngestReport(source=source, format="ztf")
    mapping = detect_columns(frame.columns, columns, source=source)
    report.columns.update(mapping.columns)
    if mapping.photometry == "mag":
        frame = _drop_upper_limits(frame, mapping.columns["mag"], report)
    points = points_from_frame(frame, mapping, report=report)
    isdiffpos = next((c for c in frame.columns if squash(c) == "isdiffpos"), None)
    if isdiffpos is not None and mapping.photometry == "mag":
        points = points.with_columns(pl.col("flux") * _signs(frame, isdiffpos, source))
    return finish(
        points, frame, mapping, report=report, registry=registry, metadata=metadata, policy=policy
    )
