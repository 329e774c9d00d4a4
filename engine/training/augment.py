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
from engine.data.photometry import object_band_groups
from engine.training.distance import move_distance
from engine.training.metadata import MetadataScaler
from engine.training.surveys import SurveyProfile, degrade_mixture, resolve_profile


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
    distance_rate, distance_z_ratio, distance_galactic_mag : probability of moving an object to
        another distance, :func:`engine.training.distance.move_distance`: extragalactic objects
        to ``z1 · r``, ``r`` log-uniform in ``distance_z_ratio``; galactic ones brightened or
        dimmed by ``U[distance_galactic_mag]`` mag
    survey_rate, survey_profiles, survey_weights, survey_min_points : probability of observing
        an object with one of ``survey_profiles`` (built-in names of
        :data:`engine.training.surveys.PROFILES` or ``.toml`` profile paths), drawn with
        ``survey_weights`` (empty: equal); objects left with fewer than ``survey_min_points``
        points keep their curve (:func:`engine.training.surveys.degrade_mixture`)
    survey_depth_match_rate : probability that an object given a survey profile is first moved
        so its brightest point lands 0.5-3 mag above the survey's depth
        (:func:`engine.training.distance.move_to_depth`): shallow surveys such as ZTF and ATLAS
        see few PLAsTiCC objects at their own distance
    total_rate : probability of giving an object total photometry (a steady reference level),
        then subtracting each band's median as the model door does; total profiles (SDSS, Gaia)
        always do
    wavelength_jitter : sigma of a per-object-band factor ``1 + N(0, sigma²)`` on wavelengths,
        so the model does not memorise six wavelengths
    metadata_field_dropout : probability of hiding each metadata value on its own
        (independently of ``metadata_dropout``, which hides all of an object's metadata)

    The fields after ``metadata_dropout`` default to off: a config without them trains exactly
    as before they existed.
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
    distance_rate: float = 0.0
    distance_z_ratio: tuple[float, float] = (0.2, 1.5)
    distance_galactic_mag: tuple[float, float] = (-1.0, 1.5)
    survey_rate: float = 0.0
    survey_profiles: tuple[str, ...] = ()
    survey_weights: tuple[float, ...] = ()
    survey_min_points: int = 3
    survey_depth_match_rate: float = 0.0
    total_rate: float = 0.0
    wavelength_jitter: float = 0.0
    metadata_field_dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "distance_z_ratio",
            "distance_galactic_mag",
            "survey_profiles",
            "survey_weights",
        ):  # TOML gives lists
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for f in fields(self):
            if f.name.endswith(("_rate", "_dropout")):
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
        self._check_survey_fields()

    def _check_survey_fields(self) -> None:
        low, high = _pair("distance_z_ratio", self.distance_z_ratio)
        if not 0 < low <= high:
            msg = f"distance_z_ratio must be [low, high] with 0 < low <= high, got {[low, high]}"
            raise ValueError(msg)
        low, high = _pair("distance_galactic_mag", self.distance_galactic_mag)
        if not low <= high:
            msg = f"distance_galactic_mag must be [low, high] with low <= high, got {[low, high]}"
            raise ValueError(msg)
        if self.survey_rate > 0 and not self.survey_profiles:
            msg = f"survey_rate is {self.survey_rate} but survey_profiles is empty"
            raise ValueError(msg)
        self.profiles()  # unknown names and unreadable files fail here, not mid-run
        weights = self.survey_weights
        if weights and (
            len(weights) != len(self.survey_profiles) or min(weights) < 0 or not sum(weights) > 0
        ):
            msg = (
                "survey_weights must be empty or one non-negative weight per survey profile "
                f"{list(self.survey_profiles)} with a positive sum, got {list(weights)}"
            )
            raise ValueError(msg)
        if not isinstance(self.survey_min_points, int) or self.survey_min_points < 1:
            msg = f"survey_min_points must be a positive integer, got {self.survey_min_points!r}"
            raise ValueError(msg)
        if not 0.0 <= self.wavelength_jitter < 0.5:
            msg = f"wavelength_jitter must be in [0, 0.5), got {self.wavelength_jitter!r}"
            raise ValueError(msg)

    def profiles(self) -> tuple[SurveyProfile, ...]:
        """Resolve ``survey_profiles`` to profiles (see ``resolve_profile``)."""
        return tuple(resolve_profile(name) for name in self.survey_profiles)

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


def _pair(name: str, value: tuple) -> tuple[float, float]:
    if len(value) != 2:
        msg = f"{name} must be a pair [low, high], got {list(value)}"
        raise ValueError(msg)
    return float(value[0]), float(value[1])


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


def jitter_wavelengths(
    curves: PackedLightCurves, rng: np.random.Generator, *, sigma: float
) -> PackedLightCurves:
    """Multiply each (object, band) wavelength by its own ``1 + N(0, sigma²)``; none if 0."""
    if sigma == 0:
        return curves
    _, group = object_band_groups(curves)
    factor = 1.0 + sigma * rng.standard_normal(int(group.max(initial=-1)) + 1)
    return replace(curves, wavelength=(curves.wavelength * factor[group]).astype(np.float32))


def drop_metadata_fields(
    curves: PackedLightCurves, rng: np.random.Generator, *, rate: float
) -> PackedLightCurves:
    """Set each metadata value to NaN on its own with probability ``rate``; none if 0."""
    if rate == 0:
        return curves
    return replace(
        curves,
        metadata={
            k: np.where(rng.random(len(v)) < rate, np.nan, v) for k, v in curves.metadata.items()
        },
    )


def augment(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    config: AugmentConfig,
    *,
    scaler: MetadataScaler | None = None,
) -> Augmented:
    """Apply every augmentation of ``config``, each at its own rate, stacked in paper order.

    The survey steps (distance, survey profile, total photometry, wavelength jitter, per-field
    metadata dropout) come where they are physically meaningful: distance before the survey
    observes the object, jitter after its bands are known. They need the *raw* metadata
    (``hostgal_photoz``), so ``curves`` carry raw metadata and ``scaler``, when given, scales
    the model's metadata columns last. Steps that are off draw nothing, so a config without the
    survey steps gives the same curves as before they existed.
    """
    curves = subsample(curves, rng, rate=config.subsample_rate, min_points=config.min_points)
    curves = scale_flux(curves, rng, rate=config.flux_scale_rate, max_factor=config.flux_scale_max)
    shift = draw_time_shift(
        len(curves), rng, rate=config.time_shift_rate, max_shift=config.time_shift_max
    )
    curves = move_distance(
        curves,
        rng,
        rate=config.distance_rate,
        z_ratio=config.distance_z_ratio,
        galactic_mag=config.distance_galactic_mag,
    )
    curves = degrade_mixture(
        curves,
        rng,
        config.profiles(),
        rate=config.survey_rate,
        weights=config.survey_weights or None,
        total_rate=config.total_rate,
        depth_match_rate=config.survey_depth_match_rate,
        min_points=config.survey_min_points,
    )
    curves = redshift(
        curves,
        rng,
        rate=config.redshift_rate,
        sigma=config.redshift_sigma,
        z_min=config.redshift_min,
    )
    curves = jitter_wavelengths(curves, rng, sigma=config.wavelength_jitter)
    curves = drop_metadata(curves, rng, rate=config.metadata_dropout)
    curves = drop_metadata_fields(curves, rng, rate=config.metadata_field_dropout)
    if scaler is not None:
        curves = replace(curves, metadata=scaler.transform_columns(curves.metadata))
    return Augmented(curves=curves, time_shift=shift)


def collate_augmented(
    curves: PackedLightCurves,
    index: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig,
    *,
    max_points: int,
    metadata_names: tuple[str, ...] = (),
    scaler: MetadataScaler | None = None,
) -> Batch:
    """Augment objects ``index`` of ``curves`` and pad them into a :class:`Batch`.

    The drawn time shift is added to every real point after collation, which re-zeroed the
    curves (see the module docstring); padding stays at 0. ``scaler`` scales the raw metadata
    after augmentation (see :func:`augment`).
    """
    augmented = augment(curves.subset(index), rng, config, scaler=scaler)
    batch = collate(
        augmented.curves,
        np.arange(len(index)),
        max_points=max_points,
        metadata_names=metadata_names,
    )
    shift = torch.from_numpy(augmented.time_shift)[:, None] * batch.mask  # (B, T)
    return replace(batch, time=batch.time + shift)
