"""The classifier head on frozen embeddings: fitting, calibration report, exact round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from engine.errors import InputError, InvalidValueError
from engine.training.head import (
    CONFIG_FILE,
    EmbeddingHead,
    HeadSettings,
    TooFewLabelsError,
    check_labels,
    fit_head,
)


def blobs(n_per_class: int, n_classes: int = 3, dim: int = 8, *, spread: float = 1.0, seed=0):
    """Gaussian clusters, one per class: (N, dim) embeddings and class names."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim)) * 3.0
    codes = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[codes] + spread * rng.standard_normal((len(codes), dim))
    return x.astype(np.float32), np.array([f"class{k}" for k in codes])


@pytest.mark.parametrize("kind", ["logistic", "mlp"])
def test_round_trip_rebuilds_the_same_predictor(tmp_path, kind):
    x, y = blobs(20, spread=2.5)
    head = fit_head(x, y, model="m", settings=HeadSettings(kind=kind, max_iter=300))
    loaded = EmbeddingHead.load(head.save(tmp_path / "head"))
    assert loaded.classes == head.classes == ("class0", "class1", "class2")
    assert loaded.temperature == head.temperature and loaded.model == "m"
    np.testing.assert_array_equal(loaded.probabilities(x), head.probabilities(x))
    assert loaded.predict_frame(list("abc"), x[:3]).equals(head.predict_frame(list("abc"), x[:3]))
    assert json.loads((tmp_path / "head" / CONFIG_FILE).read_text())["kind"] == kind
    assert not list((tmp_path / "head").glob("*.pkl"))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_numpy_forward_matches_scikit_learn(n_classes):
    x, y = blobs(15, n_classes, spread=2.0)
    codes = np.unique(y, return_inverse=True)[1]
    z = StandardScaler().fit_transform(x)
    for settings, estimator in (
        (HeadSettings(), LogisticRegression(class_weight="balanced", max_iter=2000)),
        (HeadSettings(kind="mlp", max_iter=300),
         MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, max_iter=300, random_state=0)),
    ):  # fmt: skip
        head = fit_head(x, y, model="m", settings=settings, calibrate=False)
        if settings.kind == "logistic":
            estimator.fit(z, codes)
            np.testing.assert_allclose(head.probabilities(x), estimator.predict_proba(z), atol=1e-6)
        assert head.temperature == 1.0 and head.report == {}
        assert head.probabilities(x).shape == (len(x), n_classes)


def test_cross_validated_report_and_temperature():
    x, y = blobs(12, spread=0.5)
    head = fit_head(x, y, model="m")
    report = head.report
    assert report["n_objects"] == 36 and report["n_splits"] == 5
    assert report["classification"]["macro_f1"] > 0.9  # well separated clusters
    assert [r["class"] for r in report["classification"]["per_class"]] == list(head.classes)
    assert report["calibration"]["temperature"] == head.temperature > 0
    assert report["calibration"]["after"]["reliability"]["n_objects"] == 36

    overlapping, labels = blobs(30, spread=6.0, seed=1)
    noisy = fit_head(overlapping, labels, model="m")
    assert noisy.report["classification"]["macro_f1"] < report["classification"]["macro_f1"]
    after = noisy.report["calibration"]["after"]["reliability"]["ece"]
    assert after <= noisy.report["calibration"]["before"]["reliability"]["ece"] + 1e-9


def test_folds_shrink_to_the_smallest_class():
    x, y = blobs(3, spread=0.5)
    assert fit_head(x, y, model="m").report["n_splits"] == 3


def test_too_few_labels_are_explained():
    with pytest.raises(TooFewLabelsError, match="at least 2 classes; found only 'a'"):
        check_labels(["a", "a", "a"])
    with pytest.raises(TooFewLabelsError, match="at least 2 classes; found none"):
        check_labels([])
    with pytest.raises(TooFewLabelsError, match=r"at least 2 labelled objects; too few: b \(1\)"):
        check_labels(["a", "a", "b"])


def test_bad_inputs_are_clear(tmp_path):
    x, y = blobs(4)
    head = fit_head(x, y, model="m", calibrate=False)
    with pytest.raises(InvalidValueError, match="reads 8-wide embeddings"):
        head.logits(np.zeros((2, 5)))
    with pytest.raises(InvalidValueError, match="finite"):
        fit_head(np.full_like(x, np.nan), y, model="m")
    with pytest.raises(InvalidValueError, match="head kind"):
        HeadSettings(kind="forest")
    with pytest.raises(InputError, match="not a classifier head"):
        EmbeddingHead.load(tmp_path)
