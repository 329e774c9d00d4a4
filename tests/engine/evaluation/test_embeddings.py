"""Embedders of every family, and the linear and k-NN probes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.errors import InputError, ModelNotFoundError
from engine.evaluation.embeddings import knn_accuracy, linear_probe_f1
from engine.infer import InferenceSettings, Predictor
from engine.infer.embedders import ModelEmbedder, RTFEmbedder, load_embedder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small_table(sample_table) -> pl.DataFrame:
    return sample_table.head(40)


@pytest.mark.parametrize(
    ("name", "kind", "dim"),
    [
        ("tiny-astromer2", ModelEmbedder, 32),
        ("tiny-astraclr", ModelEmbedder, 16),
        ("tiny-rtf", RTFEmbedder, 8),
    ],
)
def test_embedders_give_one_row_per_object_in_table_order(
    family_dirs, small_table, name, kind, dim
):
    embedder = load_embedder(
        family_dirs[name], settings=InferenceSettings(device="cpu", max_tokens=600)
    )
    assert type(embedder) is kind and embedder.dim == dim
    embeddings = embedder.embed(small_table)
    assert embeddings.shape == (40, dim) and embeddings.dtype == np.float32
    assert np.isfinite(embeddings).all() and np.unique(embeddings, axis=0).shape[0] > 30
    reverse = embedder.embed(small_table.reverse())
    np.testing.assert_allclose(reverse[::-1], embeddings, atol=1e-5)


def test_rtf_embedder_scores_reconstruction(family_dirs, small_table):
    embedder = load_embedder(family_dirs["tiny-rtf"])
    error = embedder.reconstruction_error(small_table)
    assert error.shape == (40,) and np.all(error > 0)
    np.testing.assert_array_equal(
        embedder.anomaly_scores(small_table)["reconstruction_error"], error
    )


def test_atcat_is_served_by_its_predictor(model_dir, small_table):
    embedder = load_embedder(model_dir)
    assert isinstance(embedder, Predictor) and embedder.embed(small_table).shape == (40, 32)


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError):
        load_embedder(tmp_path / "nothing-here")


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes pointing in three directions of 6-D space, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.array(["a", "b", "c"])[np.arange(n) % 3]
    centres = {"a": np.eye(6)[0], "b": np.eye(6)[1], "c": np.eye(6)[2]}
    x = np.stack([centres[y] for y in labels]) * 3 + rng.normal(0, 0.5, (n, 6))
    return x, labels


def test_probes_separate_easy_classes_and_not_random_ones():
    train_x, train_y = blobs(300, 0)
    test_x, test_y = blobs(90, 1)
    assert linear_probe_f1(train_x, train_y, test_x, test_y) > 0.95
    assert knn_accuracy(train_x, train_y, test_x, test_y, k=10) > 0.95
    shuffled = np.random.default_rng(2).permutation(train_y)
    assert linear_probe_f1(train_x, shuffled, test_x, test_y) < 0.6
    assert knn_accuracy(train_x, shuffled, test_x, test_y, k=10) < 0.6
    with pytest.raises(InputError, match="k must be"):
        knn_accuracy(train_x, train_y, test_x, test_y, k=1000)
    with pytest.raises(InputError, match="one width"):
        linear_probe_f1(train_x, train_y, test_x[:, :3], test_y)
