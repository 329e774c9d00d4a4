"""Catalogue build with a tiny untrained ATCAT: layout, Catalog loading, queries, uploads."""

from __future__ import annotations

import shutil

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.catalog import (
    ANOMALY_FILE,
    PREDICTIONS_FILE,
    UMAP_FILE,
    Catalog,
    UnknownObjectError,
)
from engine.errors import InputError, InvalidValueError, ModelNotFoundError
from engine.index import anomaly, umap_map
from engine.index.anomaly import SCORERS
from engine.index.catalog_build import (
    EMBEDDINGS_FILE,
    INDEX_FILE,
    add_to_catalog,
    build_catalog,
    load_index,
    neighbours,
    neighbours_of_vector,
    place_objects,
    read_manifest,
    top_anomalies,
)
from engine.infer import Predictor
from engine.vectors import VectorIndex

N_BUILT = 120
MODEL = "tiny-atcat"


@pytest.fixture(scope="module")
def built(tmp_path_factory, model_dir, sample_table):
    out = tmp_path_factory.mktemp("catalogues") / "sample"
    build_catalog(sample_table.head(N_BUILT), out, [str(model_dir)], progress=False, threads=1)
    return out


@pytest.fixture
def writable(built, tmp_path):
    """A copy of the built catalogue that a test may change."""
    return shutil.copytree(built, tmp_path / "sample")


@pytest.fixture(scope="module")
def uploads(sample_table):
    return sample_table.slice(N_BUILT, 15).drop("label")


def embeddings_of(catalog_dir) -> tuple[np.ndarray, np.ndarray]:
    frame = pl.read_parquet(catalog_dir / MODEL / EMBEDDINGS_FILE)
    return frame["object_id"].to_numpy(), frame["embedding"].to_numpy()


def test_build_writes_the_layout_that_catalog_loads(built, predictor, sample_table):
    folder = built / MODEL
    for name in (
        PREDICTIONS_FILE,
        UMAP_FILE,
        ANOMALY_FILE,
        EMBEDDINGS_FILE,
        INDEX_FILE,
        umap_map.PARAMS_FILE,
        umap_map.ARRAYS_FILE,
        anomaly.PARAMS_FILE,
        anomaly.ARRAYS_FILE,
    ):
        assert (folder / name).is_file(), name
    manifest = read_manifest(built)
    entry = manifest["models"][MODEL]
    assert (manifest["n_objects"], entry["n_reference"], entry["index"]) == (
        N_BUILT,
        N_BUILT,
        "flat",
    )
    assert entry["anomaly_scorers"] == list(SCORERS) and entry["dim"] == 32
    assert {"faiss-cpu", "umap-learn", "scikit-learn", "torch"} <= set(manifest["versions"])
    catalog = Catalog.load(built)
    assert (len(catalog), catalog.models) == (N_BUILT, [MODEL])
    products = catalog.products[MODEL]
    assert products.anomaly_scorers == list(SCORERS)
    for frame in (products.predictions, products.umap, products.anomaly):
        assert frame["object_id"].to_list() == catalog.table["object_id"].to_list()
    ids, vectors = embeddings_of(built)
    np.testing.assert_allclose(vectors, predictor.embed(sample_table.head(N_BUILT)), atol=1e-5)
    assert catalog.ranking(f"{MODEL}: knn_distance")["score"].null_count() == 0


def test_neighbours_are_the_nearest_others_by_cosine(built, sample_table):
    ids, vectors = embeddings_of(built)
    query = ids[7]
    found = neighbours(built, query, k=5)
    assert found.columns == ["object_id", "distance", "label", "pred_class"]
    assert found.height == 5 and query not in found["object_id"].to_list()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = 1.0 - unit @ unit[7]
    cosine[7] = np.inf
    np.testing.assert_allclose(found["distance"].to_numpy(), np.sort(cosine)[:5], atol=1e-5)
    labels = dict(zip(sample_table["object_id"], sample_table["label"], strict=True))
    assert found["label"].to_list() == [labels[i] for i in found["object_id"]]
    assert found["pred_class"].null_count() == 0


def test_neighbours_of_a_new_vector_include_its_twin(built):
    ids, vectors = embeddings_of(built)
    found = neighbours_of_vector(built, vectors[7] * 3.0, k=5)  # cosine: the scale is ignored
    assert found.columns == ["object_id", "distance", "label", "pred_class"]
    assert found["object_id"][0] == ids[7] and found["distance"][0] == pytest.approx(0, abs=1e-5)
    others = neighbours(built, ids[7], k=4)["object_id"].to_list()
    assert found["object_id"].to_list()[1:] == others


def test_top_anomalies_rank_by_each_scorer(built):
    scores = pl.read_parquet(built / MODEL / ANOMALY_FILE)
    for scorer in SCORERS:
        top = top_anomalies(built, n=10, scorer=scorer)
        assert top.columns == ["rank", "object_id", "score", "label", "pred_class"]
        assert top["rank"].to_list() == list(range(1, 11))
        expected = scores.sort(scorer, descending=True, maintain_order=True).head(10)
        assert top["object_id"].to_list() == expected["object_id"].to_list()
    assert top_anomalies(built, n=3).height == 3  # default scorer


def test_queries_name_what_is_unknown(built, tmp_path):
    with pytest.raises(UnknownObjectError, match="no object with id 'nope' in catalogue 'sample'"):
        neighbours(built, "nope")
    with pytest.raises(ModelNotFoundError, match=r"no model 'other'.*\['tiny-atcat'\]"):
        neighbours(built, "x", model="other")
    with pytest.raises(InvalidValueError, match="unknown scorer 'magic'.*knn_distance"):
        top_anomalies(built, scorer="magic")
    with pytest.raises(InputError, match="not a catalogue"):
        top_anomalies(tmp_path)


def test_build_refuses_to_clobber(built, model_dir, sample_table, tmp_path):
    table = sample_table.head(10)
    with pytest.raises(InputError, match="already exists"):
        build_catalog(table, built, [str(model_dir)], progress=False)
    (tmp_path / "mine").mkdir()
    with pytest.raises(InputError, match="not a catalogue"):
        build_catalog(table, tmp_path / "mine", [str(model_dir)], progress=False, mode="overwrite")
    with pytest.raises(InvalidValueError, match="repeated"):
        build_catalog(pl.concat([table, table]), tmp_path / "dup", [str(model_dir)], progress=False)
    with pytest.raises(ModelNotFoundError, match="no model named 'missing'"):
        build_catalog(table, tmp_path / "x", ["missing"], progress=False)
    with pytest.raises(ModelNotFoundError, match="no models to index with"):
        build_catalog(table, tmp_path / "x", progress=False, models_dir=tmp_path / "none")
    assert not (tmp_path / "x").exists() and not (tmp_path / "dup").exists()


def test_uploads_are_placed_without_refitting(built, writable, uploads):
    before = Catalog.load(writable).products[MODEL]
    placed = add_to_catalog(writable, uploads, threads=1)[MODEL]
    after = Catalog.load(writable)
    assert len(after) == N_BUILT + 15
    products = after.products[MODEL]
    # nothing that was there moved
    assert_frame_equal(products.umap.head(N_BUILT), before.umap)
    assert_frame_equal(products.anomaly.head(N_BUILT), before.anomaly)
    assert_frame_equal(products.umap.tail(15), placed.umap)
    assert products.predictions.height == N_BUILT + 15
    ids, vectors = embeddings_of(writable)
    assert ids.tolist()[N_BUILT:] == uploads["object_id"].to_list()
    index = VectorIndex.load(writable / MODEL / INDEX_FILE, object_ids=ids)
    assert index.ntotal == N_BUILT + 15
    np.testing.assert_array_equal(
        index.search(vectors[N_BUILT:], 1).rows[:, 0], np.arange(N_BUILT, N_BUILT + 15)
    )
    assert neighbours(writable, uploads["object_id"][0], k=3).height == 3
    assert read_manifest(writable)["models"][MODEL]["n_objects"] == N_BUILT + 15
    # the same objects placed in the untouched catalogue get the same results
    fresh = place_objects(built, uploads, threads=1)[MODEL]
    assert_frame_equal(fresh.anomaly, placed.anomaly)
    assert_frame_equal(fresh.umap, placed.umap)
    with pytest.raises(InvalidValueError, match="already in catalogue"):
        add_to_catalog(writable, uploads.head(2))


def test_an_index_is_read_once_per_version_of_its_files(writable, uploads):
    first = load_index(writable / MODEL)
    assert load_index(writable / MODEL) is first
    with pytest.raises(UnknownObjectError):
        first.rows_of([uploads["object_id"][0]])
    add_to_catalog(writable, uploads, threads=1)
    again = load_index(writable / MODEL)
    assert again is not first
    assert again.ntotal == first.ntotal + 15
    assert again.rows_of([uploads["object_id"][0]]).tolist() == [first.ntotal]


def test_a_catalogue_object_placed_again_lands_near_its_position(built, sample_table):
    table = sample_table.head(30)
    placed = place_objects(built, table, threads=1)[MODEL]
    stored = pl.read_parquet(built / MODEL / UMAP_FILE).head(30)
    xy, fitted = placed.umap.select("x", "y").to_numpy(), stored.select("x", "y").to_numpy()
    extent = np.ptp(pl.read_parquet(built / MODEL / UMAP_FILE).select("x", "y").to_numpy(), 0)
    assert np.median(np.linalg.norm(xy - fitted, axis=1)) < 0.05 * extent.max()


def test_model_supplied_scores_become_anomaly_columns(
    monkeypatch, model_dir, sample_table, tmp_path
):
    def anomaly_scores(self, table):
        return {"n_points": table["time"].list.len().to_numpy().astype(float)}

    monkeypatch.setattr(Predictor, "anomaly_scores", anomaly_scores, raising=False)
    out = build_catalog(sample_table.head(40), tmp_path / "c", [str(model_dir)], progress=False)
    scores = pl.read_parquet(out / MODEL / ANOMALY_FILE)
    assert scores.columns == ["object_id", *SCORERS, "n_points"]
    assert scores["n_points"].to_list() == sample_table.head(40)["time"].list.len().to_list()
    added = add_to_catalog(out, sample_table.slice(40, 3))[MODEL]
    assert (
        added.anomaly["n_points"].to_list()
        == sample_table.slice(40, 3)["time"].list.len().to_list()
    )
    assert read_manifest(out)["models"][MODEL]["anomaly_scorers"][-1] == "n_points"


def test_a_failed_add_leaves_the_catalogue_unchanged(writable, uploads, monkeypatch):
    def files():
        return {p.relative_to(writable): p.read_bytes() for p in writable.rglob("*") if p.is_file()}

    before = files()

    def broken(frame, path):  # the objects table is written after the model files
        raise OSError("disk full")

    monkeypatch.setattr("engine.index.catalog_build.write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        add_to_catalog(writable, uploads, threads=1)
    assert files() == before  # no file changed, no temporary file left


def test_every_model_family_indexes_a_catalogue(family_dirs, model_dir, sample_table, tmp_path):
    """ATCAT predicts; Astromer 2, Astra-CLR and RTF embed; RTF adds its reconstruction error."""
    models = [*family_dirs.values(), str(model_dir)]
    out = build_catalog(sample_table.head(40), tmp_path / "c", models, progress=False, threads=1)
    manifest = read_manifest(out)
    assert list(manifest["models"]) == [*family_dirs, MODEL]
    # queries default to the classifier, not to the first model
    assert top_anomalies(out, n=3)["pred_class"].null_count() == 0
    catalog = Catalog.load(out)
    for name in family_dirs:
        products = catalog.products[name]
        assert products.predictions is None and products.umap.height == 40
        first = sample_table["object_id"][0]
        assert neighbours(out, first, k=3, model=name).height == 3
    assert catalog.products["tiny-rtf"].anomaly_scorers == [*SCORERS, "reconstruction_error"]
    assert catalog.products["tiny-astraclr"].anomaly_scorers == list(SCORERS)
    placed = add_to_catalog(out, sample_table.slice(40, 3))
    assert placed["tiny-rtf"].anomaly["reconstruction_error"].is_finite().all()
    assert placed["tiny-astromer2"].predictions is None
    assert read_manifest(out)["models"]["tiny-astraclr"]["n_objects"] == 43
