"""Lomb-Scargle periodograms of light curves (one band or all bands together) and phase folding.

The periodogram is computed with nifty-ls (a non-uniform FFT, milliseconds for 10⁵
frequencies). The multi-band periodogram fits, at each frequency, one sinusoid plus offset per
band with a shared period (VanderPlas & Ivezić 2015 with ``nterms_base=0, nterms_band=1``, the
same model as astropy's ``LombScargleMultiband(nterms_base=0, nterms_band=1)``): its power is
the chi² reduction summed over the bands, i.e. the single-band "standard" powers weighted by
each band's chi² about its weighted mean.

The frequency grid runs from one cycle over the time baseline to ``1 / min_period`` with
``samples_per_peak`` samples across each peak (peak width ≈ 1 / baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

import nifty_ls
import numpy as np
from numpy.typing import ArrayLike

from engine.errors import InvalidValueError

#: shortest period searched by default (days): below the periods of RR Lyrae and most binaries
MIN_PERIOD = 0.1
SAMPLES_PER_PEAK = 5
#: bound on the grid size, so a decades-long baseline cannot ask for billions of frequencies
MAX_FREQUENCIES = 200_000
#: a band needs more points than the 3 parameters of its sinusoid plus offset
MIN_POINTS_PER_BAND = 5


@dataclass(frozen=True)
class Periodogram:
    """Power of a Lomb-Scargle periodogram on a regular frequency grid.

    Attributes
    ----------
    frequency : (F,) frequencies in cycles per day, ascending
    power : (F,) normalised power in [0, 1] (fraction of chi² explained)
    bands : bands that contributed
    """

    frequency: np.ndarray
    power: np.ndarray
    bands: tuple[str, ...]

    @property
    def period(self) -> np.ndarray:
        """(F,) periods in days, descending."""
        return 1.0 / self.frequency

    @property
    def best_period(self) -> float:
        """Period (days) of the highest peak."""
        return float(self.period[np.argmax(self.power)])

    @property
    def best_power(self) -> float:
        """Power of the highest peak."""
        return float(self.power.max())


def frequency_grid(
    time: ArrayLike,
    *,
    min_period: float = MIN_PERIOD,
    samples_per_peak: int = SAMPLES_PER_PEAK,
    max_frequencies: int = MAX_FREQUENCIES,
) -> np.ndarray:
    """Regular frequency grid (cycles/day) for observation times ``time`` (days).

    Starts at ``1 / baseline`` with spacing ``1 / (samples_per_peak * baseline)`` and ends at
    ``1 / min_period``; if that needs more than ``max_frequencies`` points, the spacing grows
    so that it does not.
    """
    times = np.asarray(time, dtype=np.float64)
    if min_period <= 0 or samples_per_peak < 1 or max_frequencies < 2:
        msg = (
            f"min_period must be > 0, samples_per_peak >= 1 and max_frequencies >= 2; got "
            f"{min_period!r}, {samples_per_peak!r}, {max_frequencies!r}"
        )
        raise InvalidValueError(msg)
    baseline = float(times.max() - times.min()) if times.size else 0.0
    if not baseline > min_period:
        msg = (
            f"the time baseline ({baseline:g} days) must be longer than min_period "
            f"({min_period:g} days) to search for a period"
        )
        raise InvalidValueError(msg)
    f_min, f_max = 1.0 / baseline, 1.0 / min_period
    step = max(1.0 / (samples_per_peak * baseline), (f_max - f_min) / (max_frequencies - 1))
    return f_min + step * np.arange(int((f_max - f_min) / step) + 1)


def lomb_scargle(
    time: ArrayLike,
    flux: ArrayLike,
    flux_err: ArrayLike,
    band: ArrayLike | None = None,
    *,
    min_period: float = MIN_PERIOD,
    samples_per_peak: int = SAMPLES_PER_PEAK,
) -> Periodogram:
    """Lomb-Scargle periodogram of one light curve, multi-band when ``band`` is given.

    Parameters
    ----------
    time, flux, flux_err : (N,) observation times (days), fluxes and 1-sigma errors (> 0)
    band : (N,) band of each point, or ``None`` to treat all points as one band
    min_period, samples_per_peak : frequency grid, see :func:`frequency_grid`

    Bands with fewer than :data:`MIN_POINTS_PER_BAND` points are left out; at least one band
    must remain.
    """
    t, y, dy = (np.asarray(a, dtype=np.float64) for a in (time, flux, flux_err))
    bands = np.asarray(band, dtype=str) if band is not None else np.full(t.shape, "all")
    if not (t.shape == y.shape == dy.shape == bands.shape and t.ndim == 1):
        msg = (
            f"time, flux, flux_err and band must be 1-D of the same length; got shapes "
            f"{t.shape}, {y.shape}, {dy.shape}, {bands.shape}"
        )
        raise InvalidValueError(msg)
    if not (np.isfinite(t).all() and np.isfinite(y).all() and (dy > 0).all()):
        msg = "time and flux must be finite and flux_err finite and > 0 for a periodogram"
        raise InvalidValueError(msg)
    names, counts = np.unique(bands, return_counts=True)
    used = tuple(str(b) for b, n in zip(names, counts, strict=True) if n >= MIN_POINTS_PER_BAND)
    if not used:
        msg = (
            f"no band has the {MIN_POINTS_PER_BAND} points a periodogram needs "
            f"(points per band: {dict(zip(names.tolist(), counts.tolist(), strict=True))})"
        )
        raise InvalidValueError(msg)
    freq = frequency_grid(t, min_period=min_period, samples_per_peak=samples_per_peak)
    total = np.zeros_like(freq)
    chi2_total = 0.0
    for name in used:
        keep = bands == name
        order = np.argsort(t[keep], kind="stable")
        tb, yb, dyb = t[keep][order], y[keep][order], dy[keep][order]
        weights = dyb**-2
        chi2_ref = float(np.sum(weights * (yb - np.average(yb, weights=weights)) ** 2))
        result = nifty_ls.lombscargle(tb, yb, dyb, fmin=freq[0], fmax=freq[-1], Nf=freq.size)
        total += chi2_ref * np.nan_to_num(result.power)
        chi2_total += chi2_ref
    power = total / chi2_total if chi2_total > 0 else total
    return Periodogram(frequency=freq, power=power, bands=used)


def phase_fold(time: ArrayLike, period: float, *, epoch: float | None = None) -> np.ndarray:
    """Return the phase in [0, 1) of each time for ``period`` days, counted from ``epoch``.

    ``epoch`` defaults to the first time.
    """
    t = np.asarray(time, dtype=np.float64)
    if not (np.isfinite(period) and period > 0):
        msg = f"period must be a finite number of days > 0; got {period!r}"
        raise InvalidValueError(msg)
    start = float(t.min()) if epoch is None else float(epoch)
    return np.mod((t - start) / period, 1.0)
