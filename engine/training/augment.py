"""Training-time augmentations of light curves (ATCAT section 2.1.2), applied before collation.

Each augmentation acts on a :class:`~engine.data.packed.PackedLightCurves` (usually the objects
of one batch), draws from a :class:`numpy.random.Generator`, and is applied to each object
independently at its own rate, so several may hit the same object (the paper stacks them).
Everything is vectorised over objects and points.

Time shift
----------
The paper shifts all times of a light curve by ``U[0, 10]`` days *after* resetting ``t = 0`` at
the first point, so the model sees a curve whose first point is at ``t = shift`` rather than 0:
that is what makes it robust to a reference point (their alert-based window) that comes a
little earlier or later. Shifting MJDs here would be undone by :func:`engine.data.batching.collate`,
which re-zeroes every curve at its first point, so the shift is drawn here
(:func:`draw_time_shift`) and added to the collated times by :func:`collate_augmented`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from engine.data.batching import Batch, collate
from engine.data.packed import PackedLightCurves


@dataclass(frozen=True)
class AugmentConfig:
    """Rates and ranges of the augmentations; the defaults are ATCAT's main-model preset.

    Attributes
    ----------
    subsample_rate : probability of keeping a random subset of an object's points
    min_points : subsampling keeps ``U{min_points, n - 1}`` of ``n`` points and leaves curves
        with ``n <= min_points`` untouched
    flux_scale_rate, flux_scale_max : probability and range ``U[1 / max, max]`` of one factor
        multiplying flux and flux_err of every point of an object
    time_shift_rate, time_shift_max : probability and range ``U[0, max]`` (days) of the time of
        the object's first point in the model input (see the module docstring)
    redshift_rate, redshift_sigma, redshift_min : probability of multiplying the wavelengths by
        ``1 + z`` with ``z ~ N(0, sigma**2)`` clipped below at ``redshift_min``
    metadata_dropout : probability of hiding all metadata of an object (set to NaN), so that the
        model also learns to classify without metadata
    """

    subsample_rate: float = 0.25
    min_points: int = 10
    flux_scale_rate: float = 0.2
    flux_scale_max: float = 1.1
    time_shift_rate: float = 0.2
    time_shift_max: float = 10.0
    redshift_rate: float = 0.2
    redshift_sigma: float = 0.1
    redshift_min: float = -0.1
    metadata_dropout: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.endswith("_rate") or f.name == "metadata_dropout":
                value = getattr(self, f.name)
                if not 0.0 <= value <= 1.0:
                    msg = f"{f.name} must be a probability in [0, 1], got {value!r}"
                    raise ValueError(msg)
        if not isinstance(self.min_points, int) or self.min_points < 1:
            msg = f"min_points must be a positive integer, got {self.min_points!r}"
            raise ValueError(msg)
        if not self.flux_scale_max >= 1.0:
            msg = f"flux_scale_max must be >= 1 (range [1/max, max]), got {self.flux_scale_max}"
            raise ValueError(msg)
        if not self.time_shift_max >= 0.0 or not self.redshift_sigma >= 0.0:
            msg = (
                "time_shift_max and redshift_sigma must be >= 0, got "
                f"{self.time_shift_max} and {self.redshift_sigma}"
            )
            raise ValueError(msg)
        if not self.redshift_min > -1.0:
            msg = f"redshift_min must be > -1 (wavelengths stay positive), got {self.redshift_min}"
            raise ValueError(msg)

    @classmethod
    def none(cls) -> AugmentConfig:
        """Return a config that changes nothing (validation and inference)."""
        return cls(
            subsample_rate=0.0,
            flux_scale_rate=0.0,
            time_shift_rate=0.0,
            redshift_rate=0.0,
            metadata_dropout=0.0,
        )


@dataclass(frozen=True)
class Augmented:
    """Augmented light curves plus the per-object time of the first point, (N,) float32."""

    curves: PackedLightCurves
    time_shift: np.ndarray


def _points_of(curves: PackedLightCurves, values: np.ndarray) -> np.ndarray:
    """Broadcast one value per object, (N,), to its points, (P,)."""
    return np.repeat(values, curves.lengths)


def subsample(
    curves: PackedLightCurves, rng: np.random.Generator, *, rate: float, min_points: int
) -> PackedLightCurves:
    """Keep a random, order-preserving subset of the points of a fraction ``rate`` of objects.

    A chosen object with ``n > min_points`` points keeps ``k ~ U{min_points, n - 1}`` of them,
    picked without replacement; shorter objects pass through unchanged.
    """
    lengths = curves.lengths
    chosen = (rng.random(len(curves)) < rate) & (lengths > min_points)
    keep_count = lengths.copy()
    keep_count[chosen] = rng.integers(min_points, lengths[chosen])  # high is exclusive: <= n - 1
    # rank the points of each object by a random key; the k lowest ranks form a uniform subset
    owner = _points_of(curves, np.arange(len(curves)))
    order = np.lexsort((rng.random(len(owner)), owner))  # grouped by object, shuffled within
    rank = np.empty(len(owner), dtype=np.int64)
    rank[order] = np.arange(len(owner)) - curves.offsets[owner[order]]
    kept = np.flatnonzero(rank < keep_count[owner])  # ascending: time order is kept
    return replace(
        curves,
        offsets=np.concatenate([[0], np.cumsum(keep_count)]),
        time=curves.time[kept],
        flux=curves.flux[kept],
        flux_err=curves.flux_err[kept],
        wavelength=curves.wavelength[kept],
        detected=curves.detected[kept],
    )


def scale_flux(
    curves: PackedLightCurves, rng: np.random.Generator, *, rate: float, max_factor: float
) -> PackedLightCurves:
    """Multiply flux and flux_err of a fraction ``rate`` of objects by one ``U[1/max, max]``."""
    factor = np.where(
        rng.random(len(curves)) < rate,
        rng.uniform(1.0 / max_factor, max_factor, len(curves)),
        1.0,
    ).astype(np.float32)
    per_point = _points_of(curves, factor)
    return replace(curves, flux=curves.flux * per_point, flux_err=curves.flux_err * per_point)


def redshift(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    *,
    rate: float,
    sigma: float,
    z_min: float,
) -> PackedLightCurves:
    """Multiply the wavelengths of a fraction ``rate`` of objects by ``1 + z``.

    ``z ~ N(0, sigma**2)`` clipped below at ``z_min`` (a slight blue shift at most).
    """
    z = np.where(
        rng.random(len(curves)) < rate,
        np.maximum(rng.normal(0.0, sigma, len(curves)), z_min),
        0.0,
    ).astype(np.float32)
    return replace(curves, wavelength=curves.wavelength * _points_of(curves, 1.0 + z))


def draw_time_shift(
    n: int, rng: np.random.Generator, *, rate: float, max_shift: float
) -> np.ndarray:
    """Time of the first point for ``n`` objects: ``U[0, max_shift]`` days at ``rate``, else 0."""
    return np.where(rng.random(n) < rate, rng.uniform(0.0, max_shift, n), 0.0).astype(np.float32)


def drop_metadata(
    curves: PackedLightCurves, rng: np.random.Generator, *, rate: float
) -> PackedLightCurves:
    """Set every metadata value of a fraction ``rate`` of objects to NaN (missing)."""
    dropped = rng.random(len(curves)) < rate
    return replace(
        curves, metadata={k: np.where(dropped, np.nan, v) for k, v in curves.metadata.items()}
    )


def augment(
    curves: PackedLightCurves, rng: np.random.Generator, config: AugmentConfig
) -> Augmented:
    """Apply every augmentation of ``config``, each at its own rate, stacked in paper order."""
    curves = subsample(curves, rng, rate=config.subsample_rate, min_points=config.min_points)
    curves = scale_flux(curves, rng, rate=config.flux_scale_rate, max_factor=config.flux_scale_max)
    shift = draw_time_shift(
        len(curves), rng, rate=config.time_shift_rate, max_shift=config.time_shift_max
    )
    curves = redshift(
        curves,
        rng,
        rate=config.redshift_rate,
        sigma=config.redshift_sigma,
        z_min=config.redshift_min,
    )
    curves = drop_metadata(curves, rng, rate=config.metadata_dropout)
    return Augmented(curves=curves, time_shift=shift)


def collate_augmented(
    curves: PackedLightCurves,
    index: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig,
    *,
    max_points: int,
    metadata_names: tuple[str, ...] = (),
) -> Batch:
    """Augment objects ``index`` of ``curves`` and pad them into a :class:`Batch`.

    The drawn time shift is added to every real point after collation, which re-zeroed the
    curves (see the module docstring); padding stays at 0.
    """
    augmented = augment(curves.subset(index), rng, config)
    batch = collate(
        augmented.curves,
        np.arange(len(index)),
        max_points=max_points,
        metadata_names=metadata_names,
    )
    shift = torch.from_numpy(augmented.time_shift)[:, None] * batch.mask  # (B, T)
    return replace(batch, time=batch.time + shift)
