"""Score or embed partitioned light curves on a Dask cluster: one model load per worker.

Two kinds of input:

- a folder of canonical Parquet files (``**/*.parquet``, e.g. the shards of a survey): one task
  per file, each streamed through the fast path (:mod:`engine.infer.streaming`), one output
  file per input file under the same relative path (:func:`score_partitioned`, and any
  per-file function with :func:`run_partitioned`: ``embed_parquet`` of
  :mod:`engine.infer.streaming`, or a catalogue's embedding step in :mod:`engine.index.forward`);
- an LSDB/HATS catalogue whose light curves are a nested column (the Rubin community's format;
  needs ``pip install lsdb``): each HEALPix partition is flattened to observations, read and
  cleaned with the same options as a file (:func:`engine.data.load.load_frame`) and scored;
  the result is a HATS catalogue of predictions with the same partitions (:func:`score_hats`).

The model is loaded once per worker by a :class:`PredictorPlugin` registered for the job and
removed after it; tasks borrow the loaded predictor. ``client`` is a ``distributed.Client``, a
scheduler address, or ``None`` for a ``LocalCluster`` with one single-threaded worker process
per physical core. On a real cluster (paths and the model must be readable from every worker,
e.g. on a shared file system)::

    dask scheduler                                   # prints tcp://HOST:8786
    dask worker tcp://HOST:8786 --nworkers 4 --nthreads 1     # on each machine
    catscope score /data/shards --out /data/scored --engine dask --scheduler tcp://HOST:8786
    catscope index /data/shards --out /data/catalog --engine dask --scheduler tcp://HOST:8786

Keep ``--nthreads 1``: torch's thread count is per process, so two tasks running at once in one
worker would share and oversubscribe it; use more worker processes instead, or one worker per
machine with ``InferenceSettings(threads=<cores>)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow as pa
from distributed import Client, LocalCluster, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from engine.data.load import ReadOptions, load_frame
from engine.errors import CatscopeError, InputError
from engine.infer.batches import InferenceSettings, physical_cores
from engine.infer.domain import DOMAIN_SCHEMA, has_domain_reference
from engine.infer.embedders import Embedder, load_embedder
from engine.infer.predictor import Predictor, load_predictor
from engine.infer.streaming import (
    DEFAULT_ROWS_PER_CHUNK,
    partition_files,
    score_parquet,
)
from engine.models.registry import find_model

Task = Literal["score", "embed"]
#: ``runner(source, target, model, *, rows_per_chunk) -> objects written``: one file's work
FileRunner = Callable[..., int]
PLUGIN_NAME = "catscope-predictor"


class PredictorPlugin(WorkerPlugin):
    """Loads one predictor when attached to a worker; tasks on that worker reuse it.

    Parameters
    ----------
    model : shipped model name or model directory (as the worker sees it)
    settings : inference settings; ``threads=None`` gives torch the worker's thread count
    models_dir : where shipped models are looked up on the worker
    task : ``"score"`` loads an ATCAT :class:`Predictor`; ``"embed"`` loads any family's
        embedder (:func:`engine.infer.embedders.load_embedder`)
    """

    def __init__(
        self,
        model: str,
        settings: InferenceSettings,
        models_dir: str | None = None,
        task: Task = "score",
    ) -> None:
        self.model = model
        self.settings = settings
        self.models_dir = models_dir
        self.task = task
        self.predictor: Predictor | Embedder | None = None

    def setup(self, worker) -> None:
        """Load the model on ``worker`` (runs once per worker, also on workers that join later)."""
        threads = self.settings.threads or worker.state.nthreads
        load = load_predictor if self.task == "score" else load_embedder
        self.predictor = load(
            self.model,
            settings=replace(self.settings, threads=threads),
            models_dir=Path(self.models_dir) if self.models_dir else None,
        )

    def teardown(self, worker) -> None:
        """Drop the model when the job ends or the worker closes."""
        self.predictor = None


def worker_predictor(name: str = PLUGIN_NAME) -> Predictor | Embedder:
    """Return the predictor the :class:`PredictorPlugin` ``name`` loaded on this worker."""
    plugin = get_worker().plugins.get(name)
    if not isinstance(plugin, PredictorPlugin) or plugin.predictor is None:
        msg = f"no model loaded on this Dask worker under plugin {name!r} (see PredictorPlugin)"
        raise CatscopeError(msg)
    return plugin.predictor


@contextmanager
def connect(client: Client | str | None) -> Iterator[Client]:
    """Use ``client``, connect to a scheduler address, or start a local cluster for the block."""
    if isinstance(client, Client):
        yield client
        return
    if client is None:
        cluster = LocalCluster(
            n_workers=physical_cores(), threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, Client(cluster) as local:
            yield local
        return
    with Client(client) as remote:
        yield remote


@contextmanager
def predictor_on_workers(
    client: Client,
    model: str | Path,
    settings: InferenceSettings,
    models_dir: Path | None,
    task: Task = "score",
    name: str = PLUGIN_NAME,
) -> Iterator[str]:
    """Load the model on every worker (and on any that joins) for the block; yields the name."""
    plugin = PredictorPlugin(str(model), settings, str(models_dir) if models_dir else None, task)
    client.register_plugin(plugin, name=name)
    try:
        yield name
    finally:
        client.unregister_worker_plugin(name)


# -- folders of Parquet files ----------------------------------------------------------------
def _run_file(
    runner: FileRunner, source: str, target: str, plugin: str, rows_per_chunk: int
) -> dict:
    """Run ``runner`` on one input file on a worker; returns what was written."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    n = runner(source, target, worker_predictor(plugin), rows_per_chunk=rows_per_chunk)
    return {"input": source, "output": target, "n_objects": n, "worker": get_worker().address}


def run_partitioned(
    runner: FileRunner,
    input_dir: str | Path,
    out_dir: str | Path,
    model: str | Path,
    *,
    task: Task = "embed",
    client: Client | str | None = None,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
) -> pl.DataFrame:
    """Run ``runner`` on every Parquet file under ``input_dir``, one Dask task a file.

    ``runner(source, target, model, rows_per_chunk=...)`` is a module-level function (tasks
    carry it by reference) that writes ``target`` from ``source`` with the model the workers
    loaded for ``task`` (``"score"``: an ATCAT predictor; ``"embed"``: any family's embedder).
    Targets keep the inputs' relative paths under ``out_dir``. Returns one row per file, in
    sorted file order: ``input, output, n_objects, worker``.
    """
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    files = partition_files(input_dir)
    if out_dir.resolve() == input_dir.resolve():
        msg = f"the output folder must differ from the input folder, both are {input_dir}"
        raise InputError(msg)
    targets = [out_dir / f.relative_to(input_dir) for f in files]
    settings = settings or InferenceSettings.fast(threads=None)
    with connect(client) as dask_client:
        with predictor_on_workers(dask_client, model, settings, models_dir, task) as plugin:
            futures = [
                dask_client.submit(
                    _run_file, runner, str(f), str(t), plugin, rows_per_chunk, pure=False
                )
                for f, t in zip(files, targets, strict=True)
            ]
            rows = dask_client.gather(futures)
    return pl.DataFrame(rows)


def score_partitioned(
    input_dir: str | Path,
    out_dir: str | Path,
    model: str | Path = "atcat-plasticc",
    *,
    client: Client | str | None = None,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
) -> pl.DataFrame:
    """Classify every canonical Parquet file under ``input_dir`` into ``out_dir``, one task each.

    Each output file has the columns of :meth:`Predictor.predict` and the input's relative
    path. ``settings`` default to :meth:`InferenceSettings.fast` with the workers' threads.
    Returns one row per file: ``input, output, n_objects, worker``.
    """
    return run_partitioned(
        score_parquet, input_dir, out_dir, model, task="score", client=client,
        settings=settings, models_dir=models_dir, rows_per_chunk=rows_per_chunk,
    )  # fmt: skip


# -- LSDB / HATS catalogues ------------------------------------------------------------------
def is_hats_catalog(path: str | Path) -> bool:
    """Whether ``path`` is a HATS catalogue or collection (it has a properties file)."""
    path = Path(path)
    return any((path / name).is_file() for name in ("hats.properties", "collection.properties"))


def _prediction_schema(model: str | Path, models_dir: Path | None) -> pl.Schema:
    """Columns of the model's :meth:`Predictor.predict`, read without loading the weights.

    Fixed so every partition writes the same types: the domain columns are there when the
    model directory holds a domain reference.
    """
    info = find_model(model, models_dir)
    classes = info.classes
    if not classes:
        msg = f"model {model!r} has no classes; score needs a classifier"
        raise InputError(msg)
    floats = {name: pl.Float32 for name in ("confidence", "unsure", *(f"p_{c}" for c in classes))}
    domain = DOMAIN_SCHEMA if has_domain_reference(info.path) else {}
    return pl.Schema({"object_id": pl.String, "pred_class": pl.String, **floats, **domain})


def nested_to_table(
    partition, nested: str, options: ReadOptions | None = None, *, source: str = "partition"
) -> tuple[pl.DataFrame, pl.Series]:
    """Canonical table of a nested-pandas partition, and its object ids in partition order.

    The nested column is flattened to one row per observation next to the partition's other
    columns, then read like a long file with ``options`` (the ``catscope score`` input options:
    ``--columns``, ``--band-map``, cleaning): column names detected, magnitudes and Julian
    dates converted, unusable points cleaned, and columns constant per object kept as metadata.
    """
    base = pl.from_pandas(partition.drop(columns=[nested]), include_index=False)
    points = pl.from_arrow(pa.array(partition[nested]))  # (n_objects,) list of structs
    long = base.with_columns(points.alias(nested)).explode(nested).unnest(nested)
    loaded = load_frame(long, options or ReadOptions(), source=source)
    object_id = loaded.reports[0].columns["object_id"]
    return loaded.table, base[object_id].cast(pl.String).str.strip_chars()


def _score_nested(
    partition, nested: str, plugin: str, schema: pl.Schema, keep: list[str], options: ReadOptions
):
    """Predictions of one HATS partition, indexed like it, with its ``keep`` columns first."""
    if len(partition) == 0:
        scored = pl.DataFrame(schema=schema)
    else:
        table, ids = nested_to_table(partition, nested, options)
        predicted = worker_predictor(plugin).predict(table).cast(dict(schema))
        # back to partition order (objects keep their order unless an id repeats)
        scored = ids.to_frame("object_id").join(
            predicted, on="object_id", how="left", maintain_order="left"
        )
    frame = scored.to_pandas(use_pyarrow_extension_array=True)
    frame.index = partition.index
    for position, name in enumerate(keep):
        frame.insert(position, name, partition[name])
    return frame


def _nested_column(catalog, nested: str | None) -> str:
    names = list(catalog.nested_columns)
    if nested is None and len(names) == 1:
        return names[0]
    if nested in names:
        return nested
    msg = (
        f"nested_column {nested!r} is not a nested column of this catalogue; "
        f"its nested columns are {names} (pass one of them)"
    )
    raise InputError(msg)


def score_hats(
    catalog_path: str | Path,
    out_dir: str | Path,
    model: str | Path = "atcat-plasticc",
    *,
    client: Client | str | None = None,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    nested_column: str | None = None,
    options: ReadOptions | None = None,
) -> Path:
    """Classify an LSDB/HATS catalogue of nested light curves into a HATS catalogue.

    Parameters
    ----------
    catalog_path : HATS catalogue (or collection) folder
    out_dir : folder of the output catalogue: ``ra``, ``dec`` (the input's names) and the
        columns of :meth:`Predictor.predict`, one Parquet file per HEALPix partition
    nested_column : the light-curve column (default: the catalogue's only nested column)
    options : how to read the light curves, as for a file: ``columns`` maps roles to the
        nested fields and the object id (e.g. ``{"object_id": "objectId", "time":
        "midpointMjdTai", "flux": "psfFlux"}``), ``band_map`` adds bands, ``cleaning``
    """
    lsdb = _import_lsdb()
    catalog = lsdb.open_catalog(catalog_path)
    nested = _nested_column(catalog, nested_column)
    info = catalog.hc_structure.catalog_info
    keep = [info.ra_column, info.dec_column]
    schema = _prediction_schema(model, models_dir)
    options = options or ReadOptions()
    meta = _score_nested(catalog.meta, nested, PLUGIN_NAME, schema, keep, options)
    settings = settings or InferenceSettings.fast(threads=None)
    out_dir = Path(out_dir)
    with connect(client) as dask_client:
        with predictor_on_workers(dask_client, model, settings, models_dir) as plugin:
            scored = catalog.map_partitions(
                _score_nested, nested, plugin, schema, keep, options, meta=meta
            )
            scored.write_catalog(
                out_dir, catalog_name=out_dir.name, as_collection=False, progress_bar=False
            )
    return out_dir


def score_dataset(
    input_path: str | Path,
    out_dir: str | Path,
    model: str | Path = "atcat-plasticc",
    *,
    client: Client | str | None = None,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    options: ReadOptions | None = None,
) -> tuple[int, int]:
    """Classify a HATS catalogue or a folder of Parquet shards (``catscope score --engine dask``).

    ``options`` (the input options of ``catscope score``) read HATS light curves as a file
    would be read; shards must be canonical catscope Parquet, so options that would change
    how they are read are refused rather than ignored. Returns (objects scored, partitions).
    """
    options = options or ReadOptions()
    if is_hats_catalog(input_path):
        out = score_hats(
            input_path, out_dir, model, client=client, settings=settings,
            models_dir=models_dir, options=options,
        )  # fmt: skip
        written = _import_lsdb().open_catalog(out)
        return int(written.hc_structure.catalog_info.total_rows), written.npartitions
    options.refuse_rereading(input_path)
    summary = score_partitioned(
        input_path, out_dir, model, client=client, settings=settings, models_dir=models_dir
    )
    return int(summary["n_objects"].sum()), summary.height


def _import_lsdb():
    try:
        import lsdb
    except ImportError as exc:
        msg = "reading HATS catalogues needs lsdb: pip install lsdb"
        raise InputError(msg) from exc
    return lsdb
