"""Macro F1, class-balanced macro F1 (ATCAT section 2.3.1) and the classification report."""

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from engine.errors import CatscopeError, InvalidValueError
from engine.evaluation import classification_report, encode_labels, macro_f1_scores

NAMES = ["A", "B"]
# 2 objects of A, 4 of B; confusion counts (rows true, columns predicted) [[1, 1], [1, 3]]
Y_TRUE = np.array(["A", "A", "B", "B", "B", "B"])
Y_PRED = np.array(["A", "B", "A", "B", "B", "B"])


def _json_round_trip(report: dict) -> dict:
    return json.loads(json.dumps(report, allow_nan=False))


def test_hand_computed_tiny_confusion_matrix():
    report = classification_report(Y_TRUE, Y_PRED, NAMES)
    # plain: A P = R = 1/2, B P = R = 3/4 -> macro F1 = (1/2 + 3/4) / 2
    assert report["macro_f1"] == pytest.approx(0.625)
    # weighted matrix = row-normalised [[1/2, 1/2], [1/4, 3/4]]:
    # A: P = (1/2) / (1/2 + 1/4) = 2/3, R = 1/2, F1 = 4/7; B: P = 3/5, R = 3/4, F1 = 2/3
    assert report["class_balanced_macro_f1"] == pytest.approx((4 / 7 + 2 / 3) / 2)
    a, b = report["per_class"]
    assert a["class_balanced_precision"] == pytest.approx(2 / 3)
    assert b["class_balanced_precision"] == pytest.approx(3 / 5)
    assert a["class_balanced_f1"] == pytest.approx(4 / 7)
    assert b["class_balanced_f1"] == pytest.approx(2 / 3)
    assert (a["support"], b["support"]) == (2, 4)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["balanced_accuracy"] == pytest.approx(0.625)
    assert report["confusion_matrix"]["counts"] == [[1, 1], [1, 3]]
    assert report["confusion_matrix"]["row_normalised"] == [[0.5, 0.5], [0.25, 0.75]]


def test_class_balanced_equals_macro_when_classes_are_balanced():
    rng = np.random.default_rng(0)
    y_true = np.repeat(np.arange(3), 50)
    y_pred = np.where(rng.random(150) < 0.6, y_true, rng.integers(0, 3, 150))
    scores = macro_f1_scores(y_true, y_pred, 3)
    assert scores.class_balanced == pytest.approx(scores.macro)


def test_duplicating_a_class_changes_macro_but_not_class_balanced_f1():
    is_b = Y_TRUE == "B"
    # every B object ten times: the B row of the count matrix grows tenfold
    y_true = np.concatenate([Y_TRUE[~is_b], np.tile(Y_TRUE[is_b], 10)])
    y_pred = np.concatenate([Y_PRED[~is_b], np.tile(Y_PRED[is_b], 10)])
    before = classification_report(Y_TRUE, Y_PRED, NAMES)
    after = classification_report(y_true, y_pred, NAMES)
    assert after["class_balanced_macro_f1"] == pytest.approx(before["class_balanced_macro_f1"])
    assert abs(after["macro_f1"] - before["macro_f1"]) > 0.05


def test_macro_f1_matches_sklearn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 5, 300)
    y_pred = np.where(rng.random(300) < 0.5, y_true, rng.integers(0, 5, 300))
    expected = f1_score(y_true, y_pred, average="macro")
    assert macro_f1_scores(y_true, y_pred, 5).macro == pytest.approx(expected)


def test_absent_class_is_none_and_left_out_of_the_average():
    report = classification_report(Y_TRUE, Y_PRED, [*NAMES, "C"])
    absent = report["per_class"][2]
    assert absent["support"] == 0
    assert absent["f1"] is None and absent["class_balanced_f1"] is None
    assert report["macro_f1"] == pytest.approx(0.625)
    assert report["confusion_matrix"]["row_normalised"][2] == [0.0, 0.0, 0.0]


def test_predicted_but_never_true_class_scores_zero():
    # one A object predicted as C: C has F1 0 and counts in the average
    report = classification_report(["A", "A", "B"], ["A", "C", "B"], ["A", "B", "C"])
    assert report["per_class"][2]["f1"] == 0.0
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_names_and_codes_give_the_same_json_report():
    by_name = classification_report(Y_TRUE, Y_PRED, NAMES)
    by_code = classification_report(
        encode_labels(Y_TRUE, NAMES), encode_labels(Y_PRED, NAMES), NAMES
    )
    assert by_name == by_code
    assert _json_round_trip(by_name) == by_name


@pytest.mark.parametrize(
    ("y_true", "y_pred", "names", "match"),
    [
        (["A", "X"], ["A", "A"], NAMES, "unknown class names"),
        ([0, 2], [0, 1], NAMES, "outside 0..1"),
        ([0.0, 1.0], [0, 1], NAMES, "integer class codes"),
        ([0, 1, 1], [0, 1], NAMES, "same length"),
        ([0, 1], [0, 1], ["A", "A"], "distinct"),
        ([], [], NAMES, "non-empty"),
    ],
)
def test_invalid_inputs_raise_named_errors(y_true, y_pred, names, match):
    with pytest.raises(InvalidValueError, match=match) as error:
        classification_report(y_true, y_pred, names)
    assert isinstance(error.value, CatscopeError)
