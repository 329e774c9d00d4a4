"""Summaries of next-point negative log-likelihoods."""

import json

import numpy as np
import pytest

from engine.errors import InvalidValueError
from engine.evaluation import nll_summary, to_flat

NAN = np.nan
# first points have no prediction (NaN); the third object has no scored point at all
NLL = [np.array([NAN, 1.0, 5.0]), np.array([NAN, 2.0]), np.array([NAN])]


def test_hand_computed_summary_with_classes():
    summary = nll_summary(NLL, y_true=["A", "B", "A"], class_names=["A", "B", "C"])
    assert summary["n_points"] == 3 and summary["n_objects"] == 2
    assert summary["mean"] == pytest.approx(8 / 3)
    assert summary["median"] == pytest.approx(2.0)
    assert summary["mean_per_object"] == pytest.approx((3.0 + 2.0) / 2)
    a, b, c = summary["per_class"]
    assert (a["class"], a["n_points"], a["n_objects"], a["mean"], a["median"]) == (
        "A",
        2,
        1,
        3.0,
        3.0,
    )
    assert (b["mean"], b["mean_per_object"]) == (2.0, 2.0)
    assert c["n_points"] == 0 and c["mean"] is None and c["mean_per_object"] is None
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_flat_input_matches_list_input():
    flat, offsets = to_flat(NLL)
    assert nll_summary(flat, offsets=offsets) == nll_summary(NLL)
    assert "per_class" not in nll_summary(NLL)


def test_long_objects_dominate_the_point_mean_but_not_the_object_mean():
    nll = [np.full(1000, 1.0), np.full(10, 3.0)]
    summary = nll_summary(nll)
    assert summary["mean"] == pytest.approx(1030 / 1010)
    assert summary["mean_per_object"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nll": [np.array([1.0, np.inf])]}, "infinite"),
        ({"nll": NLL, "y_true": [0, 1, 0]}, "both y_true and class_names"),
        ({"nll": NLL, "y_true": [0, 1], "class_names": ["A", "B"]}, "same length"),
        ({"nll": np.arange(3.0)}, "list of 1-D arrays"),
    ],
)
def test_invalid_inputs_raise(kwargs, match):
    with pytest.raises(InvalidValueError, match=match):
        nll_summary(**kwargs)
