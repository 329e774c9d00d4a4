"""Early-detection curves: macro F1 against points seen and days since the first point."""

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from engine.errors import InvalidValueError
from engine.evaluation import (
    early_detection_report,
    predictions_after_days,
    predictions_after_points,
    to_flat,
)

NAMES = ["A", "B", "C"]


def test_predictions_after_points_by_hand():
    predictions = np.array([10, 11, 12, 20])
    offsets = np.array([0, 3, 4])
    picked = predictions_after_points(predictions, offsets, [1, 2, 5])
    # the 1-point object keeps its only prediction; the 3-point one its last after n > 3
    np.testing.assert_array_equal(picked, [[10, 20], [11, 20], [12, 20]])


def test_predictions_after_days_by_hand():
    predictions = np.array([10, 11, 12, 13, 20])
    times = np.array([100.0, 100.0, 100.5, 103.0, 50.0])  # MJD: only differences matter
    offsets = np.array([0, 4, 5])
    picked = predictions_after_days(predictions, offsets, times, [0, 1, 3, 10])
    # two points at 0 days: the prediction after the second one is the one available
    np.testing.assert_array_equal(picked, [[11, 20], [12, 20], [13, 20], [13, 20]])


def _right_after(rng, n_objects: int, first_right: np.ndarray, lengths: np.ndarray):
    """Per-point predictions that are wrong before point first_right[k] and right from it on."""
    y = rng.integers(0, 3, n_objects)
    predictions = [
        np.where(np.arange(length) < k, (label + 1) % 3, label)
        for label, k, length in zip(y, first_right, lengths, strict=True)
    ]
    return predictions, y


def test_curve_rises_once_predictions_become_right_after_k_points():
    rng = np.random.default_rng(0)
    n_objects, k = 300, 4
    lengths = rng.integers(5, 60, n_objects)
    predictions, y = _right_after(rng, n_objects, np.full(n_objects, k), lengths)
    times = [np.cumsum(rng.uniform(0.5, 3.0, n)) for n in lengths]
    report = early_detection_report(predictions, y, times, NAMES)
    curve = report["by_points"]
    assert curve["n_points"] == [1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 100]
    # wrong after 1..k points, right from point k + 1 on (every object has more than k points)
    assert curve["macro_f1"] == [0.0] * 3 + [1.0] * 8
    assert curve["class_balanced_macro_f1"] == curve["macro_f1"]
    assert curve["fraction_reached"][0] == 1.0
    assert curve["fraction_reached"][-1] == 0.0
    assert report["final"]["macro_f1"] == 1.0


def test_curves_are_monotone_when_objects_turn_right_at_different_times():
    rng = np.random.default_rng(1)
    n_objects = 400
    lengths = rng.integers(40, 120, n_objects)
    times = [np.cumsum(rng.uniform(1.0, 5.0, n)) for n in lengths]  # spans of 40+ days
    # right from the first point at least 10 days after the first one
    first_right = np.array([np.searchsorted(t - t[0], 10.0) for t in times])
    predictions, y = _right_after(rng, n_objects, first_right, lengths)
    report = early_detection_report(predictions, y, times, NAMES)
    for curve in (report["by_points"], report["by_days"]):
        for key in ("macro_f1", "class_balanced_macro_f1", "fraction_reached"):
            steps = np.diff(curve[key]) * (-1 if key == "fraction_reached" else 1)
            assert (steps >= 0).all(), (key, curve[key])
    by_days = report["by_days"]
    assert by_days["macro_f1"][:3] == [0.0, 0.0, 0.0]  # 0, 1, 3 days: all still wrong
    assert by_days["macro_f1"][4:] == [1.0] * 4  # 30 days and later: all right
    assert by_days["fraction_reached"][:5] == [1.0] * 5


def test_flat_and_list_inputs_agree_and_match_sklearn():
    rng = np.random.default_rng(2)
    lengths = rng.integers(1, 30, 200)
    predictions = [rng.integers(0, 3, n) for n in lengths]
    times = [np.sort(rng.uniform(59_000, 60_000, n)) for n in lengths]
    y = rng.integers(0, 3, 200)
    from_lists = early_detection_report(predictions, y, times, NAMES)
    flat_predictions, offsets = to_flat(predictions)
    flat_times, _ = to_flat(times)
    from_flat = early_detection_report(
        np.array(NAMES)[flat_predictions], np.array(NAMES)[y], flat_times, NAMES, offsets=offsets
    )
    assert from_flat == from_lists
    last = np.array([p[-1] for p in predictions])
    assert from_lists["final"]["macro_f1"] == pytest.approx(f1_score(y, last, average="macro"))
    assert json.loads(json.dumps(from_lists, allow_nan=False)) == from_lists


@pytest.mark.parametrize(
    ("predictions", "times", "y", "kwargs", "match"),
    [
        ([[0, 1], []], [[0.0, 1.0], []], [0, 1], {}, "at least one"),
        ([[0, 1]], [[2.0, 1.0]], [0], {}, "non-decreasing"),
        ([[0, 1]], [[0.0]], [0], {}, "same number of points"),
        ([[0, 1]], [[0.0, 1.0]], [0, 1], {}, "same length"),
        ([[0, 1]], [[0.0, 1.0]], [0], {"n_points": [3, 2]}, "strictly increasing"),
        ([[0, 1]], [[0.0, 1.0]], [0], {"n_points": [1.5]}, "whole numbers"),
        ([[0, 1]], [[0.0, 1.0]], [0], {"days": [-1, 2]}, ">= 0"),
        ([[0, 5]], [[0.0, 1.0]], [0], {}, "outside 0..2"),
    ],
)
def test_invalid_inputs_raise(predictions, times, y, kwargs, match):
    with pytest.raises(InvalidValueError, match=match):
        early_detection_report(predictions, np.array(y), times, NAMES, **kwargs)


def test_bad_offsets_raise():
    with pytest.raises(InvalidValueError, match="offsets"):
        to_flat(np.arange(4), np.array([0, 3]))
