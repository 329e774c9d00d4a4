"""Anomaly scorers: outliers rank first, BIC choice, extra scores, pickle-free round trip."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.errors import InputError, InvalidValueError
from engine.index.anomaly import SCORERS, AnomalyScorers
from engine.vectors import VectorIndex


@pytest.fixture(scope="module")
def data(clustered):
    """600 points in 4 clusters plus 6 far outliers (the last rows)."""
    points, _ = clustered(600, dim=12, n_clusters=4, seed=1)
    rng = np.random.default_rng(2)
    outliers = (rng.standard_normal((6, 12)) * 8.0).astype(np.float32)
    return np.vstack([points, outliers])


@pytest.fixture(scope="module")
def fitted(data):
    return AnomalyScorers().fit(data)


def test_every_scorer_ranks_the_injected_outliers_first(data, fitted):
    scores = fitted.score(data, self_rows=np.arange(len(data)))
    assert scores.columns == list(SCORERS)
    assert all(dtype == pl.Float64 for dtype in scores.dtypes)
    outliers = set(range(600, 606))
    for scorer in SCORERS:
        top = np.argsort(-scores[scorer].to_numpy())[:6]
        assert set(top.tolist()) == outliers, scorer


def test_bic_picks_the_number_of_clusters(clustered):
    points, _ = clustered(800, dim=6, n_clusters=4, seed=3)
    scorers = AnomalyScorers(gmm_components=(1, 2, 4, 8)).fit(points)
    assert scorers.gmm_.n_components == 4
    assert min(scorers.bic_, key=scorers.bic_.get) == 4
    small = AnomalyScorers().fit(points[:25])  # too few objects for more than 2 components
    assert set(small.bic_) == {1, 2}


def test_knn_distance_leaves_the_object_itself_out(data, fitted):
    inside = fitted.score(data[:5], self_rows=np.arange(5))["knn_distance"].to_numpy()
    with_self = fitted.score(data[:5])["knn_distance"].to_numpy()
    assert np.all(inside > with_self)  # the self match at distance 0 no longer counts
    expected = VectorIndex().fit(data).search(data[:5], 10, exclude_rows=np.arange(5))
    np.testing.assert_allclose(inside, expected.distance.mean(axis=1), rtol=1e-6)


def test_model_scores_become_extra_columns(data, fitted):
    error = np.linspace(0.0, 1.0, 10)
    scores = fitted.score(data[:10], extra={"reconstruction_error": error})
    assert scores.columns == [*SCORERS, "reconstruction_error"]
    np.testing.assert_array_equal(scores["reconstruction_error"].to_numpy(), error)
    with pytest.raises(InvalidValueError, match="one value per object"):
        fitted.score(data[:10], extra={"reconstruction_error": error[:3]})
    with pytest.raises(InvalidValueError, match="a new name"):
        fitted.score(data[:10], extra={"gmm_nll": error})


def test_round_trip_without_pickle_gives_identical_scores(tmp_path, data, fitted):
    fitted.save(tmp_path)
    with np.load(tmp_path / "anomaly_model.npz", allow_pickle=False) as arrays:
        assert "gmm_covariances" in arrays.files and "reference" in arrays.files
    loaded = AnomalyScorers.load(tmp_path)
    new = data[::7] + 0.5
    assert_frame_equal(loaded.score(new), fitted.score(new))
    assert loaded.gmm_.n_components == fitted.gmm_.n_components


def test_checks(data, fitted):
    with pytest.raises(InvalidValueError, match="at least 5 reference objects"):
        AnomalyScorers().fit(data[:3])
    with pytest.raises(ValueError, match="gmm_components"):
        AnomalyScorers(gmm_components=(0, 2)).fit(data)
    with pytest.raises(InvalidValueError, match="dimension 4"):
        fitted.score(data[:2, :4])
    with pytest.raises(InputError, match="not fitted"):
        AnomalyScorers().score(data)
    with pytest.raises(InvalidValueError, match="must start with"):
        AnomalyScorers().fit(data, neighbours=VectorIndex().fit(data[:10]))


def test_flat_embedding_directions_are_left_out(data):
    padded = np.hstack([data, np.zeros((len(data), 4), dtype=np.float32)])  # 4 dead features
    scorers = AnomalyScorers().fit(padded)
    assert scorers.pca_.n_components_ == data.shape[1]
    assert np.isfinite(scorers.score(padded)["gmm_nll"].to_numpy()).all()
    with (
        pytest.raises(InvalidValueError, match="all identical"),
        np.errstate(invalid="ignore"),
    ):
        AnomalyScorers().fit(np.ones((20, 4), dtype=np.float32))
