"""Engine loaders wrapped in ``pn.cache``, so every session shares one loaded copy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import panel as pn

from engine.catalog import Catalog
from engine.labels import LabelStore
from engine.models.checkpoint import read_metrics
from engine.models.registry import ModelInfo, available_models

if TYPE_CHECKING:
    from engine.infer import Predictor


@pn.cache(max_items=8)
def load_catalog(path: str) -> Catalog:
    """Load the catalogue at ``path`` (canonical Parquet table or catalogue folder)."""
    return Catalog.load(Path(path))


@pn.cache(max_items=4)
def open_label_store(store: str) -> LabelStore:
    """One :class:`~engine.labels.LabelStore` per URL or SQLite path (``""`` = the default file)."""
    return LabelStore(store or None)


def list_models(models_dir: str | None) -> list[ModelInfo]:
    """Models under ``models_dir`` (default: the shipped ``assets/models``)."""
    return available_models(Path(models_dir) if models_dir else None)


@pn.cache(max_items=4)
def load_predictor(path: str) -> Predictor:
    """Load the engine's predictor for the model at ``path`` (once per process)."""
    # imported here: engine.infer imports torch, which the app needs only once a model is used
    from engine.infer import load_predictor as engine_load_predictor

    return engine_load_predictor(Path(path))


@pn.cache(max_items=8)
def load_metrics(model_path: str) -> dict | None:
    """Read the model's evaluation metrics; ``None`` if its folder has none."""
    return read_metrics(model_path)
