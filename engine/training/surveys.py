"""Survey profiles: make PLAsTiCC light curves look as another survey would have observed them.

Every shipped model learns from PLAsTiCC, deep LSST ugrizy difference photometry with
non-detections, and is confidently wrong on other surveys' light curves. A
:class:`SurveyProfile` is a small declarative description of a survey (bands with wavelengths,
single-visit depth, cadence, observing seasons, detection rule, photometry kind), and
:func:`degrade` turns PLAsTiCC curves into what that survey would deliver:

1. **Bands**: each profile band takes the object's points of the source band nearest to it in
   wavelength (within ``band_tolerance``, relative), and those points get the profile band's
   wavelength; source bands no profile band takes are dropped. One source band per profile band,
   so a profile band never mixes two colours. ``max_bands`` keeps a random subset of the bands
   an object has (``one_band``: a single band).
2. **Cadence and seasons**: each (object, band) keeps its points with probability
   ``min(1, median gap / cadence_days)``, so the mean gap between visits within a season becomes
   ``cadence_days``; with ``season_days``, only points within a season of that length per
   365.25 d are kept, the season phase random per object but always covering the object's
   highest-SNR point (a survey that never saw the event would give a label on pure noise).
3. **Depth**: the noise is raised to the profile's single-visit depth: ``σ_depth`` is the
   FLUXCAL flux of the 5σ limiting magnitude divided by 5, the new error is
   ``max(err, σ_depth)`` and Gaussian noise of variance ``new² - err²`` is added to the flux.
4. **Detection rule** on the degraded flux: ``"detections"`` keeps only points with
   ``flux / err >= snr_threshold`` (an alert stream); ``"all"`` keeps every point (forced
   photometry) and sets ``detected`` to that test.
5. **Total photometry** (``photometry = "total"``, or chosen at random in training): a steady
   reference level is added per object and band (:func:`add_reference`), and the object is
   marked total; :func:`degrade` then subtracts each band's median with
   :func:`engine.data.photometry.subtract_band_reference`, exactly as the model door
   (:meth:`~engine.data.packed.PackedLightCurves.from_frame`) does at inference.

Built-in profiles are in :data:`PROFILES`; :meth:`SurveyProfile.from_toml` reads a user's.
Everything is vectorised over objects and points (loops run over the few bands or profiles
only) and draws from the NumPy generator it is given.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from engine.data.bands import WAVELENGTHS
from engine.data.packed import PackedLightCurves
from engine.data.photometry import (
    FLUX_KIND_COLUMN,
    FLUX_KINDS,
    REFERENCE_WAVELENGTH,
    object_band_groups,
    subtract_band_reference,
)
from engine.data.schema import ZERO_POINT, check_table
from engine.training.distance import REDSHIFT_METADATA, move_to_depth, raise_noise
from engine.training.objectives.views import keep_points

DetectionRule = Literal["all", "detections"]
DETECTION_RULES: tuple[DetectionRule, ...] = ("all", "detections")
#: days of one observing year (season phases repeat with it)
YEAR_DAYS = 365.25
#: relative calibration error of total photometry, added in quadrature to the reference level
#: (the ~1 % systematic floor of catalogue photometry, e.g. SDSS and Gaia)
TOTAL_CALIBRATION_ERROR = 0.01
#: the reference level of simulated total photometry is ``U[depth - 5, depth - 1]`` mag in the
#: band nearest :data:`~engine.data.photometry.REFERENCE_WAVELENGTH`, brighter towards the red by
#: ``U[0, 1]`` mag per 1,000 Å (most stars and host galaxies are red)
REFERENCE_MAG_BELOW_DEPTH = (1.0, 5.0)
REFERENCE_COLOUR_RANGE = (0.0, 1.0)


def depth_noise(depth_mag: np.ndarray | float) -> np.ndarray:
    """FLUXCAL 1σ noise of a point at the 5σ single-visit limiting magnitude ``depth_mag``."""
    return 10.0 ** (-0.4 * (np.asarray(depth_mag, dtype=np.float64) - ZERO_POINT)) / 5.0


@dataclass(frozen=True)
class SurveyProfile:
    """What a survey delivers: bands, depth, cadence, seasons, detection rule, photometry kind.

    Attributes
    ----------
    name : profile name, e.g. ``"ztf"``
    bands : canonical band name (see :mod:`engine.data.bands`) -> central wavelength (Å);
        the degraded points carry these names and wavelengths
    depth : band name -> 5σ single-visit limiting AB magnitude (same keys as ``bands``)
    cadence_days : mean days between visits of one band within a season; ``None`` keeps every
        epoch (PLAsTiCC's cadence is never made denser)
    season_days : observing-season length per 365.25 d; ``None`` means no seasonal gaps
    detection : ``"detections"`` keeps only points with ``flux / err >= snr_threshold`` (alert
        streams); ``"all"`` keeps forced photometry including non-detections
    snr_threshold : signal-to-noise of a detection
    photometry : ``"difference"`` (alerts, difference imaging) or ``"total"`` (catalogues)
    max_bands : keep at most this many bands per object, chosen at random among those it has
        (``None``: all)
    band_tolerance : largest relative wavelength distance at which a source band is mapped
    """

    name: str
    bands: dict[str, float]
    depth: dict[str, float]
    cadence_days: float | None = None
    season_days: float | None = None
    detection: DetectionRule = "all"
    snr_threshold: float = 5.0
    photometry: Literal["difference", "total"] = "difference"
    max_bands: int | None = None
    band_tolerance: float = 0.2

    def __post_init__(self) -> None:
        def fail(field: str, value: Any, expected: str) -> None:
            msg = f"survey profile {self.name!r}: {field} must be {expected}, got {value!r}"
            raise ValueError(msg)

        if not isinstance(self.name, str) or not self.name:
            fail("name", self.name, "a non-empty string")
        if not isinstance(self.bands, Mapping) or not self.bands:
            fail("bands", self.bands, "a non-empty table of band name -> wavelength (Å)")
        for band, wavelength in self.bands.items():
            if not isinstance(wavelength, int | float) or not 100.0 <= wavelength <= 1e6:
                fail(f"bands[{band!r}]", wavelength, "a wavelength in Å between 100 and 1e6")
        if not isinstance(self.depth, Mapping) or set(self.depth) != set(self.bands):
            fail("depth", self.depth, f"a limiting magnitude for each band {sorted(self.bands)}")
        for band, mag in self.depth.items():
            if not isinstance(mag, int | float) or not 10.0 <= mag <= 35.0:
                fail(f"depth[{band!r}]", mag, "an AB magnitude between 10 and 35")
        if self.cadence_days is not None and not self.cadence_days > 0:
            fail("cadence_days", self.cadence_days, "None or a positive number of days")
        if self.season_days is not None and not 0 < self.season_days <= YEAR_DAYS:
            fail("season_days", self.season_days, f"None or days in (0, {YEAR_DAYS}]")
        if self.detection not in DETECTION_RULES:
            fail("detection", self.detection, f"one of {list(DETECTION_RULES)}")
        if not isinstance(self.snr_threshold, int | float) or not 0 <= self.snr_threshold < 1e3:
            fail("snr_threshold", self.snr_threshold, "a number in [0, 1000)")
        if self.photometry not in FLUX_KINDS:
            fail("photometry", self.photometry, f"one of {list(FLUX_KINDS)}")
        if self.max_bands is not None and (
            not isinstance(self.max_bands, int) or not 1 <= self.max_bands <= len(self.bands)
        ):
            fail("max_bands", self.max_bands, f"None or an integer in [1, {len(self.bands)}]")
        if not isinstance(self.band_tolerance, int | float) or not self.band_tolerance > 0:
            fail("band_tolerance", self.band_tolerance, "a positive relative distance")
        # band order by wavelength, so arrays below are indexed by band number
        order = sorted(self.bands, key=self.bands.__getitem__)
        object.__setattr__(self, "bands", {b: float(self.bands[b]) for b in order})
        object.__setattr__(self, "depth", {b: float(self.depth[b]) for b in order})

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SurveyProfile:
        """Build a profile from plain values (a TOML table).

        ``bands`` is either a table ``name -> wavelength`` or a list of canonical band names
        whose wavelengths come from :data:`engine.data.bands.WAVELENGTHS`. Unknown keys and
        unknown band names raise ``ValueError``.
        """
        values = dict(values)
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - allowed)
        if unknown:
            msg = f"survey profile has unknown keys {unknown}; allowed: {sorted(allowed)}"
            raise ValueError(msg)
        bands = values.get("bands")
        if isinstance(bands, list):
            missing = [b for b in bands if b not in WAVELENGTHS]
            if missing:
                msg = (
                    f"survey profile {values.get('name')!r}: bands {missing} are not canonical "
                    f"band names; known: {sorted(WAVELENGTHS)} (or give a table name = Å)"
                )
                raise ValueError(msg)
            values["bands"] = {b: WAVELENGTHS[b] for b in bands}
        try:
            return cls(**values)
        except TypeError as exc:  # name, bands or depth missing
            msg = f"survey profile is incomplete: {exc}"
            raise ValueError(msg) from exc

    @classmethod
    def from_toml(cls, path: str | Path) -> SurveyProfile:
        """Read a profile from a TOML file whose top level holds the fields (see ``from_dict``)."""
        try:
            values = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            msg = f"{path}: cannot read a survey profile ({exc})"
            raise ValueError(msg) from exc
        return cls.from_dict(values)

    @property
    def band_names(self) -> tuple[str, ...]:
        """Band names in wavelength order."""
        return tuple(self.bands)

    @property
    def wavelengths(self) -> np.ndarray:
        """Band wavelengths (Å) in wavelength order, (B,) float32."""
        return np.array(list(self.bands.values()), dtype=np.float32)

    @property
    def noise_floor(self) -> np.ndarray:
        """FLUXCAL 1σ noise at each band's depth, (B,) float64 (see :func:`depth_noise`)."""
        return depth_noise(np.array(list(self.depth.values())))

    @property
    def reference_depth(self) -> float:
        """Depth of the band nearest :data:`~engine.data.photometry.REFERENCE_WAVELENGTH`."""
        nearest = np.argmin(np.abs(self.wavelengths - REFERENCE_WAVELENGTH))
        return float(list(self.depth.values())[nearest])


def _profile(name: str, bands: Sequence[str], depth: Sequence[float], **rest) -> SurveyProfile:
    return SurveyProfile(
        name, {b: WAVELENGTHS[b] for b in bands}, dict(zip(bands, depth, strict=True)), **rest
    )


_LSST = tuple(f"lsst_{f}" for f in "ugrizy")
#: LSST single-visit 5σ depths, Ivezić et al. 2019 (ApJ 873, 111), Table 2
_LSST_DEPTH = (23.9, 25.0, 24.7, 24.0, 23.3, 22.1)

#: built-in profiles; typical values, sourced in the comments
PROFILES: dict[str, SurveyProfile] = {
    p.name: p
    for p in (
        # the source survey itself: only raises errors to the LSST depth where they are lower
        _profile("lsst", _LSST, _LSST_DEPTH),
        # ZTF: median 5σ 20.8 (g), 20.6 (r), 19.9 (i) in 30 s (Bellm et al. 2019, PASP 131,
        # 018002; Masci et al. 2019); ~3 d public cadence; alerts: detections at SNR >= 5
        _profile(
            "ztf",
            ("ztf_g", "ztf_r", "ztf_i"),
            (20.8, 20.6, 19.9),
            cadence_days=3.0,
            detection="detections",
        ),
        # ATLAS: 5σ ~19.7 (c), ~19.5 (o) in 30 s, each field every ~2 nights (Tonry et al.
        # 2018, PASP 130, 064505); alerts on difference images
        _profile(
            "atlas", ("atlas_c", "atlas_o"), (19.7, 19.5), cadence_days=2.0, detection="detections"
        ),
        # SDSS Stripe 82: 5σ 22.0/22.2/22.2/21.3/20.5 (Abazajian et al. 2009, ApJS 182, 543),
        # ~90 d autumn seasons visited every ~4 nights (SDSS-II SN survey, Frieman et al. 2008);
        # catalogue (total) photometry of every epoch
        _profile(
            "sdss",
            tuple(f"sdss_{f}" for f in "ugriz"),
            (22.0, 22.2, 22.2, 21.3, 20.5),
            cadence_days=4.0,
            season_days=90.0,
            photometry="total",
        ),
        # Gaia: G ~20.7, BP ~20.3, RP ~19.8 (Gaia Collaboration 2016, A&A 595, A1; Riello et al.
        # 2021); ~40 epochs in 34 months of DR3, i.e. one every ~30 d; total epoch photometry
        _profile(
            "gaia",
            ("gaia_bp", "gaia_g", "gaia_rp"),
            (20.3, 20.7, 19.8),
            cadence_days=30.0,
            photometry="total",
        ),
        # Pan-STARRS1 3π: single-epoch 5σ 22.0/21.8/21.5/20.9/19.7 (Chambers et al. 2016,
        # arXiv:1612.05560); a sparse survey, ~20 d between visits of a band; difference imaging
        _profile(
            "ps1",
            tuple(f"ps1_{f}" for f in "grizy"),
            (22.0, 21.8, 21.5, 20.9, 19.7),
            cadence_days=20.0,
        ),
        # one band per object, picked at random among the LSST bands it has
        _profile("one_band", _LSST, _LSST_DEPTH, max_bands=1),
        # an alert broker's view at LSST depth: g and r only, detections at SNR >= 5 only (the
        # in-domain reduction that costs a PLAsTiCC-only model most of its SNe Ia)
        _profile("lsst_gr_alerts", _LSST[1:3], _LSST_DEPTH[1:3], detection="detections"),
    )
}


@cache
def resolve_profile(name_or_path: str) -> SurveyProfile:
    """Return a built-in profile by name (:data:`PROFILES`) or a user's from a ``.toml`` path.

    Files are read once per process (the result is cached).
    """
    if name_or_path in PROFILES:
        return PROFILES[name_or_path]
    if name_or_path.endswith(".toml"):
        return SurveyProfile.from_toml(name_or_path)
    msg = (
        f"unknown survey profile {name_or_path!r}: give one of {sorted(PROFILES)} "
        "or the path of a .toml profile file"
    )
    raise ValueError(msg)


@dataclass(frozen=True)
class Observation:
    """Degraded light curves, and which objects now hold total photometry, (N,) bool."""

    curves: PackedLightCurves
    total: np.ndarray


def _owner(curves: PackedLightCurves) -> np.ndarray:
    return np.repeat(np.arange(len(curves)), curves.lengths)


def _map_bands(
    curves: PackedLightCurves, profile: SurveyProfile, on: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Profile band of every point, (P,) int, and which points of ``on`` (P,) it keeps."""
    owner = _owner(curves)
    targets = profile.wavelengths.astype(np.float64)
    wavelength = curves.wavelength.astype(np.float64)
    distance = np.abs(wavelength[:, None] - targets[None, :]) / targets[None, :]  # (P, B)
    band = np.argmin(distance, axis=1)
    nearest = distance[np.arange(len(band)), band]
    n_bands = len(targets)
    key = owner * n_bands + band
    # one source band per profile band: the object's wavelength nearest to it
    best = np.full(len(curves) * n_bands, np.inf)
    np.minimum.at(best, key[on], nearest[on])
    mapped = on & (nearest <= profile.band_tolerance) & (nearest == best[key])
    if profile.max_bands is not None and profile.max_bands < n_bands:
        present = np.bincount(key[mapped], minlength=len(best)).reshape(-1, n_bands) > 0
        draw = np.where(present, rng.random(present.shape), np.inf)
        rank = np.argsort(np.argsort(draw, axis=1), axis=1)
        mapped &= (rank < profile.max_bands).ravel()[key]
    return band, mapped


def _group_median_gap(time: np.ndarray, key: np.ndarray, n_keys: int) -> np.ndarray:
    """Median gap between consecutive times of each key, (n_keys,), NaN with < 2 points."""
    order = np.lexsort((time, key))
    same = key[order][1:] == key[order][:-1]
    gap_key, gap = key[order][1:][same], np.diff(time[order])[same]
    by_key = np.lexsort((gap, gap_key))  # gaps sorted within each key
    gap_key, gap = gap_key[by_key], gap[by_key]
    count = np.bincount(gap_key, minlength=n_keys)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    has = count > 0
    low = start[has] + (count[has] - 1) // 2
    high = start[has] + count[has] // 2
    out = np.full(n_keys, np.nan)
    out[has] = 0.5 * (gap[low] + gap[high])
    return out


def _cadence_and_seasons(
    curves: PackedLightCurves,
    profile: SurveyProfile,
    band: np.ndarray,
    keep: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Which of the ``keep`` points survive cadence thinning and seasonal gaps, (P,) bool."""
    owner = _owner(curves)
    n_bands = len(profile.bands)
    key = owner * n_bands + band
    if profile.cadence_days is not None:
        gap = _group_median_gap(curves.time[keep], key[keep], len(curves) * n_bands)
        probability = np.where(np.isfinite(gap), np.minimum(gap / profile.cadence_days, 1.0), 1.0)
        keep = keep & (rng.random(len(keep)) < probability[key])
    if profile.season_days is not None:
        snr = np.where(keep, curves.flux / curves.flux_err, -np.inf)
        order = np.lexsort((snr, owner))
        last = np.maximum(curves.offsets[1:] - 1, 0)
        peak_time = curves.time[order[last]] if len(order) else np.zeros(len(curves))
        start = peak_time - rng.uniform(0.0, profile.season_days, len(curves))
        phase = np.mod(curves.time - start[owner], YEAR_DAYS)
        keep = keep & (phase < profile.season_days)
    return keep


def add_reference(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    chosen: np.ndarray,
    *,
    depth: float,
) -> PackedLightCurves:
    """Turn the difference photometry of the ``chosen`` objects (N,) bool into total photometry.

    Each chosen object gets a steady source: ``m_ref ~ U[depth - 5, depth - 1]`` mag at
    :data:`~engine.data.photometry.REFERENCE_WAVELENGTH`, brighter towards the red by ``U[0, 1]``
    mag per 1,000 Å, so every band has its own level; the level of a band is raised further by the
    depth of its lowest point below zero, so total fluxes stay positive. The errors gain
    :data:`TOTAL_CALIBRATION_ERROR` of the level in quadrature, with noise drawn to match.
    ``depth`` is the survey's limiting magnitude near the reference wavelength.
    """
    owner, group = object_band_groups(curves)
    n = len(curves)
    m_ref = depth - rng.uniform(*REFERENCE_MAG_BELOW_DEPTH, n)
    colour = rng.uniform(*REFERENCE_COLOUR_RANGE, n)
    mag = m_ref[owner] - colour[owner] * (curves.wavelength - REFERENCE_WAVELENGTH) / 1000.0
    lowest = np.zeros(int(group.max(initial=-1)) + 1)
    np.minimum.at(lowest, group, curves.flux.astype(np.float64))
    on = chosen[owner]
    level = np.where(on, 10.0 ** (-0.4 * (mag - ZERO_POINT)) - lowest[group], 0.0)
    target = np.hypot(curves.flux_err, TOTAL_CALIBRATION_ERROR * level)
    flux, flux_err = raise_noise(curves.flux + level, curves.flux_err, target, rng)
    return replace(curves, flux=flux, flux_err=flux_err)


def observe(
    curves: PackedLightCurves,
    profile: SurveyProfile,
    rng: np.random.Generator,
    *,
    chosen: np.ndarray | None = None,
    total: np.ndarray | None = None,
) -> Observation:
    """Degrade the ``chosen`` objects (N,) bool (default all) as ``profile`` would observe them.

    Steps 1-5 of the module docstring, with no fallback: an object may be left with few or no
    points, and total photometry is *not* converted back (see :func:`degrade`). ``total`` (N,)
    bool additionally gives difference profiles total photometry for those objects. Other
    objects are returned unchanged, in the same order.
    """
    n = len(curves)
    chosen = np.ones(n, bool) if chosen is None else np.asarray(chosen, bool)
    on = chosen[_owner(curves)]
    band, keep = _map_bands(curves, profile, on, rng)
    keep = _cadence_and_seasons(curves, profile, band, keep, rng)
    wavelength = np.where(on, profile.wavelengths[band], curves.wavelength)
    floor = np.where(on, profile.noise_floor[band], 0.0)
    flux, flux_err = raise_noise(curves.flux, curves.flux_err, floor, rng)
    detected = np.where(on, flux / flux_err >= profile.snr_threshold, curves.detected)
    if profile.detection == "detections":
        keep &= detected
    curves = keep_points(
        replace(curves, wavelength=wavelength, flux=flux, flux_err=flux_err, detected=detected),
        keep | ~on,
    )
    as_total = chosen & (profile.photometry == "total")
    if total is not None:
        as_total |= chosen & np.asarray(total, bool)
    if as_total.any():
        curves = add_reference(curves, rng, as_total, depth=profile.reference_depth)
    return Observation(curves, as_total)


def _concatenate(pieces: Sequence[tuple[np.ndarray, PackedLightCurves]], n: int):
    """Packed curves of ``n`` objects from pieces ``(object indices, curves of those objects)``.

    The pieces together hold each object once; a metadata column missing from a piece is NaN
    for its objects.
    """
    index = np.concatenate([i for i, _ in pieces])
    parts = [c for _, c in pieces]
    lengths = np.concatenate([c.lengths for c in parts])
    names = dict.fromkeys(k for c in parts for k in c.metadata)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(c, name) for c in parts])

    joined = replace(
        parts[0],
        object_id=cat("object_id"),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        **{name: cat(name) for name in ("time", "flux", "flux_err", "wavelength", "detected")},
        label=None if parts[0].label is None else cat("label"),
        metadata={
            k: np.concatenate([c.metadata.get(k, np.full(len(c), np.nan)) for c in parts])
            for k in names
        },
    )
    order = np.empty(n, np.int64)
    order[index] = np.arange(n)
    return joined.subset(order)


def finish(
    original: PackedLightCurves,
    observation: Observation,
    *,
    min_points: int,
    convert_total: bool,
) -> PackedLightCurves:
    """Training form of an :class:`Observation` of ``original``.

    Objects left with fewer than ``min_points`` points keep their original curve (a batch
    never holds an empty or near-empty light curve; the survey would not have reported them),
    and, when ``convert_total``, total photometry is turned back into difference photometry
    with :func:`~engine.data.photometry.subtract_band_reference`, as the model door does.
    """
    curves = observation.curves
    short = curves.lengths < min_points
    if short.any():
        short_index, kept_index = np.flatnonzero(short), np.flatnonzero(~short)
        curves = _concatenate(
            [(short_index, original.subset(short_index)), (kept_index, curves.subset(kept_index))],
            len(curves),
        )
    total = observation.total & ~short
    if convert_total and total.any():
        curves = subtract_band_reference(curves, total)
    return curves


def degrade(
    curves: PackedLightCurves,
    profile: SurveyProfile,
    rng: np.random.Generator,
    *,
    min_points: int = 3,
    convert_total: bool = True,
) -> PackedLightCurves:
    """Every object as ``profile`` would observe it (module docstring), in training form.

    Objects with fewer than ``min_points`` points left keep their original curve (see
    :func:`finish`); with ``convert_total`` (the default) total photometry is converted back
    to difference photometry as at the model door. :func:`observe` gives the raw observation.
    """
    return finish(
        curves, observe(curves, profile, rng), min_points=min_points, convert_total=convert_total
    )


def degrade_mixture(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    profiles: Sequence[SurveyProfile],
    *,
    rate: float,
    weights: Sequence[float] | None = None,
    total_rate: float = 0.0,
    depth_match_rate: float = 0.0,
    min_points: int = 3,
) -> PackedLightCurves:
    """Degrade a fraction ``rate`` of objects, each by one of ``profiles`` drawn by ``weights``.

    A further fraction ``total_rate`` of all objects (degraded or not) is given total
    photometry whatever the profile's kind (objects no profile observes get an LSST-depth
    reference level). A fraction ``depth_match_rate`` of the degraded objects is first moved
    to a distance at which the survey sees them (:func:`engine.training.distance.move_to_depth`
    to the profile's :attr:`~SurveyProfile.reference_depth`). Each profile works on its own
    objects only; short results fall back to the original (unmoved) curve and total
    photometry is converted back, as in :func:`degrade`. Nothing is drawn when ``rate`` and
    ``total_rate`` are 0. The reference metadata (``ref_mag``, ``ref_colour``) is NaN for
    objects left in difference photometry.
    """
    n = len(curves)
    if (rate == 0 or not profiles) and total_rate == 0:
        return curves
    probability = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    assigned = np.where(rng.random(n) < rate, rng.choice(len(profiles), n, p=probability), -1)
    total = rng.random(n) < total_rate if total_rate > 0 else np.zeros(n, bool)
    untouched = np.flatnonzero((assigned < 0) & ~total)
    pieces = [(untouched, curves.subset(untouched))]
    groups = [(np.flatnonzero(assigned == k), p) for k, p in enumerate(profiles)]
    for index, profile in [*groups, (np.flatnonzero((assigned < 0) & total), None)]:
        if not len(index):
            continue  # a loop over the few profiles, not the objects
        part = curves.subset(index)
        if profile is None:  # total photometry of LSST objects
            everyone = np.ones(len(index), bool)
            depth = PROFILES["lsst"].reference_depth
            observation = Observation(add_reference(part, rng, everyone, depth=depth), everyone)
        else:
            moved = move_to_depth(part, rng, rate=depth_match_rate, depth=profile.reference_depth)
            observation = observe(moved, profile, rng, total=total[index])
        pieces.append((index, finish(part, observation, min_points=min_points, convert_total=True)))
    return _concatenate(pieces, n)


def degrade_table(
    table: pl.DataFrame,
    profile: SurveyProfile,
    *,
    seed: int,
    min_points: int = 1,
    depth_match: bool = False,
) -> pl.DataFrame:
    """Return a canonical table (:mod:`engine.data.schema`) as ``profile`` would observe it.

    Points carry the profile's canonical band names and wavelengths. Objects with fewer than
    ``min_points`` points left are dropped: the input ids missing from the output are the
    objects the survey would not have observed (report them as such). Every output row has
    :data:`~engine.data.photometry.FLUX_KIND_COLUMN`: ``"total"`` for total profiles, whose
    fluxes are left total (the model door converts them), else ``"difference"``. Labels are
    kept; metadata too, unless ``depth_match`` first moves every object to a distance at which
    the survey sees it (:func:`~engine.training.distance.move_to_depth`, the population a
    shallow survey really observes), which updates the redshift metadata. ``seed`` makes the
    draws reproducible.
    """
    table = check_table(table)
    rng = np.random.default_rng(seed)
    curves = PackedLightCurves.from_frame(table)
    if depth_match:
        curves = move_to_depth(curves, rng, rate=1.0, depth=profile.reference_depth)
        table = table.with_columns(
            pl.Series(name, values).fill_nan(None).cast(table[name].dtype)
            for name, values in curves.metadata.items()
            if name in REDSHIFT_METADATA and name in table.columns
        )
    observation = observe(curves, profile, rng)
    out = observation.curves
    names = np.array(profile.band_names)
    band = names[np.searchsorted(profile.wavelengths, out.wavelength)]
    points = pl.DataFrame(
        {
            "object_id": np.repeat(out.object_id, out.lengths),
            "time": out.time,
            "band": band,
            "wavelength": out.wavelength,
            "flux": out.flux,
            "flux_err": out.flux_err,
            "detected": out.detected,
        },
        schema_overrides={"wavelength": pl.Float32, "flux": pl.Float32, "flux_err": pl.Float32},
    )
    lists = points.group_by("object_id", maintain_order=True).agg(pl.all())
    lists = lists.filter(pl.col("time").list.len() >= min_points)
    rest = table.drop("time", "band", "wavelength", "flux", "flux_err", "detected")
    rest = rest.drop(FLUX_KIND_COLUMN, strict=False).with_columns(
        pl.lit(profile.photometry, dtype=pl.String).alias(FLUX_KIND_COLUMN)
    )
    return check_table(lists.join(rest, on="object_id", how="inner", maintain_order="left"))


def survey_copies(
    profiles: Sequence[str], *, seed: int = 0
) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """Return a function adding to a table each object observed once more by one of ``profiles``.

    Each object gets one profile drawn at random (seeded) and is degraded to it with
    :func:`engine.training.surveys.degrade_table` (objects left with fewer than 3 points are
    left out); copies get the id ``<id>@<profile>``. Used to give a model trained with
    survey augmentation the same mixture of objects where it is measured: its domain reference
    (:mod:`engine.infer.domain_build`) and its calibration (:mod:`engine.infer.calibrate`).
    """
    resolved = [resolve_profile(name) for name in profiles]

    def copies(table: pl.DataFrame) -> pl.DataFrame:
        chosen = np.random.default_rng(seed).integers(len(resolved), size=table.height)
        observed = [
            degrade_table(
                table.filter(chosen == i), profile, seed=seed + i, min_points=3
            ).with_columns(pl.col("object_id") + f"@{profile.name}")
            for i, profile in enumerate(resolved)
            if (chosen == i).any()
        ]
        return pl.concat(observed, how="diagonal_relaxed")

    return copies
