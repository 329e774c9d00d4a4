import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.index.forward import SCORE_PREFIX, ForwardProducts, forward_parquet, forward_products
from engine.infer.embedders import load_embedder


@pytest.fixture(scope="module")
def table(sample_table):
    return sample_table.head(20)


def test_a_classifier_gives_embeddings_and_predictions_in_one_frame(predictor, table):
    products = forward_products(predictor, table)
    assert products.object_id.tolist() == table["object_id"].to_list()
    np.testing.assert_allclose(products.embeddings, predictor.embed(table), rtol=1e-4, atol=1e-5)
    assert_frame_equal(products.predictions, predictor.predict(table), rel_tol=1e-4, abs_tol=1e-5)
    assert products.scores == {}
    frame = products.to_frame()
    assert frame.columns[:2] == ["object_id", "embedding"] and "pred_class" in frame.columns
    back = ForwardProducts.from_frame(frame)
    np.testing.assert_array_equal(back.embeddings, products.embeddings)
    assert_frame_equal(back.predictions, products.predictions)


def test_a_models_own_scores_travel_as_anomaly_columns(family_dirs, table, tmp_path):
    rtf = load_embedder(family_dirs["tiny-rtf"])
    products = forward_products(rtf, table)
    assert products.predictions is None
    assert set(products.scores) == {"reconstruction_error"}
    # one forward pass gives what the two separate ones give
    np.testing.assert_allclose(products.embeddings, rtf.embed(table), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        products.scores["reconstruction_error"], rtf.reconstruction_error(table), rtol=1e-5
    )
    source, target = tmp_path / "in.parquet", tmp_path / "out.parquet"
    table.write_parquet(source)
    assert forward_parquet(source, target, rtf, rows_per_chunk=7) == table.height
    frame = pl.read_parquet(target)
    assert frame.columns == ["object_id", "embedding", SCORE_PREFIX + "reconstruction_error"]
    back = ForwardProducts.from_frame(frame)
    assert back.predictions is None
    np.testing.assert_allclose(
        back.scores["reconstruction_error"], products.scores["reconstruction_error"], rtol=1e-4
    )
