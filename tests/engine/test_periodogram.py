"""Lomb-Scargle periodograms: grid, recovery of a known period, multi-band = astropy, folding."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.timeseries import LombScargle, LombScargleMultiband

from engine.errors import InvalidValueError
from engine.periodogram import frequency_grid, lomb_scargle, phase_fold


def _multiband_sinusoid(rng, period=0.6137, n=240, baseline=800.0):
    time = np.sort(rng.uniform(0.0, baseline, n))
    band = rng.choice(["lsst_g", "lsst_r", "lsst_i"], n)
    offset = {"lsst_g": 100.0, "lsst_r": 150.0, "lsst_i": 120.0}
    amplitude = {"lsst_g": 40.0, "lsst_r": 25.0, "lsst_i": 15.0}
    err = np.full(n, 5.0)
    flux = np.array(
        [
            offset[b] + amplitude[b] * np.sin(2 * np.pi * t / period)
            for t, b in zip(time, band, strict=True)
        ]
    )
    return time, flux + rng.normal(0.0, 5.0, n), err, band


def test_grid_spans_baseline_to_min_period():
    time = np.array([0.0, 3.0, 100.0])
    grid = frequency_grid(time, min_period=0.5, samples_per_peak=4)
    assert grid[0] == pytest.approx(1 / 100)
    assert grid[-1] <= 2.0 + 1e-9 and grid[-1] > 2.0 - 1 / 400
    assert np.allclose(np.diff(grid), 1 / 400)


def test_grid_is_capped():
    grid = frequency_grid(np.array([0.0, 1e5]), min_period=0.01, max_frequencies=1000)
    assert grid.size <= 1000
    assert grid[-1] == pytest.approx(100.0, rel=1e-2)


@pytest.mark.parametrize("time", [np.array([1.0]), np.array([1.0, 1.05])])
def test_grid_needs_a_baseline_longer_than_min_period(time):
    with pytest.raises(InvalidValueError, match="baseline"):
        frequency_grid(time, min_period=0.1)


def test_recovers_a_known_period_in_every_mode():
    rng = np.random.default_rng(1)
    time, flux, err, band = _multiband_sinusoid(rng)
    multi = lomb_scargle(time, flux, err, band)
    assert multi.bands == ("lsst_g", "lsst_i", "lsst_r")
    assert multi.best_period == pytest.approx(0.6137, rel=1e-3)
    assert 0.5 < multi.best_power <= 1.0
    keep = band == "lsst_g"
    single = lomb_scargle(time[keep], flux[keep], err[keep])
    assert single.best_period == pytest.approx(0.6137, rel=1e-3)


def test_single_band_matches_astropy():
    rng = np.random.default_rng(2)
    time, flux, err, _ = _multiband_sinusoid(rng, n=80)
    ours = lomb_scargle(time, flux, err, min_period=1.0)
    theirs = LombScargle(time, flux, err).power(ours.frequency)
    np.testing.assert_allclose(ours.power, theirs, atol=1e-4)


def test_multiband_matches_astropy_independent_band_model():
    rng = np.random.default_rng(3)
    time, flux, err, band = _multiband_sinusoid(rng, n=120)
    ours = lomb_scargle(time, flux, err, band, min_period=0.5)
    freq = ours.frequency[::20]
    theirs = LombScargleMultiband(time, flux, band, err, nterms_base=0, nterms_band=1).power(freq)
    np.testing.assert_allclose(ours.power[::20], theirs, atol=1e-4)


def test_sparse_bands_are_left_out_and_all_sparse_is_an_error():
    rng = np.random.default_rng(4)
    time, flux, err, band = _multiband_sinusoid(rng, n=60)
    band = band.copy()
    band[:3] = "lsst_u"
    assert "lsst_u" not in lomb_scargle(time, flux, err, band).bands
    with pytest.raises(InvalidValueError, match="no band has"):
        lomb_scargle(time[:8], flux[:8], err[:8], np.array(["a", "b"] * 4))


@pytest.mark.parametrize(
    ("flux_err", "match"), [(np.zeros(10), "flux_err"), (np.ones(9), "same length")]
)
def test_bad_inputs_are_rejected(flux_err, match):
    with pytest.raises(InvalidValueError, match=match):
        lomb_scargle(np.arange(10.0), np.ones(10), flux_err)


def test_phase_fold():
    phase = phase_fold(np.array([10.0, 10.5, 11.0, 12.25]), 1.0)
    np.testing.assert_allclose(phase, [0.0, 0.5, 0.0, 0.25])
    np.testing.assert_allclose(phase_fold(np.array([2.0, 3.0]), 2.0, epoch=1.0), [0.5, 0.0])
    with pytest.raises(InvalidValueError, match="period"):
        phase_fold(np.array([1.0]), 0.0)
