"""The embedding benchmark table of several model families, and its Markdown."""

from __future__ import annotations

import polars as pl
import pytest

from engine.data.plasticc import FOLDS_NAME, TABLE_NAME
from engine.errors import InputError
from engine.infer.embedding_benchmark import benchmark_markdown, embedding_benchmark
from tests.engine.conftest import as_plasticc_dir

pytestmark = pytest.mark.usefixtures("one_thread")


def test_benchmark_table_and_markdown(family_dirs, model_dir, sample_table, tmp_path):
    table = sample_table.head(100)
    as_plasticc_dir(table, tmp_path)
    table_path, folds_path = tmp_path / TABLE_NAME, tmp_path / FOLDS_NAME
    models = [model_dir, family_dirs["tiny-astromer2"], family_dirs["tiny-rtf"]]
    results = embedding_benchmark(models, table_path, folds_path, threads=1)
    assert results["model"].to_list() == ["tiny-atcat", "tiny-astromer2", "tiny-rtf"]
    assert results["family"].to_list() == ["atcat", "astromer2", "rtf"]
    assert results["dim"].to_list() == [32, 32, 8]
    assert results["n_test"].to_list() == [20] * 3 and results["n_train"].to_list() == [80] * 3
    for column in ("linear_probe_macro_f1", "knn_accuracy"):
        assert results[column].is_between(0.0, 1.0).all()
    text = benchmark_markdown(results)
    assert text.startswith("| model | family | dim | linear-probe macro F1 |")
    assert text.count("\n") == 5 and "| tiny-rtf | rtf | 8 |" in text
    with pytest.raises(InputError, match="fold 0"):
        only_train = tmp_path / "folds1.parquet"
        pl.DataFrame({"object_id": table["object_id"], "fold": [1] * 100}).write_parquet(only_train)
        embedding_benchmark(models, table_path, only_train)
