"""The pickle-free UMAP map: agreement with umap-learn's transform, self-placement, round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.manifold import trustworthiness

from engine.errors import InputError, InvalidValueError
from engine.index.umap_map import UmapMap
from engine.vectors import VectorIndex


def neighbourhood_overlap(
    a: np.ndarray, b: np.ndarray, reference: np.ndarray, k: int = 10
) -> float:
    """Mean share of the k nearest reference points that placements ``a`` and ``b`` share."""
    near_a = np.argsort(((a[:, None] - reference[None]) ** 2).sum(-1), axis=1)[:, :k]
    near_b = np.argsort(((b[:, None] - reference[None]) ** 2).sum(-1), axis=1)[:, :k]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(near_a, near_b, strict=True)]))


def test_fit_is_umaps_own_fit(fitted_umap):
    fitted, reducer = fitted_umap
    np.testing.assert_array_equal(fitted.embedding_, reducer.embedding_)
    assert (fitted.a_, fitted.b_) == (reducer._a, reducer._b)
    assert fitted.n_neighbors_ == 15 and fitted.n_reference == 1200


def test_transform_agrees_with_umap_learn(fitted_umap, umap_data):
    fitted, reducer = fitted_umap
    _, held_out, _, _ = umap_data
    ours, theirs = fitted.transform(held_out), reducer.transform(held_out)
    assert ours.shape == (200, 2) and ours.dtype == np.float32
    extent = np.ptp(fitted.embedding_, axis=0).max()
    assert np.median(np.linalg.norm(ours - theirs, axis=1)) < 0.02 * extent
    # dense clusters: the 10 nearest in a cluster of ~120 shuffle with any jitter, 30 do not
    assert neighbourhood_overlap(ours, theirs, fitted.embedding_, k=30) > 0.7
    ours_trust = trustworthiness(held_out, ours, n_neighbors=10, metric="cosine")
    theirs_trust = trustworthiness(held_out, theirs, n_neighbors=10, metric="cosine")
    assert ours_trust > 0.95 and ours_trust > theirs_trust - 0.01


def test_new_points_land_in_their_cluster(fitted_umap, umap_data):
    fitted, _ = fitted_umap
    _, held_out, train_labels, held_labels = umap_data
    placed = fitted.transform(held_out)
    distances = ((placed[:, None] - fitted.embedding_[None]) ** 2).sum(-1)
    nearest_label = train_labels[np.argmin(distances, axis=1)]
    assert np.mean(nearest_label == held_labels) > 0.95


def test_a_catalogue_object_lands_near_its_fitted_position(fitted_umap, umap_data):
    fitted, _ = fitted_umap
    train = umap_data[0]
    placed = fitted.transform(train[:100])
    extent = np.ptp(fitted.embedding_, axis=0).max()
    moved = np.linalg.norm(placed - fitted.embedding_[:100], axis=1)
    assert np.median(moved) < 0.02 * extent and np.max(moved) < 0.1 * extent


def test_round_trip_without_pickle(tmp_path, fitted_umap, umap_data):
    fitted, _ = fitted_umap
    held_out = umap_data[1][:50]
    fitted.save(tmp_path)
    state = json.loads((tmp_path / "umap.json").read_text())
    assert state["params"]["n_neighbors"] == 15 and state["metric"] == "cosine"
    assert {"a", "b", "n_reference", "umap_version"} <= set(state)
    with np.load(tmp_path / "umap.npz", allow_pickle=False) as arrays:
        assert set(arrays.files) == {"embedding", "reference"}
    loaded = UmapMap.load(tmp_path)
    np.testing.assert_array_equal(loaded.embedding_, fitted.embedding_)
    np.testing.assert_array_equal(loaded.transform(held_out), fitted.transform(held_out))


def test_a_shared_index_must_start_with_the_reference(tmp_path, fitted_umap, umap_data):
    fitted, _ = fitted_umap
    train, held_out, _, _ = umap_data
    fitted.save(tmp_path)
    grown = VectorIndex().fit(train)
    grown.add(held_out)  # uploads after the reference rows are never map neighbours
    shared = UmapMap.load(tmp_path, neighbours=grown)
    assert shared.neighbours_ is grown
    np.testing.assert_array_equal(shared.transform(held_out[:20]), fitted.transform(held_out[:20]))
    with pytest.raises(InvalidValueError, match="sanity check failed"):
        UmapMap.load(tmp_path, neighbours=VectorIndex().fit(train[::-1].copy()))
    with pytest.raises(InvalidValueError, match="must start with"):
        UmapMap.load(tmp_path, neighbours=VectorIndex().fit(train[:10]))


def test_checks(fitted_umap):
    fitted, _ = fitted_umap
    with pytest.raises(InvalidValueError, match="dimension 3"):
        fitted.transform(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(InvalidValueError, match="at least 5 points"):
        UmapMap().fit(np.ones((3, 4), dtype=np.float32))
    with pytest.raises(InputError, match="not fitted"):
        UmapMap().transform(np.ones((3, 4)))
    with pytest.raises(InputError, match="no fitted UMAP map"):
        UmapMap.load("/nonexistent")
    assert fitted.transform(np.zeros((0, 16))).shape == (0, 2)
