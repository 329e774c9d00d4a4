import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from engine.data.schema import write_table
from engine.errors import InputError
from engine.infer.streaming import embed_parquet, iter_tables, score_parquet, stream_parquet


@pytest.fixture(scope="module")
def table(sample_table):
    return sample_table.head(45)


@pytest.fixture(scope="module")
def table_path(table, tmp_path_factory):
    """The table in several small row groups, as a large survey file would be."""
    path = tmp_path_factory.mktemp("streaming") / "objects.parquet"
    table.write_parquet(path, row_group_size=16)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    return path


class CountingPredictor:
    """Wraps a predictor and records the size of every table it is given."""

    def __init__(self, predictor):
        self.predictor, self.heights = predictor, []

    def predict(self, table):
        self.heights.append(table.height)
        return self.predictor.predict(table)

    def embed(self, table):
        self.heights.append(table.height)
        return self.predictor.embed(table)


def test_score_parquet_matches_predict_on_the_whole_table(predictor, table, table_path, tmp_path):
    counting = CountingPredictor(predictor)
    out = tmp_path / "predictions.parquet"
    n = score_parquet(table_path, out, counting, rows_per_chunk=10)
    assert n == table.height
    assert max(counting.heights) <= 10 and sum(counting.heights) == table.height
    assert_frame_equal(pl.read_parquet(out), predictor.predict(table), rel_tol=1e-4, abs_tol=1e-5)
    assert not out.with_name(out.name + ".partial").exists()


def test_embed_parquet_writes_one_fixed_size_embedding_per_object(
    predictor, table, table_path, tmp_path
):
    out = tmp_path / "embeddings.parquet"
    assert embed_parquet(table_path, out, predictor, rows_per_chunk=7) == table.height
    frame = pl.read_parquet(out)
    d = predictor.model.config.d_model
    assert frame.schema == pl.Schema({"object_id": pl.String, "embedding": pl.Array(pl.Float32, d)})
    assert frame["object_id"].to_list() == table["object_id"].to_list()
    np.testing.assert_allclose(
        frame["embedding"].to_numpy(), predictor.embed(table), rtol=1e-4, atol=1e-5
    )


def test_empty_input_gives_empty_output_with_columns(predictor, table, tmp_path):
    source, out = tmp_path / "empty.parquet", tmp_path / "out.parquet"
    write_table(table.head(0), source)
    assert score_parquet(source, out, predictor) == 0
    frame = pl.read_parquet(out)
    assert frame.height == 0
    assert frame.columns == predictor.predict(table.head(1)).columns


def test_failure_leaves_no_output(table_path, tmp_path):
    out = tmp_path / "out.parquet"
    seen = []

    def failing(chunk):
        seen.append(chunk.height)
        if len(seen) == 2:
            raise RuntimeError("worker lost")
        return chunk.select("object_id")

    with pytest.raises(RuntimeError, match="worker lost"):
        stream_parquet(table_path, out, failing, rows_per_chunk=10)
    assert list(tmp_path.iterdir()) == []


def test_non_canonical_input_is_an_input_error(tmp_path):
    path = tmp_path / "points.parquet"
    pl.DataFrame({"object_id": ["a"], "mjd": [1.0]}).write_parquet(path)
    with pytest.raises(InputError, match="missing column 'time'"):
        next(iter_tables(path))
    with pytest.raises(InputError, match="cannot read"):
        next(iter_tables(tmp_path / "missing.parquet"))


def test_rows_per_chunk_must_be_positive(table_path):
    with pytest.raises(ValueError, match="rows_per_chunk"):
        next(iter_tables(table_path, rows_per_chunk=0))
