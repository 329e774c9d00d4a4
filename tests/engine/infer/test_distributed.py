"""The Dask path on a LocalCluster of 2 single-threaded worker processes gives the local results."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

distributed = pytest.importorskip("distributed")  # the "scale" extra

from engine.catalog import ANOMALY_FILE, OBJECTS_FILE, PREDICTIONS_FILE  # noqa: E402
from engine.data.load import ReadOptions, load_frame  # noqa: E402
from engine.data.schema import POINT_COLUMNS, read_table, write_table  # noqa: E402
from engine.errors import CatscopeError, InputError  # noqa: E402
from engine.index.catalog_build import EMBEDDINGS_FILE, build_catalog  # noqa: E402
from engine.infer import InferenceSettings, load_predictor  # noqa: E402
from engine.infer.distributed import (  # noqa: E402
    is_hats_catalog,
    nested_to_table,
    predictor_on_workers,
    run_partitioned,
    score_hats,
    score_partitioned,
    worker_predictor,
)
from engine.infer.streaming import embed_parquet  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:The inplace keyword"),
    # one LocalCluster for the module: keep its tests on one pytest-xdist worker
    pytest.mark.xdist_group("dask"),
]

FP32 = InferenceSettings(precision="fp32", max_tokens=4096)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="module")
def table(sample_table):
    return sample_table.head(36)


@pytest.fixture(scope="module")
def shards(table, tmp_path_factory):
    """The table as three shard files, one of them in a sub-folder."""
    root = tmp_path_factory.mktemp("shards")
    (root / "north").mkdir()
    names = ["a.parquet", "b.parquet", "north/c.parquet"]
    for i, name in enumerate(names):
        write_table(table.slice(12 * i, 12), root / name)
    return root, names


def test_score_partitioned_matches_local_predict(
    client, predictor, model_dir, table, shards, tmp_path
):
    root, names = shards
    summary = score_partitioned(root, tmp_path / "out", model_dir, client=client, settings=FP32)
    assert summary["n_objects"].to_list() == [12, 12, 12]
    assert [str(tmp_path / "out" / n) for n in names] == summary["output"].to_list()
    scored = pl.concat([pl.read_parquet(tmp_path / "out" / n) for n in names])
    assert_frame_equal(scored, predictor.predict(table), rel_tol=1e-4, abs_tol=1e-5)


def test_partitioned_embedding_matches_local_embed(
    client, predictor, model_dir, table, shards, tmp_path
):
    root, names = shards
    run_partitioned(embed_parquet, root, tmp_path / "emb", model_dir, client=client, settings=FP32)
    frame = pl.concat([pl.read_parquet(tmp_path / "emb" / n) for n in names])
    assert frame["object_id"].to_list() == table["object_id"].to_list()
    np.testing.assert_allclose(
        frame["embedding"].to_numpy(), predictor.embed(table), rtol=1e-4, atol=1e-5
    )


def _loaded_model(dask_worker):
    plugin = dask_worker.plugins.get("catscope-predictor")
    return None if plugin is None or plugin.predictor is None else plugin.predictor.info.name


def _held_predictor(dask_worker):
    return id(dask_worker.plugins["catscope-predictor"].predictor)


def _task_predictor():
    return id(worker_predictor())


def test_model_is_loaded_once_per_worker_for_the_job_only(client, model_dir):
    with predictor_on_workers(client, model_dir, FP32, None):
        loaded = client.run(_loaded_model)
        assert sorted(loaded.values()) == [model_dir.name, model_dir.name]
        held = client.run(_held_predictor)
        # every task on a worker borrows the predictor its plugin loaded
        for address, predictor_id in held.items():
            tasks = [client.submit(_task_predictor, workers=[address], pure=False) for _ in "ab"]
            assert client.gather(tasks) == [predictor_id, predictor_id]
    assert set(client.run(_loaded_model).values()) == {None}


def test_tasks_without_a_loaded_model_fail_clearly(client):
    with pytest.raises(CatscopeError, match="no model loaded"):
        client.submit(worker_predictor, "not-registered", pure=False).result()


def test_bad_folders_are_input_errors(client, model_dir, shards, tmp_path):
    root, _ = shards
    with pytest.raises(InputError, match="no \\*.parquet"):
        score_partitioned(tmp_path, tmp_path / "out", model_dir, client=client)
    with pytest.raises(InputError, match="must differ"):
        score_partitioned(root, root, model_dir, client=client)
    with pytest.raises(InputError, match="not a folder"):
        score_partitioned(tmp_path / "nope", tmp_path / "out", model_dir, client=client)


# -- catalogue builds -----------------------------------------------------------------------
def test_catalogue_built_on_dask_matches_the_local_build(
    client, model_dir, family_dirs, table, shards, tmp_path
):
    root, _ = shards
    models = [str(model_dir), family_dirs["tiny-rtf"]]  # a classifier, and a model's own scores
    options = {"progress": False, "settings": FP32, "threads": 1}
    local = build_catalog(table, tmp_path / "local", models, **options)
    dask = {"engine": "dask", "client": client}
    on_dask = build_catalog(root, tmp_path / "dask", models, **dask, **options)
    assert_frame_equal(read_table(on_dask / OBJECTS_FILE), table)
    for model in ("tiny-atcat", "tiny-rtf"):
        for name in (EMBEDDINGS_FILE, PREDICTIONS_FILE, ANOMALY_FILE):
            if (local / model / name).exists() or (on_dask / model / name).exists():
                assert_frame_equal(
                    pl.read_parquet(on_dask / model / name),
                    pl.read_parquet(local / model / name),
                    rel_tol=1e-3,
                    abs_tol=1e-4,
                )
    errors = pl.read_parquet(on_dask / "tiny-rtf" / ANOMALY_FILE)["reconstruction_error"]
    assert errors.min() > 0
    assert not list(on_dask.glob(".forward-*"))  # the per-shard frames were cleaned up
    with pytest.raises(InputError, match="folder of Parquet shards"):
        build_catalog(table, tmp_path / "x", models, **dask, **options)


# -- LSDB / HATS -----------------------------------------------------------------------------
def _arrow_lists(table: pl.DataFrame) -> pd.DataFrame:
    """Pandas frame with pyarrow list columns, as lsdb.nest_lists requires."""
    arrow = table.to_arrow()

    def small(t: pa.DataType) -> pa.DataType:
        if pa.types.is_large_list(t):
            return pa.list_(small(t.value_type))
        return pa.string() if pa.types.is_large_string(t) else t

    schema = pa.schema([pa.field(f.name, small(f.type)) for f in arrow.schema])
    return arrow.cast(schema).to_pandas(types_mapper=pd.ArrowDtype)


def _write_hats(table: pl.DataFrame, path) -> None:
    """Write ``table`` as a tiny HATS catalogue, light curves in the nested column 'lc'."""
    lsdb = pytest.importorskip("lsdb")
    frame = _arrow_lists(
        table.select(
            "object_id", "ra", "dec", "hostgal_photoz", "hostgal_photoz_err", "mwebv", "ddf",
            pl.col("time").alias("mjd"), "band", "flux", "flux_err",
        )
    )  # fmt: skip
    catalog = lsdb.from_dataframe(
        frame, lowest_order=0, highest_order=2, partition_rows=8, margin_threshold=None
    ).nest_lists(list_columns=["mjd", "band", "flux", "flux_err"], name="lc")
    catalog.write_catalog(path, catalog_name="tiny", as_collection=False, progress_bar=False)
    assert catalog.npartitions > 1


@pytest.fixture(scope="module")
def hats_catalog(table, tmp_path_factory):
    """A tiny HATS catalogue: one row per object, light curves in the nested column 'lc'."""
    path = tmp_path_factory.mktemp("hats") / "tiny"
    _write_hats(table, path)
    return path


def test_nested_partition_reads_as_the_canonical_table(hats_catalog, table):
    lsdb = pytest.importorskip("lsdb")
    partition = lsdb.open_catalog(hats_catalog).compute()
    converted, ids = nested_to_table(partition, "lc")
    assert converted["object_id"].to_list() == ids.to_list()
    expected = table.join(converted.select("object_id"), on="object_id", how="semi")
    expected = converted.select("object_id").join(expected, on="object_id", how="left")
    for column in ("time", "band", "wavelength", "flux", "flux_err"):
        assert converted[column].to_list() == expected[column].to_list()
    np.testing.assert_allclose(converted["mwebv"].to_numpy(), expected["mwebv"].to_numpy())


def test_score_hats_matches_local_predict(
    client, predictor, model_dir, hats_catalog, table, tmp_path
):
    lsdb = pytest.importorskip("lsdb")
    assert is_hats_catalog(hats_catalog) and not is_hats_catalog(tmp_path)
    out = score_hats(hats_catalog, tmp_path / "scored", model_dir, client=client, settings=FP32)
    result = lsdb.open_catalog(out)
    assert result.npartitions == lsdb.open_catalog(hats_catalog).npartitions
    scored = pl.from_pandas(result.compute(), include_index=False)
    assert {"ra", "dec"} <= set(scored.columns)
    local = predictor.predict(table)
    joined = local.join(scored.drop("ra", "dec"), on="object_id", suffix="_dask")
    assert joined.height == table.height
    for column in [c for c in local.columns if c.startswith("p_")] + ["confidence"]:
        np.testing.assert_allclose(joined[column], joined[f"{column}_dask"], rtol=1e-4, atol=1e-5)
    assert (joined["pred_class"] == joined["pred_class_dask"]).all()


def test_score_hats_keeps_the_domain_columns(
    client, domain_model_dir, hats_catalog, table, tmp_path
):
    lsdb = pytest.importorskip("lsdb")
    out = score_hats(
        hats_catalog, tmp_path / "scored", domain_model_dir, client=client, settings=FP32
    )
    scored = pl.from_pandas(lsdb.open_catalog(out).compute(), include_index=False)
    local = load_predictor(domain_model_dir, settings=FP32).predict(table)
    joined = local.join(scored, on="object_id", suffix="_dask")
    assert joined.height == table.height
    assert (joined["in_domain"] == joined["in_domain_dask"]).all()
    assert (joined["domain_reason"] == joined["domain_reason_dask"]).all()
    np.testing.assert_allclose(joined["domain_score"], joined["domain_score_dask"], atol=0.02)


def test_score_hats_names_the_nested_columns(client, model_dir, hats_catalog, tmp_path):
    pytest.importorskip("lsdb")
    with pytest.raises(InputError, match="nested columns are \\['lc'\\]"):
        score_hats(hats_catalog, tmp_path / "x", model_dir, client=client, nested_column="points")


def test_score_hats_with_a_band_map_matches_local_predict(
    client, predictor, model_dir, table, tmp_path
):
    lsdb = pytest.importorskip("lsdb")
    # LSST g renamed to a band only --band-map knows, at LSST g's wavelength
    renamed = table.with_columns(pl.col("band").list.eval(pl.element().replace("lsst_g", "w")))
    _write_hats(renamed, tmp_path / "w")
    options = ReadOptions(band_map={"w": 4827.0})
    out = score_hats(
        tmp_path / "w", tmp_path / "scored", model_dir, client=client, settings=FP32,
        options=options,
    )  # fmt: skip
    scored = pl.from_pandas(lsdb.open_catalog(out).compute(), include_index=False)
    local = predictor.predict(load_frame_of(renamed, options))
    joined = local.join(scored.drop("ra", "dec"), on="object_id", suffix="_dask")
    assert joined.height == table.height
    for column in [c for c in local.columns if c.startswith("p_")]:
        np.testing.assert_allclose(joined[column], joined[f"{column}_dask"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(local.drop("object_id", "pred_class").to_numpy(),
                               predictor.predict(table).drop("object_id", "pred_class").to_numpy(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def load_frame_of(table: pl.DataFrame, options: ReadOptions) -> pl.DataFrame:
    """``table`` read back through :func:`load` with ``options``, as ``catscope score`` reads."""
    return load_frame(table.explode(*POINT_COLUMNS), options, source="local").table
