"""App test fixtures: a small sample catalogue, a tiny random ATCAT model, a session state."""

from __future__ import annotations

import asyncio
import html
import json
import shutil
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import panel as pn
import polars as pl
import pytest

from app.main import create_app
from app.state import AppState
from engine.catalog import OBJECTS_FILE, Catalog
from engine.data.schema import write_table
from engine.index.catalog_build import EMBEDDINGS_FILE, INDEX_FILE, MANIFEST_FILE
from engine.labels import LabelStore
from engine.models.checkpoint import METRICS_FILE
from engine.models.registry import ModelInfo, available_models
from engine.vectors import VectorIndex

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "plasticc_fold0_sample.parquet"
#: a periodic object of the sample (an RR Lyrae star)
PERIODIC_ID = "296570"


class Rendered(HTMLParser):
    """The elements (tag, attributes) and the text of a piece of HTML."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text = ""
        self.feed(source)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text += data


def markdown_html(source: str) -> str:
    """HTML that Panel's Markdown pane (and Alert) sends to the browser for ``source``."""
    pane = pn.pane.Markdown(source)
    # the pane escapes its HTML once more for the wire; the browser unescapes it
    return html.unescape(pane._transform_object(pane.object)["object"])


def shown(source: str) -> str:
    """Text a Markdown pane shows for ``source``: what a user reads."""
    return Rendered(markdown_html(source)).text.strip()


def run_handler(coroutine: Coroutine) -> object:
    """Run an async event handler to completion.

    In a fresh thread: pytest-playwright keeps an event loop in the main thread, where Panel
    would only schedule the handler.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def small_catalog() -> Catalog:
    """One example per class of the PLAsTiCC sample plus the first 30 objects."""
    full = Catalog.load(SAMPLE)
    keep = pl.concat(
        [full.examples()["object_id"], full.table["object_id"].head(30), pl.Series([PERIODIC_ID])]
    ).unique(maintain_order=True)
    return Catalog(
        name="sample", table=full.table.filter(pl.col("object_id").is_in(keep.to_list()))
    )


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, small_catalog) -> Path:
    """A folder with a tiny ATCAT of random weights and its ``catscope evaluate`` metrics."""
    import torch

    from engine.infer import load_predictor
    from engine.infer.evaluate import evaluate_predictor
    from engine.models import save_model
    from engine.models.atcat import ATCAT, ATCATConfig

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = ATCATConfig(
        d_model=16,
        n_layers=2,
        n_heads=2,
        head_dim=8,
        n_mixture=8,
        max_points=48,
        class_names=tuple(small_catalog.classes()),
        metadata_names=("hostgal_photoz", "mwebv"),
    )
    folder = tmp_path_factory.mktemp("models")
    path = save_model(ATCAT(config), folder / "tiny-atcat", description="random weights, for tests")
    metrics = evaluate_predictor(load_predictor(path), small_catalog.table)
    (path / METRICS_FILE).write_text(json.dumps(metrics))
    return folder


def far_band(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with lsst_y named ``w`` at 20000 Å (beyond the trained range), ids ``far-``."""
    return table.with_columns(
        pl.concat_str(pl.lit("far-"), "object_id").alias("object_id"),
        pl.col("band").list.eval(pl.element().replace("lsst_y", "w")),
        pl.col("wavelength")
        .list.eval(pl.when(pl.element() > 9000).then(20000.0).otherwise(pl.element()))
        .cast(pl.List(pl.Float32)),
    )


@pytest.fixture(scope="session")
def domain_models_dir(tmp_path_factory, models_dir, small_catalog) -> Path:
    """The tiny model again, with a domain reference: the small catalogue as its training set."""
    from engine.infer import load_predictor
    from engine.infer.domain import DomainReference

    folder = tmp_path_factory.mktemp("domain-models")
    path = shutil.copytree(models_dir / "tiny-atcat", folder / "tiny-atcat")
    predictor = load_predictor(path)
    held_out = Catalog.load(SAMPLE).table.join(small_catalog.table, on="object_id", how="anti")
    DomainReference(k=5).fit(
        predictor.embed(small_catalog.table),
        predictor.embed(held_out.head(100)),
        small_catalog.table,
    ).save(path)
    return folder


@pytest.fixture
def labels(tmp_path) -> LabelStore:
    store = LabelStore(tmp_path / "labels.db")
    yield store
    store.close()


@pytest.fixture
def state(small_catalog, models_dir, labels) -> AppState:
    """A session's state with the tiny model chosen."""
    return AppState(catalog=small_catalog, labels=labels, models=available_models(models_dir))


@pytest.fixture
def domain_state(small_catalog, domain_models_dir, labels) -> AppState:
    """A session's state with the tiny model and its domain reference, plus one far-band object.

    The far-band object is :data:`PERIODIC_ID` given in a band at 20000 Å, ``far-<id>``.
    """
    far = far_band(small_catalog.get(PERIODIC_ID))
    return AppState(
        catalog=small_catalog.add(far, source="far.csv"),
        labels=labels,
        models=available_models(domain_models_dir),
    )


@pytest.fixture
def bare_state(small_catalog, labels) -> AppState:
    """A session's state without any model."""
    return AppState(catalog=small_catalog, labels=labels)


@pytest.fixture
def embed_only(models_dir) -> ModelInfo:
    """The tiny model presented as one that can only embed."""
    info = available_models(models_dir)[0]
    return ModelInfo(
        name="embedder", family="astraclr", path=info.path, capabilities=frozenset({"embed"})
    )


#: the name of the test model, so that the session's model has an index
MODEL = "tiny-atcat"


def write_indexed_catalogue(folder: Path, table: pl.DataFrame, embeddings: np.ndarray) -> Path:
    """Write the files ``engine.index.catalog_build.neighbours`` reads, for model :data:`MODEL`."""
    ids = table["object_id"].to_list()
    (folder / MODEL).mkdir(parents=True)
    write_table(table, folder / OBJECTS_FILE)
    pl.DataFrame({"object_id": ids, "embedding": embeddings}).write_parquet(
        folder / MODEL / EMBEDDINGS_FILE
    )
    VectorIndex(kind="flat").fit(embeddings, ids).save(folder / MODEL / INDEX_FILE)
    manifest = {"models": {MODEL: {"anomaly_scorers": [], "n_reference": len(ids)}}}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    return folder


def clustered(n: int, *, seed: int = 0) -> np.ndarray:
    """(n, 8) embeddings: even rows near one direction, odd rows near an orthogonal one."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8, dtype=np.float32)[[0, 1]]
    return (centres[np.arange(n) % 2] + 0.05 * rng.standard_normal((n, 8))).astype(np.float32)


@pytest.fixture(scope="module")
def served(serve_panel, small_catalog, models_dir, tmp_path_factory):
    """URL of the app serving the small catalogue with the tiny model, and its label file."""
    folder = tmp_path_factory.mktemp("served")
    write_table(small_catalog.table, folder / "sample.parquet")
    labels = folder / "labels.db"
    url = serve_panel(lambda: create_app(folder / "sample.parquet", models_dir, labels))
    return url, labels
