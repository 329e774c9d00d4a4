"""What a catalogue needs from a model's forward passes, computed here or on a Dask cluster.

For each object: its embedding, the model's predictions (models that classify) and the anomaly
scores the model computes itself (e.g. RTF's reconstruction error). :func:`forward_products`
computes them for a table in this process; :func:`forward_partitioned` computes them for a
folder of Parquet shards on a Dask cluster (one model load per worker, one task per shard,
:func:`engine.infer.distributed.run_partitioned`) and gathers them in the shards' sorted order.
Either way the rest of a catalogue build (FAISS, UMAP, anomaly scorers) runs on the gathered
vectors. On a worker the products of a chunk travel as one frame (:meth:`ForwardProducts.to_frame`):
``object_id``, ``embedding``, the prediction columns, and ``anomaly:<name>`` score columns.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from engine.infer import InferenceSettings
from engine.infer.embedders import Embedder
from engine.infer.streaming import DEFAULT_ROWS_PER_CHUNK, embedding_frame, stream_parquet

#: prefix of the model's own anomaly-score columns in a products frame
SCORE_PREFIX = "anomaly:"


@dataclass(frozen=True)
class ForwardProducts:
    """Per-object outputs of one model: embeddings (N, d), predictions, own anomaly scores."""

    object_id: np.ndarray
    embeddings: np.ndarray
    predictions: pl.DataFrame | None = None
    scores: dict[str, np.ndarray] = field(default_factory=dict)

    def to_frame(self) -> pl.DataFrame:
        """One row per object: ``object_id, embedding``, prediction and ``anomaly:`` columns."""
        frame = embedding_frame(self.object_id, self.embeddings)
        if self.predictions is not None:
            frame = frame.hstack(self.predictions.drop("object_id"))
        return frame.with_columns(
            pl.Series(SCORE_PREFIX + name, values) for name, values in self.scores.items()
        )

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> ForwardProducts:
        """Read back a frame written by :meth:`to_frame`."""
        scores = [c for c in frame.columns if c.startswith(SCORE_PREFIX)]
        predicted = [c for c in frame.columns if c not in ("object_id", "embedding", *scores)]
        return cls(
            object_id=frame["object_id"].to_numpy(),
            embeddings=frame["embedding"].to_numpy().astype(np.float32, copy=False),
            predictions=frame.select("object_id", *predicted) if predicted else None,
            scores={c.removeprefix(SCORE_PREFIX): frame[c].to_numpy() for c in scores},
        )


def embed_and_predict(
    embedder: Embedder, table: pl.DataFrame
) -> tuple[np.ndarray, pl.DataFrame | None]:
    """Embeddings of ``table`` and, from models that classify, predictions (one pass)."""
    if embedder.info.can("classify"):
        predictions, embeddings = embedder.predict_and_embed(table)
        return embeddings, predictions
    return embedder.embed(table), None


def model_anomaly_scores(embedder: Embedder, table: pl.DataFrame) -> dict[str, np.ndarray]:
    """Per-object anomaly scores the model computes itself (higher = stranger).

    An embedder offering ``anomaly_scores(table) -> dict[str, (N,) array]`` (e.g. RTF's
    reconstruction error) contributes them; others contribute none.
    """
    scores = getattr(embedder, "anomaly_scores", None)
    return dict(scores(table)) if callable(scores) else {}


def forward_products(embedder: Embedder, table: pl.DataFrame) -> ForwardProducts:
    """Compute ``embedder``'s catalogue products for every object of ``table``.

    An embedder offering ``embed_and_score(table)`` (RTF) gives its embeddings and its own
    anomaly scores from one forward pass instead of two.
    """
    both = getattr(embedder, "embed_and_score", None)
    if callable(both) and not embedder.info.can("classify"):
        (embeddings, scores), predictions = both(table), None
    else:
        embeddings, predictions = embed_and_predict(embedder, table)
        scores = model_anomaly_scores(embedder, table)
    return ForwardProducts(
        object_id=table["object_id"].to_numpy(),
        embeddings=embeddings,
        predictions=predictions,
        scores=scores,
    )


def forward_parquet(
    path: str | Path,
    out_path: str | Path,
    embedder: Embedder,
    *,
    rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
) -> int:
    """Stream ``path`` chunk by chunk into a products frame at ``out_path``; returns the count."""

    def products(table: pl.DataFrame) -> pl.DataFrame:
        return forward_products(embedder, table).to_frame()

    return stream_parquet(path, out_path, products, rows_per_chunk=rows_per_chunk)


def forward_partitioned(
    input_dir: str | Path,
    work_dir: str | Path,
    model: str | Path,
    *,
    client=None,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
) -> ForwardProducts:
    """Compute ``model``'s products for every shard under ``input_dir`` on a Dask cluster.

    ``client`` is a ``distributed.Client``, a scheduler address or ``None`` (a local cluster);
    ``work_dir`` holds the per-shard frames until they are gathered, then is removed. Objects
    come back in the order of the shards (sorted paths) and of the rows within each.
    """
    from engine.infer.distributed import run_partitioned  # needs the "scale" extra

    work_dir = Path(work_dir)
    try:
        written = run_partitioned(
            forward_parquet, input_dir, work_dir, model, task="embed", client=client,
            settings=settings, models_dir=models_dir,
        )  # fmt: skip
        frame = pl.concat([pl.read_parquet(path) for path in written["output"]], how="vertical")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return ForwardProducts.from_frame(frame)
