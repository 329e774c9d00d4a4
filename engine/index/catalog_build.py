"""Build a catalogue folder from light curves, add uploads to it, and query it.

A catalogue holds, for every object and every model: predictions (models that classify), an
embedding, a 2-D UMAP position, its FAISS neighbours and anomaly scores. Layout (the first four
kinds of file are what :class:`engine.catalog.Catalog` reads)::

    CATALOG_DIR/
        catalog.json                 models, versions, counts, index kinds, build time
        objects.parquet              canonical light-curve table (built objects, then uploads)
        <model>/predictions.parquet  object_id, pred_class, confidence, unsure, p_<class>...
        <model>/umap.parquet         object_id, x, y
        <model>/anomaly.parquet      object_id, gmm_nll, isolation_forest, knn_distance[, ...]
        <model>/embeddings.parquet   object_id, embedding (Array(Float32, d)); row i = FAISS row i
        <model>/faiss.index          cosine index (FAISS binary format, engine.vectors)
        <model>/umap.json, umap.npz  the fitted map (engine.index.umap_map)
        <model>/anomaly_model.json, anomaly_model.npz  the fitted scorers (engine.index.anomaly)

The first ``n_reference`` rows of a model's embeddings and index are the objects the catalogue
was built from: the map and the scorers were fitted on them, and get them back from
``embeddings.parquet`` on load (checked against a SHA-256 digest, see
:mod:`engine.index.reference`) rather than storing a copy. :func:`add_to_catalog` appends
uploads after them: it places them in the existing map (``transform``), adds them to the FAISS
index and scores them with the stored scorers, refitting nothing, so earlier positions and
scores never move. Everything is Parquet, JSON, ``.npz`` (read with ``allow_pickle=False``)
or FAISS's own format: no pickle.

Models of every family are loaded with :func:`engine.infer.embedders.load_embedder`; one whose
embedder offers ``anomaly_scores(table) -> dict[str, (N,) array]`` (RTF's reconstruction
error, higher = stranger) gets those as further anomaly columns.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from engine.catalog import (
    ANOMALY_FILE,
    OBJECTS_FILE,
    PREDICTIONS_FILE,
    UMAP_FILE,
    UnknownObjectError,
)
from engine.data.schema import LABEL_COLUMN, check_table, read_table, write_table
from engine.errors import InputError, InvalidValueError, ModelNotFoundError
from engine.index.anomaly import AnomalyScorers
from engine.index.forward import ForwardProducts, forward_partitioned, forward_products
from engine.index.threads import thread_cap
from engine.index.umap_map import UmapMap
from engine.infer import InferenceSettings
from engine.infer.embedders import Embedder, load_embedder
from engine.infer.streaming import partition_files
from engine.models.checkpoint import WEIGHTS_FILE
from engine.models.registry import MODELS_DIR, ModelInfo, available_models, find_model
from engine.vectors import KINDS, IndexKind, Neighbours, VectorIndex

MANIFEST_FILE = "catalog.json"
EMBEDDINGS_FILE = "embeddings.parquet"
INDEX_FILE = "faiss.index"
FORMAT_VERSION = 1
#: fewest objects a catalogue is built from (UMAP and the scorers need a few)
MIN_OBJECTS = 5
#: the anomaly ranking ``top_anomalies`` uses when none is named: the mixture had the best
#: precision at the top 1 % in the held-out-class benchmark (engine.index.anomaly_benchmark)
DEFAULT_SCORER = "gmm_nll"
_STAGES = ("embed", "faiss", "umap", "anomaly")
_VERSIONED = ("catscope", "torch", "faiss-cpu", "umap-learn", "scikit-learn", "polars")


@dataclass(frozen=True, eq=False)
class ModelPlacement:
    """What one model computed for new objects: frames keyed by ``object_id``, in input order.

    ``predictions`` is ``None`` for models that do not classify; ``embeddings`` is (n, d).
    """

    embeddings: np.ndarray
    umap: pl.DataFrame
    anomaly: pl.DataFrame
    predictions: pl.DataFrame | None = None


# -- building --------------------------------------------------------------------------------
def build_catalog(
    table: pl.DataFrame | str | Path,
    out_dir: str | Path,
    models: Sequence[str] | None = None,
    *,
    progress: bool = True,
    mode: Literal["create", "overwrite"] = "create",
    index_kind: IndexKind = "auto",
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    threads: int | None = None,
    engine: Literal["local", "dask"] = "local",
    client=None,
) -> Path:
    """Compute every model's products for ``table`` and write the catalogue to ``out_dir``.

    Parameters
    ----------
    table : canonical light-curve table, the path of its Parquet file, or a folder of
        Parquet shards (``**/*.parquet``, read in sorted order)
    out_dir : catalogue folder to write; built in a sibling temporary folder, then moved
    models : shipped model names or model directories; default every shipped model
    progress : show a progress bar on stderr
    mode : ``"create"`` refuses an existing ``out_dir``; ``"overwrite"`` replaces an existing
        catalogue (a folder holding ``catalog.json``, nothing else)
    index_kind : FAISS index kind (``"auto"`` picks by size, see :mod:`engine.vectors`)
    settings : inference device and precision (default: fp32 on the best device); stored so
        uploads are embedded the same way
    models_dir : where shipped models are looked up (default ``assets/models``)
    threads : cap of the BLAS/OpenMP threads of FAISS, scikit-learn and torch while building
        (``None``: the libraries' defaults); avoids oversubscribing cores they share
    engine : ``"local"`` runs the models here; ``"dask"`` runs them (the embedding step) on a
        Dask cluster, one task per shard of the folder ``table``, one model load per worker
        (:func:`engine.index.forward.forward_partitioned`); FAISS, UMAP and the scorers are
        then fitted here on the gathered embeddings
    client : with ``engine="dask"``: a ``distributed.Client``, a scheduler address, or
        ``None`` for a local cluster
    """
    started = time.perf_counter()
    if engine not in ("local", "dask"):
        msg = f"engine must be 'local' or 'dask', got {engine!r}"
        raise InvalidValueError(msg)
    if index_kind not in KINDS:
        msg = f"index kind must be one of {', '.join(KINDS)}, got {index_kind!r}"
        raise InvalidValueError(msg)
    shards = Path(table) if isinstance(table, str | Path) and Path(table).is_dir() else None
    if engine == "dask" and shards is None:
        msg = "the dask engine reads a folder of Parquet shards; got a single table"
        raise InputError(msg)
    table = read_input(table)
    _check_ids(table, "the input table")
    if table.height < MIN_OBJECTS:
        msg = f"a catalogue needs at least {MIN_OBJECTS} objects, got {table.height}"
        raise InvalidValueError(msg)
    out_dir = Path(out_dir)
    _check_target(out_dir, mode)
    infos = resolve_models(models, models_dir)
    settings = settings or InferenceSettings()
    building = out_dir.with_name(f".{out_dir.name}.building")
    shutil.rmtree(building, ignore_errors=True)  # left by a build that was killed
    building.mkdir(parents=True)
    try:
        with _forward_runner(engine, shards, building, settings, models_dir, client) as forward:
            entries = _build_models(
                table, building, infos, index_kind, forward, progress, threads, models_dir
            )
        manifest = {
            "format": FORMAT_VERSION,
            "built": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 2),
            "n_objects": table.height,
            "precision": settings.precision,
            "versions": _versions(),
            "models": entries,
        }
        (building / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    building.rename(out_dir)
    return out_dir


def read_input(table: pl.DataFrame | str | Path) -> pl.DataFrame:
    """Read ``table`` (a frame, a Parquet file or a folder of shards) as one canonical table."""
    if isinstance(table, pl.DataFrame):
        return check_table(table)
    path = Path(table)
    if not path.is_dir():
        return read_table(path)
    parts = [read_table(file) for file in partition_files(path)]
    try:
        return check_table(pl.concat(parts, how="vertical"))
    except pl.exceptions.SchemaError as exc:
        msg = f"{path}: the shards do not share one set of columns ({exc})"
        raise InputError(msg) from exc


#: ``forward(model_info, table) -> ForwardProducts``: how a build runs its models
Forward = Callable[[ModelInfo, pl.DataFrame], ForwardProducts]


@contextmanager
def _forward_runner(
    engine: str,
    shards: Path | None,
    building: Path,
    settings: InferenceSettings,
    models_dir: Path | None,
    client,
) -> Iterator[Forward]:
    """Yield the function that computes a model's products: here, or on one Dask client."""
    if engine == "local":

        def local(info: ModelInfo, table: pl.DataFrame) -> ForwardProducts:
            return forward_products(load_embedder(info.path, settings=settings), table)

        yield local
        return
    from engine.infer.distributed import connect  # needs the "scale" extra

    with connect(client) as dask_client:

        def on_dask(info: ModelInfo, table: pl.DataFrame) -> ForwardProducts:
            return forward_partitioned(
                shards, building / f".forward-{info.name}", info.path, client=dask_client,
                settings=settings, models_dir=models_dir,
            )  # fmt: skip

        yield on_dask


def _build_models(
    table: pl.DataFrame,
    folder: Path,
    infos: list[ModelInfo],
    index_kind: IndexKind,
    forward: Forward,
    progress: bool,
    threads: int | None,
    models_dir: Path | None,
) -> dict[str, dict]:
    """Write the objects and every model's products into ``folder``; returns their entries."""
    entries = {}
    ids = table["object_id"].to_numpy()
    bar = tqdm(total=len(_STAGES) * len(infos), desc="catalogue", disable=not progress, unit="step")
    with thread_cap(threads), bar:
        write_table(table, folder / OBJECTS_FILE)
        for info in infos:
            (folder / info.name).mkdir()
            entry = _build_model(
                lambda info=info: forward(info, table),
                ids,
                folder / info.name,
                index_kind,
                lambda stage, n=info.name: _step(bar, n, stage),
            )
            described = {"family": info.family, "capabilities": sorted(info.capabilities)}
            entries[info.name] = described | entry | _model_source(info, models_dir)
    return entries


def _step(bar: tqdm, model: str, stage: str) -> None:
    bar.set_description(f"{model}: {stage}")
    bar.update(1)


def _build_model(
    forward: Callable[[], ForwardProducts],
    ids: np.ndarray,
    folder: Path,
    index_kind: IndexKind,
    step: Callable[[str], None],
) -> dict:
    """Write one model's products into ``folder``; returns its manifest entry.

    ``forward()`` computes the model's per-object outputs for the objects ``ids`` (here or
    on a Dask cluster); they must come back in that order.
    """
    seconds = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        seconds[stage] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()
        step(stage)

    products = forward()
    if not np.array_equal(products.object_id.astype(str), ids.astype(str)):
        msg = "the model's outputs do not list the catalogue's objects in its order"
        raise InputError(msg)
    embeddings = products.embeddings
    _embeddings_frame(ids, embeddings).write_parquet(folder / EMBEDDINGS_FILE)
    if products.predictions is not None:
        products.predictions.write_parquet(folder / PREDICTIONS_FILE)
    lap("embed")
    index = VectorIndex(kind=index_kind).fit(embeddings, ids)
    index.save(folder / INDEX_FILE)
    lap("faiss")
    umap_map = UmapMap().fit(embeddings, neighbours=index)
    umap_map.save(folder, reference="external")  # embeddings.parquet holds it
    _umap_frame(ids, umap_map.embedding_).write_parquet(folder / UMAP_FILE)
    lap("umap")
    scorers = AnomalyScorers().fit(embeddings, neighbours=index)
    scorers.save(folder, reference="external")
    scores = scorers.score(embeddings, self_rows=np.arange(len(ids)), extra=products.scores)
    _anomaly_frame(ids, scores).write_parquet(folder / ANOMALY_FILE)
    lap("anomaly")
    return {
        "dim": int(embeddings.shape[1]),
        "n_reference": len(ids),
        "n_objects": len(ids),
        "index": index.kind_,
        "umap": {"n_neighbors": umap_map.n_neighbors_, "min_dist": umap_map.min_dist},
        "anomaly_scorers": scores.columns,
        "gmm_components": int(scorers.gmm_.n_components),
        "seconds": seconds,
    }


# -- adding uploads --------------------------------------------------------------------------
def place_objects(
    catalog_dir: str | Path,
    table: pl.DataFrame,
    *,
    models: Sequence[str] | None = None,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    threads: int | None = None,
) -> dict[str, ModelPlacement]:
    """Compute the catalogue products of new objects without writing anything.

    Every model of the catalogue (or those named in ``models``) embeds ``table``, places it
    in the stored UMAP map (``transform``), scores it with the stored anomaly scorers and, if
    it classifies, predicts it. Use it to show uploads for one session;
    :func:`add_to_catalog` also stores them.
    """
    catalog_dir = Path(catalog_dir)
    manifest = read_manifest(catalog_dir)
    table = check_table(table)
    _check_ids(table, "the new objects")
    names = [_model_entry(manifest, m)[0] for m in models] if models else list(manifest["models"])
    settings = settings or InferenceSettings(precision=manifest.get("precision", "fp32"))
    placements = {}
    ids = table["object_id"].to_numpy()
    with thread_cap(threads):
        for name in names:
            entry = manifest["models"][name]
            placer = _placer(catalog_dir / name, name, json.dumps(entry), settings, models_dir)
            products = forward_products(placer.embedder, table)
            embeddings = products.embeddings
            xy = placer.umap.transform(embeddings)
            scores = placer.scorers.score(embeddings, extra=products.scores)
            placements[name] = ModelPlacement(
                embeddings=embeddings,
                umap=_umap_frame(ids, xy),
                anomaly=_anomaly_frame(ids, scores),
                predictions=products.predictions,
            )
    return placements


def add_to_catalog(
    catalog_dir: str | Path,
    table: pl.DataFrame,
    *,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    threads: int | None = None,
) -> dict[str, ModelPlacement]:
    """Append new objects (uploads) to a catalogue without refitting its map or scorers.

    Computes everything with :func:`place_objects` first, then appends to ``objects.parquet``
    and to every model's Parquet files and FAISS index. Raises :class:`InvalidValueError` if an
    object id is already in the catalogue. Returns the placements.
    """
    catalog_dir = Path(catalog_dir)
    table = check_table(table)
    objects = read_table(catalog_dir / OBJECTS_FILE)
    clash = table.join(objects.select("object_id"), on="object_id", how="semi")["object_id"]
    if clash.len():
        msg = (
            f"object id(s) {clash.head(5).to_list()} are already in catalogue "
            f"{catalog_dir.name!r}; rename them (ids must be unique)"
        )
        raise InvalidValueError(msg)
    placements = place_objects(
        catalog_dir, table, settings=settings, models_dir=models_dir, threads=threads
    )
    manifest = read_manifest(catalog_dir)
    ids = table["object_id"].to_numpy()
    # every file is written beside its target first and swapped in at the end, so a failure
    # leaves the catalogue as it was (the swaps are renames)
    writes: dict[Path, Callable[[Path], object]] = {}
    for name, placement in placements.items():
        folder = catalog_dir / name
        index = VectorIndex.load(folder / INDEX_FILE)
        index.add(placement.embeddings)
        writes[folder / INDEX_FILE] = index.save
        new = {
            EMBEDDINGS_FILE: _embeddings_frame(ids, placement.embeddings),
            UMAP_FILE: placement.umap,
            ANOMALY_FILE: placement.anomaly,
            PREDICTIONS_FILE: placement.predictions,
        }
        for file, frame in new.items():
            if frame is not None:
                merged = pl.concat([pl.read_parquet(folder / file), frame], how="diagonal_relaxed")
                writes[folder / file] = merged.write_parquet
        manifest["models"][name]["n_objects"] = index.ntotal
    merged_objects = pl.concat([objects, table], how="diagonal_relaxed")
    writes[catalog_dir / OBJECTS_FILE] = lambda path: write_table(merged_objects, path)
    manifest["n_objects"] = merged_objects.height
    text = json.dumps(manifest, indent=2)
    writes[catalog_dir / MANIFEST_FILE] = lambda path: path.write_text(text)
    _replace_all(writes)
    return placements


# -- querying --------------------------------------------------------------------------------
def read_manifest(catalog_dir: str | Path) -> dict:
    """Read the ``catalog.json`` of a catalogue built by :func:`build_catalog`."""
    path = Path(catalog_dir) / MANIFEST_FILE
    if not path.is_file():
        msg = f"{catalog_dir}: not a catalogue built by 'catscope index' (no {MANIFEST_FILE})"
        raise InputError(msg)
    return json.loads(path.read_text())


def neighbours(
    catalog_dir: str | Path, object_id: str, k: int = 10, model: str | None = None
) -> pl.DataFrame:
    """Find the ``k`` objects most similar to ``object_id`` in ``model``'s embedding space.

    Returns ``object_id, distance`` (cosine distance, 0 = same direction; nearest first),
    ``label`` (null when unknown) and ``pred_class`` (null when the model does not
    classify). ``model`` defaults to the catalogue's first classifier.
    """
    catalog_dir = Path(catalog_dir)
    name, index = _stored_index(catalog_dir, model)
    try:
        found = index.search_ids([str(object_id)], k)
    except UnknownObjectError as exc:
        msg = (
            f"no object with id {object_id!r} in catalogue {catalog_dir.name!r} ({index.ntotal:,})"
        )
        raise UnknownObjectError(msg) from exc
    return _neighbour_frame(catalog_dir, name, found)


def neighbours_of_vector(
    catalog_dir: str | Path, vector: np.ndarray, k: int = 10, model: str | None = None
) -> pl.DataFrame:
    """Find the ``k`` catalogue objects most similar to an embedding the catalogue does not hold.

    ``vector`` is ``model``'s embedding of a new object (e.g. from :func:`place_objects`);
    returns the same columns as :func:`neighbours`.
    """
    catalog_dir = Path(catalog_dir)
    name, index = _stored_index(catalog_dir, model)
    return _neighbour_frame(catalog_dir, name, index.search(np.atleast_2d(vector), k))


def _stored_index(catalog_dir: Path, model: str | None) -> tuple[str, VectorIndex]:
    """Name of ``model`` in the catalogue and its FAISS index, with the object ids."""
    name, _ = _model_entry(read_manifest(catalog_dir), model)
    return name, load_index(catalog_dir / name)


def load_index(model_dir: str | Path) -> VectorIndex:
    """Load the FAISS index of one model folder of a catalogue, with its object ids.

    Loaded once per version of its files (a search in the app or a notebook does not re-read
    a million-vector index); the index is shared, so callers search it and never add to it.
    """
    model_dir = Path(model_dir).resolve()
    files = (model_dir / INDEX_FILE, model_dir / EMBEDDINGS_FILE)
    return _load_index(model_dir, tuple(f.stat().st_mtime_ns if f.is_file() else 0 for f in files))


@functools.lru_cache(maxsize=8)
def _load_index(model_dir: Path, stamps: tuple[int, ...]) -> VectorIndex:
    """Read an index and its ids; ``stamps`` (file mtimes) key the cache by file version."""
    if not (model_dir / INDEX_FILE).is_file():
        msg = f"{model_dir}: no FAISS index there; build it with 'catscope index'"
        raise InputError(msg)
    ids = pl.read_parquet(model_dir / EMBEDDINGS_FILE, columns=["object_id"])["object_id"]
    return VectorIndex.load(model_dir / INDEX_FILE, object_ids=ids.to_list())


def _neighbour_frame(catalog_dir: Path, model: str, found: Neighbours) -> pl.DataFrame:
    """Tabulate the first query's neighbours: ``object_id, distance``, label and class."""
    keep = found.rows[0] >= 0
    frame = pl.DataFrame({
        "object_id": found.object_id[0][keep].astype(str),
        "distance": found.distance[0][keep],
    })  # fmt: skip
    return _describe(catalog_dir, model, frame)


def top_anomalies(
    catalog_dir: str | Path, n: int = 50, scorer: str | None = None, model: str | None = None
) -> pl.DataFrame:
    """List the ``n`` strangest objects by ``scorer`` (default :data:`DEFAULT_SCORER`).

    Returns ``rank, object_id, score, label, pred_class``, highest score first; ``model``
    defaults to the catalogue's first classifier.
    """
    catalog_dir = Path(catalog_dir)
    name, entry = _model_entry(read_manifest(catalog_dir), model)
    scorer = scorer or DEFAULT_SCORER
    if scorer not in entry["anomaly_scorers"]:
        msg = f"unknown scorer {scorer!r} for model {name!r}; available: {entry['anomaly_scorers']}"
        raise InvalidValueError(msg)
    if n < 1:
        msg = f"n must be at least 1, got {n}"
        raise InvalidValueError(msg)
    scores = pl.read_parquet(catalog_dir / name / ANOMALY_FILE, columns=["object_id", scorer])
    top = (
        scores.rename({scorer: "score"})
        .sort("score", descending=True, nulls_last=True, maintain_order=True)
        .head(n)
        .with_row_index("rank", offset=1)
    )
    return _describe(catalog_dir, name, top)


def _describe(catalog_dir: Path, model: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the objects' ``label`` and the model's ``pred_class`` joined on."""
    objects = catalog_dir / OBJECTS_FILE
    if LABEL_COLUMN in pl.read_parquet_schema(objects):
        labels = pl.read_parquet(objects, columns=["object_id", LABEL_COLUMN])
    else:
        labels = pl.DataFrame(schema={"object_id": pl.String, LABEL_COLUMN: pl.String})
    predictions = catalog_dir / model / PREDICTIONS_FILE
    if predictions.is_file():
        classes = pl.read_parquet(predictions, columns=["object_id", "pred_class"])
    else:
        classes = pl.DataFrame(schema={"object_id": pl.String, "pred_class": pl.String})
    return (
        frame.join(labels.rename({LABEL_COLUMN: "label"}), on="object_id", how="left",
                   maintain_order="left")
        .join(classes, on="object_id", how="left", maintain_order="left")
    )  # fmt: skip


# -- helpers ---------------------------------------------------------------------------------
def _model_entry(manifest: dict, model: str | None) -> tuple[str, dict]:
    """Look up ``model`` in the manifest: its name and entry.

    The default is the first model that classifies (its results carry a predicted class), else
    the first model, as in the app.
    """
    models = manifest["models"]
    if not models:
        msg = "this catalogue has no models"
        raise ModelNotFoundError(msg)
    if model is None:
        classifiers = [n for n, e in models.items() if "classify" in e.get("capabilities", ())]
        model = (classifiers or list(models))[0]
    name = str(model)
    if name not in models:
        msg = f"no model {name!r} in this catalogue; it has {list(models)}"
        raise ModelNotFoundError(msg)
    return name, models[name]


def resolve_models(models: Sequence[str] | None, models_dir: Path | None = None) -> list[ModelInfo]:
    """Find the models to index with: those named (names or directories), or all shipped."""
    infos = [find_model(m, models_dir) for m in models] if models else available_models(models_dir)
    if not infos:
        msg = f"no models to index with: none given and none shipped in {models_dir or MODELS_DIR}"
        raise ModelNotFoundError(msg)
    names = [info.name for info in infos]
    if len(set(names)) != len(names):
        msg = f"models must have distinct names (catalogue folder names), got {names}"
        raise InvalidValueError(msg)
    cannot = [info.name for info in infos if not info.can("embed")]
    if cannot:
        msg = f"model(s) {cannot} cannot embed light curves, so cannot index a catalogue"
        raise InvalidValueError(msg)
    return infos


def _model_source(info: ModelInfo, models_dir: Path | None) -> dict:
    """How to find the model again: its name if shipped, else its path; and its weights' hash."""
    shipped = info.path.resolve().parent == Path(models_dir or MODELS_DIR).resolve()
    return {
        "source": info.name if shipped else str(info.path.resolve()),
        "sha256": _weights_hash(info.path),
    }


def _weights_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path / WEIGHTS_FILE, "rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Placer:
    """What places new objects for one model of a catalogue: its embedder, map and scorers."""

    embedder: Embedder
    umap: UmapMap
    scorers: AnomalyScorers


def _placer(
    folder: Path,
    name: str,
    entry: str,
    settings: InferenceSettings,
    models_dir: Path | None,
) -> _Placer:
    """Return the :class:`_Placer` of model ``folder``, loaded once per process and state.

    Loading (hashing the weights, reading the index, map and scorers) costs seconds, so an
    upload in the app reuses it; ``add_to_catalog`` rewrites the folder's files, which changes
    their modification times and so the cache key. Placement only reads the placer.
    """
    stamp = tuple((folder / f).stat().st_mtime_ns for f in (INDEX_FILE, EMBEDDINGS_FILE))
    return _load_placer(folder, name, entry, settings, models_dir, stamp)


@functools.lru_cache(maxsize=16)
def _load_placer(
    folder: Path,
    name: str,
    entry: str,
    settings: InferenceSettings,
    models_dir: Path | None,
    stamp: tuple[int, ...],
) -> _Placer:
    values = json.loads(entry)
    index = VectorIndex.load(folder / INDEX_FILE)
    fitted = {"neighbours": index, "reference": _reference(folder, values["n_reference"])}
    return _Placer(
        embedder=catalogue_embedder(name, values, settings, models_dir),
        umap=UmapMap.load(folder, **fitted),
        scorers=AnomalyScorers.load(folder, **fitted),
    )


def catalogue_embedder(
    name: str, entry: dict, settings: InferenceSettings, models_dir: Path | None
) -> Embedder:
    """Load the model a catalogue was built with, checked against its weights hash."""
    try:
        info = find_model(entry["source"], models_dir)
    except ModelNotFoundError as exc:
        msg = f"model {name!r} of this catalogue is not available ({entry['source']}): {exc}"
        raise ModelNotFoundError(msg) from exc
    if _weights_hash(info.path) != entry["sha256"]:
        msg = (
            f"model {name!r} at {info.path} is not the version this catalogue was built with "
            "(its weights differ); rebuild the catalogue with 'catscope index'"
        )
        raise InputError(msg)
    return load_embedder(info.path, settings=settings)


def _check_ids(table: pl.DataFrame, what: str) -> None:
    repeated = table.filter(pl.col("object_id").is_duplicated())["object_id"].unique()
    if repeated.len():
        msg = f"{what}: object ids must be unique; repeated: {repeated.head(5).to_list()}"
        raise InvalidValueError(msg)


def _check_target(out_dir: Path, mode: str) -> None:
    if mode not in ("create", "overwrite"):
        msg = f"mode must be 'create' or 'overwrite', got {mode!r}"
        raise ValueError(msg)
    if not out_dir.exists():
        return
    if mode == "create":
        msg = f"{out_dir} already exists; choose another folder or overwrite the catalogue"
        raise InputError(msg)
    if not (out_dir / MANIFEST_FILE).is_file():
        msg = f"{out_dir} exists and is not a catalogue (no {MANIFEST_FILE}); not overwriting it"
        raise InputError(msg)


def _embeddings_frame(ids: np.ndarray, embeddings: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"object_id": ids.astype(str), "embedding": embeddings})


def _reference(folder: Path, n_reference: int) -> np.ndarray:
    """Read the embeddings the map and scorers were fitted on (first rows of the file)."""
    frame = pl.scan_parquet(folder / EMBEDDINGS_FILE).head(n_reference).collect()
    return frame["embedding"].to_numpy()


def _umap_frame(ids: np.ndarray, xy: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"object_id": ids.astype(str), "x": xy[:, 0], "y": xy[:, 1]})


def _anomaly_frame(ids: np.ndarray, scores: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame({"object_id": ids.astype(str)}).hstack(scores)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _replace_all(writes: dict[Path, Callable[[Path], object]]) -> None:
    """Write every file to a temporary name, then rename them all over their targets."""
    try:
        for path, write in writes.items():
            write(_temporary(path))
    except BaseException:
        for path in writes:
            _temporary(path).unlink(missing_ok=True)
        raise
    for path in writes:
        os.replace(_temporary(path), path)


def _versions() -> dict[str, str]:
    found = {}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found
