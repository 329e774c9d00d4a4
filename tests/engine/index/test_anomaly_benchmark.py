"""Held-out-class benchmark: a toy set where the held-out class is findable, and the model run."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.data.schema import write_table
from engine.errors import InvalidValueError
from engine.index.anomaly import SCORERS
from engine.index.anomaly_benchmark import (
    benchmark_markdown,
    held_out_benchmark,
    run_anomaly_benchmark,
)


@pytest.fixture(scope="module")
def toy(clustered):
    """Six well separated classes 'A'..'F' in 5 folds."""
    points, clusters = clustered(1500, dim=8, n_clusters=6, seed=4)
    labels = np.array(list("ABCDEF"))[clusters]
    folds = np.random.default_rng(5).integers(0, 5, len(points))
    return points, labels, folds


def test_a_held_out_cluster_is_found(toy):
    points, labels, folds = toy
    noise = np.random.default_rng(6).uniform(size=len(points))
    results = held_out_benchmark(points, labels, folds, classes=("A", "D"), extra={"noise": noise})
    assert results.columns == [
        "held_out",
        "scorer",
        "auroc",
        "precision_top",
        "found_top",
        "n_top",
        "n_scored",
        "n_positive",
        "base_rate",
    ]
    assert results.height == 2 * (len(SCORERS) + 1)
    test = folds == 0
    assert results["n_scored"].unique().to_list() == [test.sum()]
    assert results["n_top"][0] == int(np.ceil(0.01 * test.sum()))
    fitted = results.filter(pl.col("scorer") != "noise")
    assert fitted["auroc"].min() > 0.95 and fitted["precision_top"].min() == 1.0
    assert (fitted["found_top"] == fitted["n_top"]).all()
    noise_rows = results.filter(pl.col("scorer") == "noise")
    assert noise_rows["auroc"].max() < 0.7  # a random score finds nothing
    a = results.filter(pl.col("held_out") == "A").row(0, named=True)
    assert a["n_positive"] == np.sum(test & (labels == "A"))
    assert a["base_rate"] == pytest.approx(a["n_positive"] / a["n_scored"])


def test_classes_must_be_in_the_scored_fold(toy):
    points, labels, folds = toy
    with pytest.raises(InvalidValueError, match=r"\['Z'\] have no object in fold 0"):
        held_out_benchmark(points, labels, folds, classes=("Z",))
    with pytest.raises(InvalidValueError, match="top_fraction"):
        held_out_benchmark(points, labels, folds, top_fraction=0.0)


def test_benchmark_runs_a_model_on_a_table(tmp_path, model_dir, sample_table):
    table = sample_table.head(400)
    write_table(table, tmp_path / "table.parquet")
    folds = table.select("object_id", (pl.int_range(pl.len()) % 5).cast(pl.Int8).alias("fold"))
    folds.write_parquet(tmp_path / "folds.parquet")
    results = run_anomaly_benchmark(
        tmp_path / "table.parquet",
        tmp_path / "folds.parquet",
        [str(model_dir)],
        classes=("TDE", "SNII"),
        threads=1,
    )
    assert results["model"].unique().to_list() == ["tiny-atcat"]
    assert results.height == 2 * len(SCORERS)
    assert results["auroc"].is_between(0.0, 1.0).all()
    markdown = benchmark_markdown(results)
    lines = markdown.splitlines()
    assert lines[0] == "| model | scorer | TDE AUROC | TDE P@top | SNII AUROC | SNII P@top |"
    assert len([line for line in lines if line.startswith("| tiny-atcat")]) == len(SCORERS)
    assert "of 80 scored objects" in markdown
