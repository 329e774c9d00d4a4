"""Photometry kind: *difference* flux (alerts, forced photometry on difference images) or *total*.

Every shipped model was trained on PLAsTiCC, which is difference photometry: a flux of 0 means
"as bright as on the reference image", and a variable star oscillates around 0. Survey
catalogues give *total* brightness instead (the star's whole flux, always positive), which such
a model has never seen. The canonical table records the kind per object in the string column
:data:`FLUX_KIND_COLUMN` (no column means difference, as in every alert stream), and
:meth:`engine.data.packed.PackedLightCurves.from_frame`, the one door to every model, turns
total photometry into difference photometry with :func:`subtract_band_reference`:

* **Reference level**: per object and band, the median flux of its points in that band. For a
  periodic variable this is the level its difference light curve oscillates around; for a
  transient on a steady host it is the host level only when most points are out of the event,
  which is why the kind is detected per object and can be set by the user.
* **Nothing is thrown away**: the reference becomes two per-object metadata values the models
  may use, :data:`REFERENCE_COLUMNS`: ``ref_mag``, the AB magnitude of the reference in the band
  nearest :data:`REFERENCE_WAVELENGTH` (an r band), and ``ref_colour``, a colour index per
  1,000 Å like ``g - r``: minus the least-squares slope of the reference magnitude against
  wavelength, so positive when the object is redder (brighter at long wavelengths). Both are NaN
  for difference photometry.

:func:`detect_flux_kind` is the documented rule used when the user does not say (``--flux-kind
auto``); see its docstring.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from engine.data.schema import ZERO_POINT
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.data.packed import PackedLightCurves

#: per-object column of the canonical table: ``"difference"`` or ``"total"``
FLUX_KIND_COLUMN = "flux_kind"
FluxKind = Literal["difference", "total"]
FLUX_KINDS: tuple[FluxKind, ...] = ("difference", "total")
#: what a user may ask for: a kind for every object, or ``"auto"`` (see :func:`with_flux_kind`)
FluxKindOption = Literal["auto", "difference", "total"]
FLUX_KIND_OPTIONS: tuple[FluxKindOption, ...] = ("auto", *FLUX_KINDS)
#: reader formats that only carry difference photometry (alerts and SNANA/PLAsTiCC simulations)
DIFFERENCE_FORMATS = ("plasticc", "snana", "ztf")
#: per-object metadata describing the subtracted reference level (NaN for difference photometry)
REFERENCE_COLUMNS = ("ref_mag", "ref_colour")
#: ``ref_mag`` is given in the band nearest this wavelength (Å): r in most surveys
REFERENCE_WAVELENGTH = 6200.0
#: :func:`detect_flux_kind` thresholds: median signal-to-noise, and the ratio of the 10th to the
#: 90th percentile of each band's flux
TOTAL_MIN_SNR = 20.0
TOTAL_MIN_LEVEL_RATIO = 0.25


def detect_flux_kind(table: pl.DataFrame) -> pl.Series:
    """Tell, per object, whether ``table`` holds total or difference photometry.

    An object is **total** when all three hold:

    1. every flux is positive (difference photometry scatters around 0 out of the event);
    2. its median signal-to-noise ``flux / flux_err`` is at least :data:`TOTAL_MIN_SNR`
       (catalogue light curves are of sources well above the sky; alert detections start at 5);
    3. in every band with two or more points, the 10th percentile of the flux is at least
       :data:`TOTAL_MIN_LEVEL_RATIO` of the 90th: the brightness never falls far below a steady
       level (a transient's difference flux rises from near 0 to its peak).

    Anything else is difference photometry. Known misses: variables of more than ~1.5 mag
    amplitude (Miras) seen in total flux, and bright transients observed only near their peak;
    ``--flux-kind`` overrides the rule. Returns a String series named :data:`FLUX_KIND_COLUMN`
    in table order.
    """
    points = table.select("object_id", "band", "flux", "flux_err").explode(
        ["band", "flux", "flux_err"]
    )
    per_band = points.group_by("object_id", "band").agg(
        (pl.col("flux").quantile(0.1) >= TOTAL_MIN_LEVEL_RATIO * pl.col("flux").quantile(0.9))
        .or_(pl.len() < 2)
        .alias("steady")
    )
    per_object = (
        points.group_by("object_id")
        .agg(
            (pl.col("flux") > 0).all().alias("positive"),
            ((pl.col("flux") / pl.col("flux_err")).median() >= TOTAL_MIN_SNR).alias("bright"),
        )
        .join(per_band.group_by("object_id").agg(pl.col("steady").all()), on="object_id")
    )
    kinds = table.select("object_id").join(
        per_object, on="object_id", how="left", maintain_order="left"
    )
    total = kinds["positive"] & kinds["bright"] & kinds["steady"]
    return pl.Series(
        FLUX_KIND_COLUMN,
        np.where(total.fill_null(False).to_numpy(), "total", "difference"),
        dtype=pl.String,
    )


def check_flux_kind(option: str) -> None:
    """Raise :class:`~engine.errors.InputError` unless ``option`` is a ``--flux-kind`` option."""
    if option not in FLUX_KIND_OPTIONS:
        msg = f"--flux-kind must be one of {list(FLUX_KIND_OPTIONS)}, got {option!r}"
        raise InputError(msg)


def with_flux_kind(
    table: pl.DataFrame, option: FluxKindOption = "auto", *, format: str = "long"
) -> tuple[pl.DataFrame, str]:
    """Add :data:`FLUX_KIND_COLUMN` to a freshly read table, and say how it was decided.

    ``option`` ``"difference"`` or ``"total"`` (``--flux-kind``) sets every object; ``"auto"``
    uses the reader's ``format`` when it only carries difference photometry
    (:data:`DIFFERENCE_FORMATS`), else :func:`detect_flux_kind` per object. Returns the table
    and a short reason for the ingest report.
    """
    check_flux_kind(option)
    if option != "auto":
        kinds, how = pl.repeat(option, table.height, eager=True), f"given (--flux-kind {option})"
    elif format in DIFFERENCE_FORMATS:
        kinds, how = pl.repeat("difference", table.height, eager=True), f"{format} format"
    else:
        kinds, how = detect_flux_kind(table), "detected per object"
    return table.with_columns(kinds.cast(pl.String).alias(FLUX_KIND_COLUMN)), how


def reference_at(row: pl.DataFrame, wavelengths: np.ndarray) -> np.ndarray:
    """Return the reference level of a one-object table at ``wavelengths``, (n,) float32.

    0 for difference photometry; for total photometry the level :func:`subtract_band_reference`
    removes, of the object's band nearest each wavelength, so that fluxes a model generates in
    difference space can be put back on the object's own scale.
    """
    wavelengths = np.asarray(wavelengths, dtype=np.float64)
    total = FLUX_KIND_COLUMN in row.columns and row[FLUX_KIND_COLUMN][0] == "total"
    if not total:
        return np.zeros(len(wavelengths), np.float32)
    points = pl.DataFrame(
        {"wavelength": row["wavelength"][0], "flux": row["flux"][0]}
    )  # fmt: skip
    levels = points.group_by("wavelength").agg(pl.col("flux").median()).sort("wavelength")
    known = levels["wavelength"].to_numpy().astype(np.float64)
    nearest = np.abs(wavelengths[:, None] - known[None, :]).argmin(axis=1)
    return levels["flux"].to_numpy()[nearest].astype(np.float32)


def object_band_groups(curves: PackedLightCurves) -> tuple[np.ndarray, np.ndarray]:
    """Owner object of every point, (P,), and a dense id of its (object, wavelength) group."""
    owner = np.repeat(np.arange(len(curves)), curves.lengths)
    _, wavelength = np.unique(curves.wavelength, return_inverse=True)
    _, group = np.unique(
        owner * (int(wavelength.max(initial=0)) + 1) + wavelength, return_inverse=True
    )
    return owner, group


def band_reference(curves: PackedLightCurves) -> np.ndarray:
    """Median flux of each point's object in the point's band, (P,) float32."""
    if not len(curves.flux):
        return np.zeros(0, np.float32)
    _, group = object_band_groups(curves)
    medians = pl.DataFrame({"g": group, "f": curves.flux}).group_by("g").agg(pl.col("f").median())
    level = np.zeros(int(group.max()) + 1, np.float32)
    level[medians["g"].to_numpy()] = medians["f"].to_numpy()
    return level[group]


def _reference_metadata(
    curves: PackedLightCurves, reference: np.ndarray, chosen: np.ndarray
) -> dict[str, np.ndarray]:
    """``ref_mag`` and ``ref_colour`` of the ``chosen`` objects (NaN elsewhere), each (N,).

    One row per (object, band) with a positive reference; ``ref_colour`` is minus the
    least-squares slope of magnitude on wavelength (1,000 Å), cov(x, y) / var(x) per object.
    """
    owner, group = object_band_groups(curves)
    with np.errstate(invalid="ignore", divide="ignore"):
        mag = ZERO_POINT - 2.5 * np.log10(reference.astype(np.float64))
    keep = chosen[owner] & np.isfinite(mag)
    _, first = np.unique(group[keep], return_index=True)
    bands = pl.DataFrame(
        {
            "owner": owner[keep][first],
            "x": curves.wavelength[keep][first].astype(np.float64) / 1000.0,
            "y": mag[keep][first],
        }
    )
    x, y = pl.col("x"), pl.col("y")
    nearest = (x - REFERENCE_WAVELENGTH / 1000.0).abs().arg_min()
    per_object = bands.group_by("owner").agg(
        y.get(nearest).alias("ref_mag"),
        ((x - x.mean()) * (y - y.mean())).mean().alias("cov"),
        ((x - x.mean()) ** 2).mean().alias("var"),
        pl.len().alias("n"),
    )
    ref_mag = np.full(len(curves), np.nan)
    ref_colour = np.full(len(curves), np.nan)
    index = per_object["owner"].to_numpy()
    ref_mag[index] = per_object["ref_mag"].to_numpy()
    several = per_object.filter(pl.col("n") > 1)
    ref_colour[several["owner"].to_numpy()] = -(several["cov"] / several["var"]).to_numpy()
    return {"ref_mag": ref_mag, "ref_colour": ref_colour}


def subtract_band_reference(curves: PackedLightCurves, chosen: np.ndarray) -> PackedLightCurves:
    """Turn the ``chosen`` objects' total photometry into difference photometry.

    Subtracts each point's :func:`band_reference` for the objects where ``chosen`` (N,) bool is
    set and records the reference as ``ref_mag``/``ref_colour`` metadata (see the module
    docstring); errors are unchanged. The other objects are returned as they are, with NaN
    reference metadata.
    """
    chosen = np.asarray(chosen, dtype=bool)
    if not chosen.any():
        unset = {name: np.full(len(curves), np.nan) for name in REFERENCE_COLUMNS}
        return replace(curves, metadata={**curves.metadata, **unset})
    reference = band_reference(curves)
    on_point = np.repeat(chosen, curves.lengths)
    flux = np.where(on_point, curves.flux - reference, curves.flux).astype(np.float32)
    metadata = _reference_metadata(curves, reference, chosen)
    return replace(curves, flux=flux, metadata={**curves.metadata, **metadata})
