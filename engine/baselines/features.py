"""Hand-crafted light-curve features for the LightGBM baseline, from the ``light-curve`` package.

Every object gets the same columns: per band, the statistics of :func:`band_extractor`
(``<feature>_<band>``, e.g. ``stetson_K_lsst_g``) plus a point count and the band's peak flux as
a fraction of the object's brightest band (a colour at peak that does not depend on distance);
then a Lomb-Scargle periodogram of all bands together and the span of the S/N >= 5 points.
A band an object lacks, or has too few points in for a feature, gives NaN, which LightGBM treats
as missing. The features use only time, band, flux and flux error -- what ATCAT sees -- and not
the survey ``detected`` flag; metadata columns are added separately (:func:`metadata_features`).
"""

from __future__ import annotations

import light_curve as lc
import numpy as np
import polars as pl

from engine.data.bands import WAVELENGTHS
from engine.data.packed import PackedLightCurves
from engine.data.schema import MODEL_METADATA
from engine.errors import InvalidValueError

#: the six LSST bands of PLAsTiCC, in wavelength order
LSST_BANDS: tuple[str, ...] = tuple(f"lsst_{f}" for f in "ugrizy")

#: points at or above this flux / flux_err count as significant detections
DETECTION_SNR = 5.0

#: name of the pseudo-band made of all bands, each standardised (see :func:`_standardised`)
ALL_BANDS = "all"


def band_extractor() -> lc.Extractor:
    """Features computed on each band's (time, flux, flux_err) separately.

    Flux rather than magnitude, because faint points have negative flux. BazinFit uses the
    fast ``lmsder`` least-squares fit (about 1 ms per light curve; MCMC is 15x slower).
    """
    return lc.Extractor(
        lc.Amplitude(),
        lc.BeyondNStd(1.0),
        lc.Cusum(),
        lc.Eta(),
        lc.ExcessVariance(),
        lc.InterPercentileRange(0.1),
        lc.Kurtosis(),
        lc.LinearFit(),
        lc.MaximumSlope(),
        lc.Median(),
        lc.MedianAbsoluteDeviation(),
        lc.PercentAmplitude(),
        lc.ReducedChi2(),
        lc.Skew(),
        lc.StandardDeviation(),
        lc.StetsonK(),
        lc.WeightedMean(),
        lc.Periodogram(peaks=1),
        lc.BazinFit("lmsder"),
    )


def all_bands_extractor() -> lc.Extractor:
    """Features of the standardised all-band light curve: the two strongest periods."""
    return lc.Extractor(lc.Periodogram(peaks=2))


def _band_index(packed: PackedLightCurves, bands: tuple[str, ...]) -> np.ndarray:
    """Index into ``bands`` of every point, (P,) int64, -1 for other wavelengths."""
    unknown = [b for b in bands if b not in WAVELENGTHS]
    if unknown:
        msg = f"bands {unknown} are not in the band registry; known: {sorted(WAVELENGTHS)}"
        raise InvalidValueError(msg)
    index = np.full(len(packed.wavelength), -1, dtype=np.int64)
    for b, name in enumerate(bands):
        index[np.abs(packed.wavelength - WAVELENGTHS[name]) < 0.5] = b
    return index


def _groups(keys: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct ``keys`` and, for each, the point indices holding it in their original order."""
    order = np.argsort(keys, kind="stable")  # stable: keeps time order inside a group
    distinct, starts = np.unique(keys[order], return_index=True)
    return distinct, np.split(order, starts[1:])


def _extract(
    extractor: lc.Extractor,
    time: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray,
    members: list[np.ndarray],
    n_jobs: int,
) -> np.ndarray:
    """Run ``extractor`` on each group of point indices; (G, F) float64 with NaN for failures."""
    curves = [(time[m], flux[m], flux_err[m]) for m in members]
    values = np.asarray(
        extractor.many(curves, fill_value=np.nan, sorted=True, check=True, n_jobs=n_jobs),
        dtype=np.float64,
    ).reshape(len(curves), len(extractor.names))
    values[~np.isfinite(values)] = np.nan  # e.g. MaximumSlope of two points at the same time
    return values


def _standardised(
    flux: np.ndarray, flux_err: np.ndarray, group: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flux minus its group's mean, over the group's standard deviation, and the scaled error.

    Putting every band on one scale lets one periodogram use all the points of an object.
    """
    count = np.maximum(np.bincount(group, minlength=n_groups), 1)
    mean = np.bincount(group, weights=flux, minlength=n_groups) / count
    centred = flux - mean[group]
    std = np.sqrt(np.bincount(group, weights=centred**2, minlength=n_groups) / count)
    scale = np.where(std > 0, std, 1.0)[group]
    return centred / scale, flux_err / scale


def extract_features(
    packed: PackedLightCurves, *, bands: tuple[str, ...] = LSST_BANDS, n_jobs: int = 2
) -> pl.DataFrame:
    """Light-curve features of every object of ``packed``, one row per object.

    Parameters
    ----------
    packed : the light curves (points time-sorted within each object, as packed tables are)
    bands : canonical band names to describe; points in other bands are ignored
    n_jobs : threads light-curve uses

    Returns
    -------
    ``object_id`` then Float32 feature columns (NaN where a band is missing or too short)
    """
    n_objects, n_bands = len(packed), len(bands)
    obj = np.repeat(np.arange(n_objects), packed.lengths)
    band = _band_index(packed, bands)
    flux = packed.flux.astype(np.float64)
    flux_err = packed.flux_err.astype(np.float64)
    # time from each object's brightest point, so fitted reference times are relative to peak:
    # sorted by object then decreasing flux, each object's first point is its brightest
    by_flux = np.lexsort((-flux, obj))
    brightest = by_flux[np.minimum(packed.offsets[:-1], max(len(flux) - 1, 0))]
    time = packed.time - packed.time[brightest][obj]

    columns: dict[str, np.ndarray] = {}
    in_band = band >= 0
    cell = obj * n_bands + band  # (object, band) pair of each point
    per_band = band_extractor()
    values = np.full((n_objects * n_bands, len(per_band.names)), np.nan)
    in_band_points = np.flatnonzero(in_band)
    keys, members = _groups(cell[in_band])
    members = [in_band_points[m] for m in members]
    values[keys] = _extract(per_band, time, flux, flux_err, members, n_jobs)
    values = values.reshape(n_objects, n_bands, -1)  # (N, B, F)

    counts = np.bincount(cell[in_band], minlength=n_objects * n_bands).reshape(n_objects, -1)
    band_peak = np.full(n_objects * n_bands, np.nan)
    np.fmax.at(band_peak, cell[in_band], flux[in_band])
    band_peak = band_peak.reshape(n_objects, n_bands)  # (N, B)
    top = np.nanmax(np.where(np.isnan(band_peak), -np.inf, band_peak), axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        peak_fraction = np.where(top > 0, band_peak / top, np.nan)
    for b, name in enumerate(bands):
        columns[f"n_points_{name}"] = counts[:, b].astype(np.float64)
        columns[f"peak_fraction_{name}"] = peak_fraction[:, b]
        for f, feature in enumerate(per_band.names):
            columns[f"{feature}_{name}"] = values[:, b, f]

    z_flux, z_err = _standardised(
        flux[in_band], flux_err[in_band], cell[in_band], n_objects * n_bands
    )
    combined = all_bands_extractor()
    keys, members = _groups(obj[in_band])
    all_values = np.full((n_objects, len(combined.names)), np.nan)
    all_values[keys] = _extract(combined, time[in_band], z_flux, z_err, members, n_jobs)
    for f, feature in enumerate(combined.names):
        columns[f"{feature}_{ALL_BANDS}"] = all_values[:, f]

    significant = flux >= DETECTION_SNR * flux_err
    first = np.full(n_objects, np.inf)
    last = np.full(n_objects, -np.inf)
    np.minimum.at(first, obj[significant], time[significant])
    np.maximum.at(last, obj[significant], time[significant])
    n_significant = np.bincount(obj[significant], minlength=n_objects).astype(np.float64)
    columns["significant_duration"] = np.where(n_significant > 1, last - first, np.nan)
    columns["significant_count"] = n_significant
    columns["significant_fraction"] = n_significant / np.maximum(packed.lengths, 1)

    return pl.DataFrame(
        {"object_id": packed.object_id, **{k: v.astype(np.float32) for k, v in columns.items()}}
    )


def metadata_features(packed: PackedLightCurves) -> pl.DataFrame:
    """Return the non-truth metadata ATCAT may use (:data:`MODEL_METADATA`), NaN where absent."""
    nan = np.full(len(packed), np.nan)
    return pl.DataFrame(
        {
            "object_id": packed.object_id,
            **{name: packed.metadata.get(name, nan).astype(np.float32) for name in MODEL_METADATA},
        }
    )
