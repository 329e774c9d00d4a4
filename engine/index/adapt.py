"""A classifier from the user's own labels, on a catalogue's stored embeddings.

Labels come from the vetting store (:class:`~engine.labels.LabelStore`, the current label of
each object of one catalogue) or from a CSV of ``object_id,label``. ``known:<class>`` labels
train the class ``<class>`` (a CSV may give the bare class name), ``interesting`` and
``artefact`` are classes of their own, ``skip`` is left out. The head
(:func:`engine.training.head.fit_head`) is fitted on the embeddings ``catscope index`` stored
for one model (``<model>/embeddings.parquet``) and saved beside them in ``<model>/head/`` or
wherever asked. :func:`score_table` embeds new light curves with the head's model and scores
them; :func:`head_ranking` re-ranks the catalogue by the probability of one class.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from engine.errors import InputError, MissingColumnError
from engine.index.catalog_build import EMBEDDINGS_FILE, catalogue_embedder, read_manifest
from engine.infer.batches import InferenceSettings
from engine.infer.embedders import load_embedder
from engine.labels import KNOWN_PREFIX, LabelStore
from engine.training.head import EmbeddingHead, HeadSettings, fit_head

#: folder of a model's head inside its catalogue folder
HEAD_DIR = "head"
#: labels that say nothing about the class
IGNORED_LABELS = ("skip",)


def head_labels(labels: pl.DataFrame) -> pl.DataFrame:
    """``object_id, label`` as head classes: ``known:`` prefixes dropped, skips left out."""
    return (
        labels.select(pl.col("object_id").cast(pl.String), pl.col("label").cast(pl.String))
        .with_columns(pl.col("label").str.strip_chars().str.strip_prefix(KNOWN_PREFIX))
        .with_columns(pl.col("label").str.strip_chars())
        .filter(pl.col("label").is_not_null() & (pl.col("label") != ""))
        .filter(~pl.col("label").is_in(IGNORED_LABELS))
    )


def read_labels(source: str | Path, *, catalogue: str) -> pl.DataFrame:
    """Labels of ``catalogue`` from a ``.csv`` (``object_id,label``) or a label store."""
    path = Path(source)
    if path.suffix.lower() == ".csv":
        if not path.is_file():
            msg = f"label file {path} not found"
            raise InputError(msg)
        frame = pl.read_csv(path, schema_overrides={"object_id": pl.String, "label": pl.String})
        missing = [c for c in ("object_id", "label") if c not in frame.columns]
        if missing:
            msg = f"{path}: a label CSV needs the columns object_id,label; missing {missing}"
            raise MissingColumnError(msg)
        return head_labels(frame.unique("object_id", keep="last", maintain_order=True))
    store = LabelStore(source)
    try:
        return head_labels(store.current(catalogue=catalogue))
    finally:
        store.close()


def catalogue_embeddings(catalog_dir: str | Path, model: str) -> tuple[list[str], np.ndarray]:
    """Object ids and stored embeddings (N, d) of ``model`` in a catalogue folder."""
    catalog_dir = Path(catalog_dir)
    path = catalog_dir / model / EMBEDDINGS_FILE
    if not path.is_file():
        known = sorted(read_manifest(catalog_dir)["models"])
        msg = f"{catalog_dir}: no embeddings of model {model!r}; this catalogue has {known}"
        raise InputError(msg)
    frame = pl.read_parquet(path)
    return frame["object_id"].to_list(), frame["embedding"].to_numpy().astype(np.float32)


def labelled_embeddings(
    labels: pl.DataFrame, ids: list[str], embeddings: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and labels of the labelled objects the catalogue holds (others: a warning)."""
    row = {object_id: i for i, object_id in enumerate(ids)}
    known = labels.filter(pl.col("object_id").is_in(list(row)))
    if known.height < labels.height:
        warnings.warn(
            f"{labels.height - known.height} labelled object(s) are not in the catalogue; left out",
            stacklevel=2,
        )
    rows = np.array([row[i] for i in known["object_id"]], dtype=np.int64)
    return embeddings[rows], known["label"].to_numpy().astype(str)


def fit_catalogue_head(
    catalog_dir: str | Path,
    labels: pl.DataFrame,
    model: str,
    *,
    settings: HeadSettings | None = None,
) -> EmbeddingHead:
    """Fit a head on ``model``'s stored embeddings of the labelled objects (not saved).

    The head records the manifest's ``source`` and ``sha256`` of the model, so that scoring
    new light curves loads the same weights.
    """
    ids, embeddings = catalogue_embeddings(catalog_dir, model)
    x, y = labelled_embeddings(labels, ids, embeddings)
    head = fit_head(x, y, model=model, settings=settings)
    entry = read_manifest(catalog_dir)["models"].get(model, {})
    return replace(head, source={key: entry[key] for key in ("source", "sha256") if key in entry})


def adapt_catalogue(
    catalog_dir: str | Path,
    labels: pl.DataFrame,
    model: str,
    *,
    out: str | Path | None = None,
    settings: HeadSettings | None = None,
) -> tuple[EmbeddingHead, Path]:
    """Fit a head (:func:`fit_catalogue_head`) and save it; ``out`` defaults to ``<model>/head``."""
    head = fit_catalogue_head(catalog_dir, labels, model, settings=settings)
    return head, head.save(out or Path(catalog_dir) / model / HEAD_DIR)


def score_table(
    table: pl.DataFrame,
    head: EmbeddingHead,
    *,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
) -> pl.DataFrame:
    """Embed ``table`` with the head's model and score it: the head's class probabilities.

    A head fitted on a catalogue loads the model the catalogue was built with, checked
    against its weights' hash (embeddings of other weights would mean nothing to the head).
    """
    settings = settings or InferenceSettings()
    embedder = (
        catalogue_embedder(head.model, head.source, settings, models_dir)
        if "sha256" in head.source
        else load_embedder(head.model, settings=settings, models_dir=models_dir)
    )
    return head.predict_frame(table["object_id"].to_list(), embedder.embed(table))


def head_ranking(
    ids: list[str], embeddings: np.ndarray, head: EmbeddingHead, class_name: str
) -> pl.DataFrame:
    """``object_id, score`` by the head's probability of ``class_name``, highest first."""
    if class_name not in head.classes:
        msg = f"the head knows the classes {list(head.classes)}; not {class_name!r}"
        raise InputError(msg)
    scores = head.probabilities(embeddings)[:, head.classes.index(class_name)]
    return pl.DataFrame({"object_id": ids, "score": scores}).sort(
        "score", descending=True, maintain_order=True
    )
