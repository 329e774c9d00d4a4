"""Point selections and corruptions of packed light curves: windows, truncation, hard positives.

Every function takes a :class:`~engine.data.packed.PackedLightCurves`, draws from a NumPy
generator and returns new packed curves with the same objects in the same order, vectorised
over objects and points. Astra-CLR builds its views from them; RTF truncates with
:func:`truncate`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.data.packed import PackedLightCurves


def _owner(curves: PackedLightCurves) -> np.ndarray:
    """Object index of every point, (P,)."""
    return np.repeat(np.arange(len(curves)), curves.lengths)


def _rank(curves: PackedLightCurves) -> np.ndarray:
    """Position of every point within its object, (P,)."""
    return np.arange(curves.offsets[-1]) - np.repeat(curves.offsets[:-1], curves.lengths)


def keep_points(curves: PackedLightCurves, keep: np.ndarray) -> PackedLightCurves:
    """Keep the points where ``keep`` (P,) is True; objects stay (possibly left empty)."""
    counts = np.bincount(_owner(curves)[keep], minlength=len(curves))
    return replace(
        curves,
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        time=curves.time[keep],
        flux=curves.flux[keep],
        flux_err=curves.flux_err[keep],
        wavelength=curves.wavelength[keep],
        detected=curves.detected[keep],
    )


def _window_sizes(
    lengths: np.ndarray, rng: np.random.Generator, fraction: tuple[float, float], min_points: int
) -> np.ndarray:
    """``round(U[fraction] · n)`` points per object, at least ``min(min_points, n)``."""
    size = np.round(rng.uniform(fraction[0], fraction[1], len(lengths)) * lengths).astype(np.int64)
    return np.clip(size, np.minimum(min_points, lengths), lengths)


def crop(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    *,
    fraction: tuple[float, float],
    min_points: int,
) -> PackedLightCurves:
    """Keep a random contiguous window of each object, a ``U[fraction]`` share of its points.

    Windows hold at least ``min(min_points, n)`` points; their start is uniform over the
    positions where they fit.
    """
    lengths = curves.lengths
    size = _window_sizes(lengths, rng, fraction, min_points)
    start = np.floor(rng.random(len(curves)) * (lengths - size + 1)).astype(np.int64)
    owner, rank = _owner(curves), _rank(curves)
    return keep_points(curves, (rank >= start[owner]) & (rank < (start + size)[owner]))


def truncate(
    curves: PackedLightCurves, rng: np.random.Generator, *, rate: float, min_points: int
) -> PackedLightCurves:
    """Cut a fraction ``rate`` of objects to their first ``n ~ U{min(min_points, L), L}`` points."""
    lengths = curves.lengths
    low = np.minimum(min_points, lengths)
    drawn = low + np.floor(rng.random(len(curves)) * (lengths - low + 1)).astype(np.int64)
    keep_count = np.where(rng.random(len(curves)) < rate, drawn, lengths)
    return keep_points(curves, _rank(curves) < keep_count[_owner(curves)])


def add_noise(
    curves: PackedLightCurves, rng: np.random.Generator, chosen: np.ndarray, *, scale: float
) -> PackedLightCurves:
    """Add Gaussian noise of ``scale · flux_err`` to the objects ``chosen`` (N,) bool.

    Their flux_err grows to ``sqrt(1 + scale²) · flux_err`` so the errors still describe the
    (now noisier) points.
    """
    on = chosen[_owner(curves)]
    noise = rng.normal(0.0, 1.0, len(on)) * scale * curves.flux_err
    inflate = np.where(on, np.sqrt(1.0 + scale**2), 1.0)
    return replace(
        curves,
        flux=np.where(on, curves.flux + noise, curves.flux).astype(np.float32),
        flux_err=(curves.flux_err * inflate).astype(np.float32),
    )


def inject_outliers(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    chosen: np.ndarray,
    *,
    fraction: float,
    sigma: float,
) -> PackedLightCurves:
    """Move a fraction of the points of the objects ``chosen`` by ``± sigma · flux_err``."""
    hit = chosen[_owner(curves)] & (rng.random(curves.offsets[-1]) < fraction)
    sign = rng.choice(np.array([-1.0, 1.0]), curves.offsets[-1])
    shift = np.where(hit, sign * sigma * curves.flux_err, 0.0)
    return replace(curves, flux=(curves.flux + shift).astype(np.float32))


def bin_points(curves: PackedLightCurves, chosen: np.ndarray, *, days: float) -> PackedLightCurves:
    """Average each band's points within bins of ``days`` for the objects ``chosen`` (N,) bool.

    A bin's flux is the inverse-variance-weighted mean, its flux_err ``1 / sqrt(Σ 1/σ²)``, its
    time the mean time; it is detected if any point was. Bins start at each object's first
    point; other objects keep every point. Points stay sorted by time within each object.
    """
    owner, rank = _owner(curves), _rank(curves)
    n_points = curves.offsets[-1]
    if n_points == 0:
        return curves
    _, band = np.unique(curves.wavelength, return_inverse=True)
    start = curves.time[curves.offsets[:-1][owner]]
    bin_index = np.floor((curves.time - start) / days).astype(np.int64)
    n_bins = int(bin_index.max()) + 1
    # one key per (object, band, bin) for chosen objects and one per point for the others
    n_local = (int(band.max()) + 1) * n_bins + int(curves.lengths.max())
    local = np.where(chosen[owner], band * n_bins + bin_index, (band.max() + 1) * n_bins + rank)
    _, group = np.unique(owner * n_local + local, return_inverse=True)
    n_groups = int(group.max()) + 1

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=n_groups)

    weight = 1.0 / np.maximum(curves.flux_err.astype(np.float64), 1e-6) ** 2
    sum_weight = total(weight)
    count = total(np.ones(n_points))
    first = np.full(n_groups, n_points)
    np.minimum.at(first, group, np.arange(n_points))
    time = total(curves.time) / count
    group_owner = owner[first]
    order = np.lexsort((time, group_owner))  # by object, then time
    counts = np.bincount(group_owner, minlength=len(curves))
    return replace(
        curves,
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        time=time[order],
        flux=(total(weight * curves.flux) / sum_weight)[order].astype(np.float32),
        flux_err=(1.0 / np.sqrt(sum_weight))[order].astype(np.float32),
        wavelength=curves.wavelength[first][order],
        detected=(total(curves.detected.astype(np.float64)) > 0)[order],
    )
