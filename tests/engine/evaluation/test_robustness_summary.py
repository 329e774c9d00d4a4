"""The per-profile summary of the robustness benchmark, on hand-made predictions."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InvalidValueError
from engine.evaluation.robustness import robustness_summary

CLASSES = ("RRL", "SNIa", "TDE")


def test_summary_counts_what_it_should():
    labels = np.array(["RRL", "RRL", "SNIa", "SNIa"])
    probabilities = np.array([[0.9, 0.1, 0], [0.2, 0.8, 0], [0.1, 0.9, 0], [0.3, 0.6, 0.1]])
    out = robustness_summary(labels, probabilities, CLASSES, in_domain=[True, False, True, True])
    assert out["n_objects"] == 4
    assert out["accuracy"] == pytest.approx(0.75)
    assert out["recall"] == {"RRL": 0.5, "SNIa": 1.0, "TDE": None}
    assert out["mean_confidence"] == pytest.approx((0.9 + 0.8 + 0.9 + 0.6) / 4)
    # the one wrong answer is the one flagged out of domain
    assert out["share_out_of_domain"] == pytest.approx(0.25)
    assert out["accuracy_in_domain"] == 1.0 and out["accuracy_out_of_domain"] == 0.0
    assert 0.0 <= out["ece"] <= 1.0


def test_without_a_flag_there_is_no_domain_split():
    out = robustness_summary(["RRL"], [[1.0, 0.0, 0.0]], CLASSES)
    assert "share_out_of_domain" not in out
    assert out["ece"] == pytest.approx(0.0)


def test_an_empty_side_has_no_accuracy():
    out = robustness_summary(["RRL"], [[1.0, 0.0, 0.0]], CLASSES, in_domain=[True])
    assert out["accuracy_out_of_domain"] is None


def test_unknown_classes_and_ragged_inputs_are_refused():
    with pytest.raises(InvalidValueError, match="unknown class"):
        robustness_summary(["KN"], [[1.0, 0.0, 0.0]], CLASSES)
    with pytest.raises(InvalidValueError, match="same length"):
        robustness_summary(["RRL", "TDE"], [[1.0, 0.0, 0.0]], CLASSES)
