"""Embedding benchmark: how much class information each model's embeddings hold, on fold 0.

For every model, all labelled objects are embedded once; folds 1-4 are the training set and
fold 0 the test set (the fixed split every catscope model is trained and scored on). The probes
of :mod:`engine.evaluation.embeddings` read the frozen embeddings: a linear probe scored by
macro F1, and a ``k = 10`` nearest-neighbour vote by cosine distance scored by accuracy.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl
from threadpoolctl import threadpool_limits

from engine.data.folds import read_folds
from engine.data.schema import LABEL_COLUMN, read_table
from engine.errors import InputError
from engine.evaluation.embeddings import knn_accuracy, linear_probe_f1
from engine.infer.batches import InferenceSettings
from engine.infer.embedders import load_embedder

#: fold scored by the benchmark; the others train the probes
TEST_FOLD = 0
COLUMNS = ("model", "family", "dim", "linear_probe_macro_f1", "knn_accuracy", "embed_seconds")


def _labelled_folds(table_path: str | Path, folds_path: str | Path) -> pl.DataFrame:
    table = read_table(table_path)
    if LABEL_COLUMN not in table.columns:
        msg = f"{table_path}: the embedding benchmark needs a {LABEL_COLUMN!r} column"
        raise InputError(msg)
    frame = table.join(read_folds(folds_path), on="object_id", how="inner").filter(
        pl.col(LABEL_COLUMN).is_not_null()
    )
    test = frame["fold"] == TEST_FOLD
    if not test.any() or test.all():
        msg = (
            f"{folds_path}: need labelled objects both in fold {TEST_FOLD} (scored) and in "
            f"other folds (probe training), got {int(test.sum())} of {frame.height} in fold 0"
        )
        raise InputError(msg)
    return frame


def embedding_benchmark(
    models: Sequence[str | Path],
    table_path: str | Path,
    folds_path: str | Path,
    *,
    k: int = 10,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    threads: int | None = None,
) -> pl.DataFrame:
    """Linear-probe macro F1 and k-NN accuracy on fold 0 for every model (module docstring).

    Parameters
    ----------
    models : shipped model names or model directories
    table_path : labelled canonical light-curve table (Parquet)
    folds_path : Parquet of ``object_id, fold``
    k : neighbours of the k-NN vote
    settings : inference device and precision
    models_dir : where shipped model names are looked up
    threads : cap of the BLAS/OpenMP threads of the probes (``None``: library defaults)

    Returns
    -------
    One row per model with the columns of :data:`COLUMNS`, plus ``n_train`` and ``n_test``.
    """
    if not models:
        msg = "embedding_benchmark needs at least one model name or directory"
        raise InputError(msg)
    frame = _labelled_folds(table_path, folds_path)
    labels = frame[LABEL_COLUMN].to_numpy().astype(str)
    test = (frame["fold"] == TEST_FOLD).to_numpy()
    rows = []
    for name in models:
        embedder = load_embedder(name, settings=settings, models_dir=models_dir)
        started = time.perf_counter()
        embeddings = embedder.embed(frame.drop("fold"))
        seconds = time.perf_counter() - started
        split = (embeddings[~test], labels[~test], embeddings[test], labels[test])
        with threadpool_limits(limits=threads):
            rows.append(
                {
                    "model": embedder.info.name,
                    "family": embedder.info.family,
                    "dim": int(embeddings.shape[1]),
                    "linear_probe_macro_f1": linear_probe_f1(*split),
                    "knn_accuracy": knn_accuracy(*split, k=k),
                    "embed_seconds": round(seconds, 2),
                    "n_train": int((~test).sum()),
                    "n_test": int(test.sum()),
                }
            )
    return pl.DataFrame(rows, schema_overrides={"dim": pl.Int64})


def benchmark_markdown(results: pl.DataFrame) -> str:
    """Format the benchmark as a Markdown table for the README (scores to 3 decimals)."""
    missing = [c for c in COLUMNS if c not in results.columns]
    if missing:
        msg = f"benchmark results lack columns {missing}; expected {list(COLUMNS)}"
        raise InputError(msg)
    header = "| model | family | dim | linear-probe macro F1 | k-NN accuracy | embed s |"
    lines = [header, "|---|---|---:|---:|---:|---:|"]
    for row in results.iter_rows(named=True):
        lines.append(
            f"| {row['model']} | {row['family']} | {row['dim']} | "
            f"{row['linear_probe_macro_f1']:.3f} | {row['knn_accuracy']:.3f} | "
            f"{row['embed_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"
