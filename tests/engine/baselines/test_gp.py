import numpy as np
import pytest

from engine.baselines.gp import (
    gaussian_nll,
    next_point_nll,
    next_point_positions,
    object_next_point_nll,
    predict_next,
    run_gp_baseline,
)
from engine.data.packed import PackedLightCurves
from engine.errors import InvalidValueError


@pytest.fixture(scope="module")
def packed(table_factory) -> PackedLightCurves:
    # 20 bursts of 8 to 300 points and 3 flat sources, of which 2 are too short to score
    lengths = [300, 8, *range(10, 100, 5), 4, 5, 40]
    kinds = ["burst"] * 20 + ["flat"] * 3
    return PackedLightCurves.from_frame(table_factory(kinds, lengths))


def test_positions_lie_in_the_valid_range(packed):
    positions = next_point_positions(packed, per_class=16, max_positions=7, start=5, max_points=256)
    labels = packed.label[list(positions)]
    assert (labels == "burst").sum() == 16  # capped at per_class
    assert (labels == "flat").sum() == 1  # only one flat source has >= 6 points
    assert list(positions) == sorted(positions)
    for k, points in positions.items():
        n = packed.lengths[k]
        assert n >= 6
        assert points.min() >= 5  # strictly after the first `start` points
        assert points.max() <= min(n, 256) - 1
        assert np.all(np.diff(points) > 0) and len(points) <= 7
        assert points[0] == 5 and points[-1] == min(n, 256) - 1  # evenly spread, ends included


def test_positions_are_reproducible_and_seeded(packed):
    first = next_point_positions(packed, per_class=4)
    again = next_point_positions(packed, per_class=4)
    other = next_point_positions(packed, per_class=4, seed=1)
    assert first.keys() == again.keys() and first.keys() != other.keys()
    assert all(np.array_equal(first[k], again[k]) for k in first)


@pytest.mark.parametrize(
    ("argument", "value"), [("per_class", 0), ("start", 0), ("min_points", 5), ("max_points", 3)]
)
def test_positions_reject_bad_arguments(packed, argument, value):
    with pytest.raises(InvalidValueError, match=argument):
        next_point_positions(packed, **{argument: value})


def test_gp_predicts_a_smooth_curve_well():
    rng = np.random.default_rng(0)
    time = np.arange(60) * 1.5 + rng.uniform(0.0, 0.5, 60)  # one point every 1.5 days
    wavelength = np.tile([4827.0, 6223.0], 30)
    truth = 100.0 + 50.0 * np.sin(2 * np.pi * time / 80.0)
    flux_err = np.full(60, 1.0)
    flux = truth + rng.normal(0.0, 1.0, 60)
    for k in (20, 30, 40, 50):
        mean, var = predict_next(time, wavelength, flux, flux_err, k)
        assert abs(mean - truth[k]) < 3.0 * np.sqrt(var)
        assert 1.0 <= var < 16.0  # measurement error plus a GP uncertainty << the amplitude
    positions = np.array([20, 30, 40, 50])
    nll = object_next_point_nll(time, wavelength, flux, flux_err, positions)
    naive = [gaussian_nll(flux[k], flux[:k].mean(), flux[:k].var()) for k in positions]
    assert nll.mean() < 3.5 and nll.mean() < np.mean(naive) - 1.0


def test_gaussian_nll_matches_the_formula():
    assert gaussian_nll(np.array(1.0), 1.0, 1.0) == pytest.approx(0.5 * np.log(2 * np.pi))
    assert gaussian_nll(np.array(3.0), 1.0, 4.0) == pytest.approx(0.5 * np.log(8 * np.pi) + 0.5)


def test_next_point_nll_aligns_with_positions_and_checks_them(packed):
    positions = {0: np.array([5, 50, 100]), 3: np.array([7])}
    scores = next_point_nll(packed, positions, n_jobs=1)
    assert list(scores) == [0, 3] and scores[0].shape == (3,) and scores[3].shape == (1,)
    assert np.isfinite(scores[0]).all() and np.median(scores[0]) < 6.0
    with pytest.raises(InvalidValueError, match="positions of object 1"):
        next_point_nll(packed, {1: np.array([8])}, n_jobs=1)


def test_run_gp_baseline_reports_per_class(toy_files):
    result = run_gp_baseline(*toy_files, fold=0, per_class=3, max_positions=3, n_jobs=1)
    assert result["n_objects"] == 6 and result["n_points"] == 18
    assert set(result["per_class"]) == {"burst", "flat"}
    assert result["per_class"]["flat"]["n_objects"] == 3
    assert np.isfinite(result["nll_mean"]) and result["nll_median"] <= result["nll_mean"] + 50
    with pytest.raises(InvalidValueError, match="fold=7"):
        run_gp_baseline(*toy_files, fold=7)
