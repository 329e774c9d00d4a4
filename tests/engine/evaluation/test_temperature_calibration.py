"""Expected calibration error, reliability bins and temperature scaling."""

import json

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.metrics import f1_score

from engine.errors import CatscopeError, InvalidValueError
from engine.evaluation import (
    NotFittedError,
    TemperatureScaler,
    calibration_report,
    expected_calibration_error,
    reliability_diagram,
    split_unsure,
)
from engine.evaluation.calibration import PRIOR_WEIGHT_GRID

T_TRUE = 2.0


def _binary_probabilities(rng, n: int, accuracy_shift: float):
    """Top-class confidence U(0.5, 1); the top class is right with probability conf - shift."""
    confidence = rng.uniform(0.5, 1.0, n)
    top = rng.integers(0, 2, n)
    probabilities = np.empty((n, 2))
    probabilities[np.arange(n), top] = confidence
    probabilities[np.arange(n), 1 - top] = 1 - confidence
    right = rng.random(n) < confidence - accuracy_shift
    return probabilities, np.where(right, top, 1 - top)


@pytest.fixture(scope="module")
def synthetic_logits():
    """Logits whose labels follow softmax(z / T_TRUE): the raw logits are overconfident."""
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 3.0, size=(20_000, 5))
    cumulative = softmax(z / T_TRUE, axis=1).cumsum(axis=1)
    y = (rng.random((len(z), 1)) > cumulative).sum(axis=1)
    return z, y


def test_ece_of_calibrated_probabilities_is_near_zero():
    probabilities, y = _binary_probabilities(np.random.default_rng(1), 40_000, 0.0)
    assert expected_calibration_error(probabilities, y) < 0.015


def test_ece_of_overconfident_model_is_large():
    probabilities, y = _binary_probabilities(np.random.default_rng(2), 40_000, 0.25)
    assert expected_calibration_error(probabilities, y) == pytest.approx(0.25, abs=0.02)


def test_hand_computed_reliability_bins():
    probabilities = np.array([[0.95, 0.05], [0.85, 0.15], [0.25, 0.75], [0.65, 0.35]])
    y = np.array([0, 1, 0, 0])  # right, wrong, wrong, right
    bins = reliability_diagram(probabilities, y, n_bins=10)
    assert bins["count"] == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert bins["mean_confidence"][6:] == pytest.approx([0.65, 0.75, 0.85, 0.95])
    assert bins["accuracy"][6:] == [1.0, 0.0, 0.0, 1.0]
    assert bins["accuracy"][:6] == [None] * 6
    assert bins["ece"] == pytest.approx((0.35 + 0.75 + 0.85 + 0.05) / 4)
    # one bin holding everything: |mean accuracy - mean confidence|
    assert expected_calibration_error(probabilities, y, n_bins=1) == pytest.approx(0.8 - 0.5)


@pytest.mark.parametrize("unsure_column", ["none", "last"])
def test_temperature_scaling_recovers_known_temperature(synthetic_logits, unsure_column):
    z, y = synthetic_logits
    if unsure_column == "last":
        # an unsure logit far below the rest carries no probability at any sensible T
        z = np.column_stack([z, np.full(len(z), -60.0)])
    scaler = TemperatureScaler(unsure_column=unsure_column).fit(z, y)
    assert scaler.temperature_ == pytest.approx(T_TRUE, rel=0.05)
    assert scaler.n_classes_ == 5
    assert scaler.nll_after_ < scaler.nll_before_


def test_scaling_reduces_ece_on_the_probabilities_the_user_sees(synthetic_logits):
    z, y = synthetic_logits
    rng = np.random.default_rng(3)
    logits = np.column_stack([z, rng.normal(-1.0, 1.0, len(z))])  # a real unsure share
    scaler = TemperatureScaler().fit(logits[:10_000], y[:10_000])
    report = calibration_report(logits[10_000:], y[10_000:], scaler)
    before, after = report["before"], report["after"]
    assert after["reliability"]["ece"] < 0.5 * before["reliability"]["ece"]
    assert after["nll"] < before["nll"]
    assert after["mean_unsure"] > 0
    # the report's ECE is computed on the p_<class> values shown to the user
    p_class, p_unsure = split_unsure(scaler.transform(logits[10_000:]))
    assert after["reliability"]["ece"] == pytest.approx(
        expected_calibration_error(p_class, y[10_000:])
    )
    np.testing.assert_allclose(p_class.sum(axis=1), 1 - p_unsure)
    assert report["accuracy"] == pytest.approx(np.mean(z[10_000:].argmax(axis=1) == y[10_000:]))
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_json_round_trip_keeps_the_fitted_scaler(synthetic_logits):
    z, y = synthetic_logits
    scaler = TemperatureScaler(unsure_column="none", max_temperature=10.0).fit(z[:2000], y[:2000])
    state = json.loads(json.dumps(scaler.to_dict()))
    loaded = TemperatureScaler.from_dict(state)
    assert loaded.get_params() == scaler.get_params()
    assert loaded.temperature_ == scaler.temperature_
    np.testing.assert_array_equal(loaded.transform(z[:50]), scaler.transform(z[:50]))


def test_use_before_fit_fails_cleanly():
    scaler = TemperatureScaler()
    for call in (lambda: scaler.transform(np.zeros((2, 3))), scaler.to_dict):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()
    assert issubclass(NotFittedError, CatscopeError)
    assert issubclass(NotFittedError, SklearnNotFittedError)
    assert not hasattr(clone(scaler), "temperature_")


def test_separable_labels_warn_that_the_temperature_hit_the_bound():
    logits = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]] * 20)
    y = np.array([0, 1] * 20)
    with pytest.warns(ConvergenceWarning, match="separate the labels perfectly"):
        scaler = TemperatureScaler().fit(logits, y)
    assert scaler.temperature_ == pytest.approx(0.05, rel=1e-2)


@pytest.mark.parametrize(
    ("params", "logits", "y", "match"),
    [
        ({"min_temperature": 2.0, "max_temperature": 1.0}, np.zeros((2, 3)), [0, 1], "min_temp"),
        ({"unsure_column": "first"}, np.zeros((2, 3)), [0, 1], "unsure_column"),
        ({}, np.zeros((2, 2)), [0, 1], "at least 3 columns"),
        ({}, np.zeros((2, 3)), [0, 2], "outside 0..1"),
        ({}, np.full((2, 3), np.nan), [0, 1], "finite"),
        ({}, np.zeros((3, 3)), [0, 1], "same length"),
    ],
)
def test_invalid_fit_arguments_raise(params, logits, y, match):
    with pytest.raises(InvalidValueError, match=match):
        TemperatureScaler(**params).fit(logits, np.array(y))


def test_transform_rejects_a_different_number_of_classes(synthetic_logits):
    z, y = synthetic_logits
    scaler = TemperatureScaler(unsure_column="none").fit(z[:500], y[:500])
    with pytest.raises(InvalidValueError, match="fitted with 5 classes"):
        scaler.transform(z[:5, :4])


def test_ece_rejects_logits_and_rows_that_sum_above_one():
    with pytest.raises(InvalidValueError, match="not logits"):
        expected_calibration_error(np.array([[2.0, -1.0], [0.5, 0.7]]), np.array([0, 1]))


def test_uninformative_logits_warn_at_the_upper_bound():
    rng = np.random.default_rng(4)
    with pytest.warns(ConvergenceWarning, match="little information"):
        scaler = TemperatureScaler(unsure_column="none").fit(
            rng.normal(size=(2000, 4)), rng.integers(0, 4, 2000)
        )
    assert scaler.temperature_ == pytest.approx(20.0, rel=1e-2)


def _prior_logits(prior_weight: float):
    """Balanced-prior logits z and labels drawn from softmax(z / T_TRUE + w · log π)."""
    rng = np.random.default_rng(7)
    z = rng.normal(0.0, 1.5, size=(30_000, 4))
    prior = np.array([0.6, 0.25, 0.1, 0.05])
    cumulative = softmax(z / T_TRUE + prior_weight * np.log(prior), axis=1).cumsum(axis=1)
    y = (rng.random((len(z), 1)) > cumulative).sum(axis=1)
    return z, y, prior


@pytest.mark.parametrize("true_weight", [0.0, 0.5, 1.0])
def test_the_class_prior_weight_is_recovered(true_weight):
    z, y, prior = _prior_logits(true_weight)
    scaler = TemperatureScaler(unsure_column="none").fit(z, y, class_prior=prior * 40)
    assert scaler.prior_weight_ == pytest.approx(true_weight, abs=0.06)
    assert scaler.temperature_ == pytest.approx(T_TRUE, rel=0.05)
    centred = np.log(prior) - np.log(prior).mean()
    expected = softmax(z / scaler.temperature_ + scaler.prior_weight_ * centred, axis=1)
    np.testing.assert_allclose(scaler.transform(z), expected, rtol=1e-10)


def test_the_prior_shift_moves_the_argmax_and_the_report_says_so():
    z, y, prior = _prior_logits(1.0)
    logits = np.column_stack([z, np.full(len(z), -30.0)])  # an unsure column it leaves alone
    scaler = TemperatureScaler().fit(logits, y, class_prior=prior)
    report = calibration_report(logits, y, scaler)
    assert report["prior_weight"] == scaler.prior_weight_ > 0.9
    assert scaler.offset_[-1] == 0.0
    assert report["after"]["accuracy"] > report["before"]["accuracy"] + 0.02
    assert report["accuracy"] == report["after"]["accuracy"]
    assert report["after"]["nll"] < TemperatureScaler().fit(logits, y).nll_after_


def test_a_prior_scaler_round_trips_and_older_states_load_without_a_prior():
    z, y, prior = _prior_logits(0.5)
    scaler = TemperatureScaler(unsure_column="none").fit(z, y, class_prior=prior)
    loaded = TemperatureScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(loaded.transform(z[:50]), scaler.transform(z[:50]))
    older = {k: v for k, v in scaler.to_dict().items() if k not in {"prior_weight", "log_prior"}}
    plain = TemperatureScaler.from_dict(older)
    assert plain.prior_weight_ == 0.0
    np.testing.assert_allclose(plain.transform(z[:50]), softmax(z[:50] / plain.temperature_, 1))


@pytest.mark.parametrize(
    "prior", [[0.5, 0.5, 0.0, 0.0], [0.2, 0.3, 0.5], [np.nan, 1.0, 1.0, 1.0]], ids=str
)
def test_bad_class_priors_are_refused(prior):
    z, y, _ = _prior_logits(0.0)
    with pytest.raises(InvalidValueError, match="class_prior must hold 4 positive"):
        TemperatureScaler(unsure_column="none").fit(z[:100], y[:100], class_prior=prior)


def test_the_macro_f1_prior_weight_is_the_best_of_the_grid():
    z, y, prior = _prior_logits(1.0)
    scaler = TemperatureScaler(unsure_column="none", prior_weight_by="macro_f1")
    scaler.fit(z, y, class_prior=prior)
    assert scaler.prior_weight_ in PRIOR_WEIGHT_GRID

    def macro_f1(weight: float) -> float:
        fitted = TemperatureScaler(unsure_column="none").fit(z, y)  # T at α = 0 is near T_TRUE
        shifted = z / fitted.temperature_ + weight * np.log(prior)
        return f1_score(y, shifted.argmax(1), average="macro")

    # the chosen weight beats the balanced prior and the full Bayes shift on macro F1
    chosen = macro_f1(scaler.prior_weight_)
    assert chosen >= macro_f1(0.0) and chosen >= macro_f1(1.0) - 0.01
    # T is the NLL-best temperature at that weight
    centred = np.log(prior) - np.log(prior).mean()
    at = TemperatureScaler(unsure_column="none")._fit_temperature(
        z, y, scaler.prior_weight_ * centred
    )
    assert scaler.temperature_ == pytest.approx(at)


def test_an_unknown_prior_objective_is_refused():
    z, y, prior = _prior_logits(0.0)
    with pytest.raises(InvalidValueError, match="prior_weight_by must be one of"):
        TemperatureScaler(prior_weight_by="accuracy").fit(z, y, class_prior=prior)
