"""Embeddings from a model of any family, for the catalogue index and the embedding benchmark.

:func:`load_embedder` returns an object with ``info`` (the :class:`ModelInfo`) and
``embed(table) -> (N, d) float32`` in the order of the table, whatever the family:

* ATCAT: its :class:`~engine.infer.predictor.Predictor` (hidden state at the last point, with
  calibrated predictions and everything else the predictor offers);
* Astromer 2, Astra-CLR: a :class:`ModelEmbedder` calling the model's ``embed(batch)``;
* RTF: an :class:`RTFEmbedder`, which adds ``reconstruction_error(table)`` and
  ``anomaly_scores(table)`` (the reconstruction error as an anomaly score, higher = stranger),
  and ``embed_and_score(table)`` for both with one forward pass.

Objects are batched by similar length (:mod:`engine.infer.batches`) and results are written
back in table order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl
import torch
from torch import nn

from engine.data.batching import Batch
from engine.data.packed import PackedLightCurves
from engine.errors import ModelNotFoundError
from engine.infer.batches import InferenceSettings, iter_batches
from engine.infer.predictor import Predictor, load_predictor
from engine.models.checkpoint import load_model
from engine.models.families import FAMILIES
from engine.models.registry import ModelInfo, find_model


class Embedder(Protocol):
    """What every loaded model offers the catalogue index."""

    info: ModelInfo

    def embed(self, table: pl.DataFrame) -> np.ndarray:
        """One float32 row per object of ``table``, in its order."""


class ModelEmbedder:
    """A loaded model of any family but ATCAT (Astromer 2, Astra-CLR, ...) applied to tables.

    Use :func:`load_embedder` to build one.
    """

    def __init__(self, info: ModelInfo, model: nn.Module, settings: InferenceSettings) -> None:
        self.info = info
        self.model = model.to(settings.torch_device).eval()
        self.settings = settings

    @property
    def dim(self) -> int:
        """Width of the embeddings."""
        return self.model.embedding_dim

    @torch.no_grad()
    def _per_object(
        self, table: pl.DataFrame, compute: Callable[[Batch], torch.Tensor], width: int
    ) -> np.ndarray:
        """``compute(batch)`` (B, width) for every object, in table order -> (N, width)."""
        packed = PackedLightCurves.from_frame(table)
        out = np.zeros((len(packed), width), dtype=np.float32)
        for index, batch in iter_batches(
            packed, self.settings, max_points=self.model.config.max_points
        ):
            with self.settings.autocast():
                values = compute(batch)
            out[index] = values.float().reshape(len(index), width).cpu().numpy()
        return out

    def embed(self, table: pl.DataFrame) -> np.ndarray:
        """Embeddings (N, d) float32, in the order of ``table``."""
        return self._per_object(table, self.model.embed, self.dim)


class RTFEmbedder(ModelEmbedder):
    """An RTF autoencoder: embeddings plus per-object reconstruction errors."""

    def reconstruction_error(self, table: pl.DataFrame) -> np.ndarray:
        """Mean squared reconstruction error of each object's photometry, (N,) float64.

        In standardised channel units (see :meth:`engine.models.rtf.model.RTF.
        reconstruction_error`); light curves unlike the training data reconstruct worse.
        """
        return self._per_object(table, self.model.reconstruction_error, 1)[:, 0].astype(np.float64)

    def anomaly_scores(self, table: pl.DataFrame) -> dict[str, np.ndarray]:
        """Return the model's own anomaly scores, higher = stranger (for the catalogue index)."""
        return {"reconstruction_error": self.reconstruction_error(table)}

    def embed_and_score(self, table: pl.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """:meth:`embed` and :meth:`anomaly_scores` from one forward pass of every object."""
        both = self._per_object(table, self.model.embed_and_error, self.dim + 1)
        return both[:, :-1], {"reconstruction_error": both[:, -1].astype(np.float64)}


#: families whose models offer inference more than ``embed``; every other family of
#: :data:`~engine.models.families.FAMILIES` gets a plain :class:`ModelEmbedder`, and ATCAT its
#: :class:`~engine.infer.predictor.Predictor`
EMBEDDERS: dict[str, type[ModelEmbedder]] = {"rtf": RTFEmbedder}


def load_embedder(
    name_or_path: str | Path,
    *,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
) -> Predictor | ModelEmbedder:
    """Load a shipped model by name or a model directory, ready to ``embed`` tables."""
    info = find_model(name_or_path, models_dir)
    settings = settings or InferenceSettings()
    if info.family == "atcat":
        return load_predictor(info.path, settings=settings)
    if info.family not in FAMILIES:
        msg = f"model {info.name!r} has family {info.family!r}; known: {sorted(FAMILIES)}"
        raise ModelNotFoundError(msg)
    embedder = EMBEDDERS.get(info.family, ModelEmbedder)
    return embedder(info, load_model(info.path, device=settings.torch_device), settings)
