"""Move light curves to another distance: redshift extragalactic objects, shift galactic ones.

Extragalactic objects (``hostgal_photoz > 0`` in the raw metadata) are moved from their
redshift ``z1`` to a new ``z2`` after avocado (Boone 2019, AJ 158, 257), exactly for models
that read wavelengths:

* ``z2 = z1 · r`` with ``r`` log-uniform in ``z_ratio`` (default ``[0.2, 1.5]``: both nearer,
  which shallow surveys such as ZTF need, since they only see nearby transients, and farther,
  avocado's direction), and never below ``min(z1, 0.01)`` (so a flux gain stays moderate);
* with ``k = (1 + z2) / (1 + z1)``: times after the first point are stretched by ``k`` (time
  dilation; the visits stretch with them, and a survey profile applied afterwards thins them to
  its own cadence) and wavelengths multiplied by ``k`` (the same rest-frame wavelengths are now
  observed redder, which is exact because the models consume wavelengths);
* FLUXCAL (an AB flux density ``f_ν``) is multiplied by ``k · 10^(-0.4 Δμ)``, ``Δμ`` the
  difference of distance moduli: ``f_ν ∝ (1 + z) L_ν((1 + z) ν) / d_L²``, the factor ``k``
  being the bandwidth term of the K-correction that remains once the band shift is exact;
* noise: the flux and its error scale together, and where the source got fainter noise is
  added back up to the original error (the survey's noise floor, which does not dim with the
  source): new error ``max(f, 1) · err`` for a flux factor ``f``;
* metadata: ``hostgal_photoz`` becomes ``z2`` plus its original offset from ``z1`` scaled by
  ``k``, ``hostgal_photoz_err`` is scaled by ``k``, ``hostgal_specz`` (if present and known)
  becomes ``z2`` and ``distmod`` (if present) the distance modulus of the new photo-z.

``z1`` is ``hostgal_specz`` where known (every PLAsTiCC training object), else the photo-z.
Distance moduli are those of PLAsTiCC's cosmology, flat ΛCDM with H0 = 70 and Ωm = 0.3
(PLAsTiCC's ``distmod`` agrees to 0.13 mag), computed once by astropy on a grid and
interpolated.

Galactic objects (``hostgal_photoz == 0``) are brightened or dimmed instead, by ``Δm ~
U[galactic_mag]`` mag (default ``[-1, 1.5]``: a star of the same kind a little nearer or up to
two times farther), with the same noise rule.

:func:`move_distance` draws the new distance at random; :func:`move_to_depth` chooses it so
that a given survey sees the object (its brightest point 0.5-3 mag above the survey's depth).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
from astropy.cosmology import FlatLambdaCDM

from engine.data.packed import PackedLightCurves
from engine.data.schema import ZERO_POINT

#: PLAsTiCC's cosmology (Kessler et al. 2019)
COSMOLOGY = FlatLambdaCDM(H0=70.0, Om0=0.3)
#: lowest redshift an object is moved to (unless it starts lower)
Z_FLOOR = 0.01
#: :func:`move_to_depth` puts an object's brightest point this many magnitudes above the depth
DEPTH_MARGIN = (0.5, 3.0)
_Z_GRID = np.geomspace(1e-4, 10.0, 4000)
#: the metadata a move changes (:func:`_moved_metadata`)
REDSHIFT_METADATA = ("hostgal_photoz", "hostgal_photoz_err", "hostgal_specz", "distmod")


@cache
def _mu_grid() -> np.ndarray:
    return COSMOLOGY.distmod(_Z_GRID).value


def distance_modulus(z: np.ndarray) -> np.ndarray:
    """Distance modulus (mag) of redshifts ``z`` in [1e-4, 10], interpolated in log z."""
    return np.interp(np.log(np.asarray(z, dtype=np.float64)), np.log(_Z_GRID), _mu_grid())


def raise_noise(
    flux: np.ndarray, flux_err: np.ndarray, target_err: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Add Gaussian noise so that errors ``flux_err`` become ``max(flux_err, target_err)``.

    Noise is only ever added (a survey cannot be less noisy than the data it is made from), of
    variance ``new² - err²`` per point. Returns float32 flux and flux error.
    """
    new_err = np.maximum(flux_err.astype(np.float64), target_err)
    extra = np.sqrt(np.maximum(new_err**2 - flux_err.astype(np.float64) ** 2, 0.0))
    flux = flux + rng.standard_normal(len(flux)) * extra
    return flux.astype(np.float32), new_err.astype(np.float32)


def scale_flux_with_floor(
    curves: PackedLightCurves, factor: np.ndarray, rng: np.random.Generator
) -> PackedLightCurves:
    """Multiply each object's flux by ``factor`` (N,), keeping the original noise as a floor.

    Flux and error scale together; where ``factor < 1`` noise is added back up to the original
    error, so the new error is ``max(factor, 1) · err`` (see the module docstring).
    """
    per_point = np.repeat(factor, curves.lengths)
    flux, flux_err = raise_noise(
        curves.flux * per_point, curves.flux_err * per_point, curves.flux_err, rng
    )
    return replace(curves, flux=flux, flux_err=flux_err)


def _source_redshift(metadata: dict[str, np.ndarray]) -> np.ndarray:
    photoz = metadata["hostgal_photoz"]
    specz = metadata.get("hostgal_specz", np.full(len(photoz), np.nan))
    return np.where(np.isfinite(specz) & (specz > 0), specz, photoz)


def _dimming_mag(z: np.ndarray) -> np.ndarray:
    """Magnitude of a source at ``z`` up to a constant: ``μ(z) - 2.5 log10(1 + z)``.

    The change of FLUXCAL between two redshifts is ``10^(-0.4 Δ)`` of this (module docstring);
    it grows monotonically with ``z``, so it can be inverted on the grid.
    """
    return distance_modulus(z) - 2.5 * np.log10(1.0 + np.asarray(z, dtype=np.float64))


def _move(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    *,
    extragalactic: np.ndarray,
    z1: np.ndarray,
    z2: np.ndarray,
    galactic: np.ndarray,
    shift_mag: np.ndarray,
) -> PackedLightCurves:
    """Move ``extragalactic`` objects from ``z1`` to ``z2`` and shift ``galactic`` ones by mag."""
    z1 = np.where(extragalactic, z1, 1.0)
    z2 = np.where(extragalactic, z2, 1.0)
    k = (1.0 + z2) / (1.0 + z1)
    dimming = 10.0 ** (-0.4 * (_dimming_mag(z2) - _dimming_mag(z1)))  # = k · 10^(-0.4 Δμ)
    factor = np.where(extragalactic, dimming, np.where(galactic, 10.0 ** (-0.4 * shift_mag), 1.0))
    k_point = np.repeat(k, curves.lengths)
    first = np.repeat(
        curves.time[curves.offsets[:-1].clip(max=len(curves.time) - 1)], curves.lengths
    )
    moved = replace(
        curves,
        time=first + (curves.time - first) * k_point,
        wavelength=(curves.wavelength * k_point).astype(np.float32),
        metadata=_moved_metadata(curves.metadata, extragalactic, z1, z2, k),
    )
    return scale_flux_with_floor(moved, factor, rng)


def _kinds(curves: PackedLightCurves, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which ``chosen`` objects are extragalactic (photo-z > 0) and which galactic (= 0)."""
    photoz = curves.metadata["hostgal_photoz"]
    return chosen & np.isfinite(photoz) & (photoz > 0), chosen & (photoz == 0)


def move_distance(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    *,
    rate: float,
    z_ratio: tuple[float, float] = (0.2, 1.5),
    galactic_mag: tuple[float, float] = (-1.0, 1.5),
) -> PackedLightCurves:
    """Move a fraction ``rate`` of objects to a random distance (see the module docstring).

    Objects without a finite ``hostgal_photoz`` are left alone (their kind is unknown), and so
    is everything when the metadata has no ``hostgal_photoz``, there is no point, or ``rate``
    is 0 (nothing is drawn then).
    """
    if rate == 0 or "hostgal_photoz" not in curves.metadata or curves.offsets[-1] == 0:
        return curves
    n = len(curves)
    extragalactic, galactic = _kinds(curves, rng.random(n) < rate)
    z1 = _source_redshift(curves.metadata)
    ratio = np.exp(rng.uniform(np.log(z_ratio[0]), np.log(z_ratio[1]), n))
    z2 = np.maximum(z1 * ratio, np.minimum(z1, Z_FLOOR))
    shift = rng.uniform(*galactic_mag, n)
    return _move(
        curves, rng, extragalactic=extragalactic, z1=z1, z2=z2, galactic=galactic, shift_mag=shift
    )


def move_to_depth(
    curves: PackedLightCurves,
    rng: np.random.Generator,
    *,
    rate: float,
    depth: float,
    above: tuple[float, float] = DEPTH_MARGIN,
) -> PackedLightCurves:
    """Move a fraction ``rate`` of objects so their brightest point is ``U[above]`` mag above depth.

    Matches the population to a survey: a ZTF-like survey (depth ~20.7) sees PLAsTiCC's
    supernovae only once they are brought nearer. The brightest point is the highest flux of
    the object's points with SNR >= 5 (objects without one are left alone, as are those of
    unknown kind). Extragalactic objects get the redshift whose dimming (module docstring)
    gives that magnitude, never below ``min(z1, 0.01)``; galactic objects are shifted by it.
    Nothing is drawn when ``rate`` is 0.
    """
    if rate == 0 or "hostgal_photoz" not in curves.metadata or curves.offsets[-1] == 0:
        return curves
    n = len(curves)
    extragalactic, galactic = _kinds(curves, rng.random(n) < rate)
    target = depth - rng.uniform(*above, n)
    bright = np.where(curves.flux >= 5.0 * curves.flux_err, curves.flux, 0.0)
    peak = np.zeros(n)
    np.maximum.at(peak, np.repeat(np.arange(n), curves.lengths), bright)
    seen = peak > 0
    extragalactic &= seen
    galactic &= seen
    with np.errstate(divide="ignore"):
        shift = target - (ZERO_POINT - 2.5 * np.log10(peak))  # > 0: to be made fainter
    shift = np.where(seen, shift, 0.0)
    z1 = _source_redshift(curves.metadata)
    wanted = _dimming_mag(np.where(extragalactic, z1, 1.0)) + shift
    z2 = np.exp(np.interp(wanted, _dimming_mag(_Z_GRID), np.log(_Z_GRID)))
    z2 = np.maximum(z2, np.minimum(z1, Z_FLOOR))
    return _move(
        curves, rng, extragalactic=extragalactic, z1=z1, z2=z2, galactic=galactic, shift_mag=shift
    )


def _moved_metadata(
    meta: dict[str, np.ndarray],
    moved: np.ndarray,
    z1: np.ndarray,
    z2: np.ndarray,
    k: np.ndarray,
) -> dict[str, np.ndarray]:
    """Redshift metadata of the ``moved`` objects at their new redshift (module docstring)."""
    out = dict(meta)
    photoz = np.where(moved, z2 + (meta["hostgal_photoz"] - z1) * k, meta["hostgal_photoz"])
    out["hostgal_photoz"] = np.where(moved, np.maximum(photoz, 1e-4), photoz)
    if "hostgal_photoz_err" in meta:
        out["hostgal_photoz_err"] = np.where(
            moved, meta["hostgal_photoz_err"] * k, meta["hostgal_photoz_err"]
        )
    if "hostgal_specz" in meta:
        known = moved & np.isfinite(meta["hostgal_specz"]) & (meta["hostgal_specz"] > 0)
        out["hostgal_specz"] = np.where(known, z2, meta["hostgal_specz"])
    if "distmod" in meta:
        new_mu = distance_modulus(np.where(moved, out["hostgal_photoz"], 1.0))
        out["distmod"] = np.where(moved, new_mu, meta["distmod"])
    return out
