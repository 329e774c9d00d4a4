"""Catalogues: loading a table or a folder with model products, summaries, lookup, uploads."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.catalog import (
    CATALOGUE_ORDER,
    Catalog,
    ModelProducts,
    UnknownObjectError,
    flux_to_mag,
    with_magnitudes,
)
from engine.data.schema import LIGHT_CURVE_SCHEMA, ZERO_POINT, mag_to_flux, write_table
from engine.errors import InputError, InvalidValueError


def make_table(ids, labels=None, *, seed=0) -> pl.DataFrame:
    """Canonical table with a few g/r points per object (flux positive and negative)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, object_id in enumerate(ids):
        n = 6 + k
        rows.append(
            {
                "object_id": object_id,
                "time": np.sort(rng.uniform(60000.0, 60100.0, n)).tolist(),
                "band": ["lsst_r", "lsst_g"] * (n // 2) + ["lsst_g"] * (n % 2),
                "wavelength": [6223.0, 4827.0] * (n // 2) + [4827.0] * (n % 2),
                "flux": rng.normal(50.0, 60.0, n).tolist(),
                "flux_err": rng.uniform(1.0, 5.0, n).tolist(),
                "detected": (rng.uniform(size=n) > 0.3).tolist(),
            }
        )
    table = pl.DataFrame(rows, schema=LIGHT_CURVE_SCHEMA)
    return table.with_columns(pl.Series("label", labels, dtype=pl.String)) if labels else table


@pytest.fixture
def catalog_dir(tmp_path):
    folder = tmp_path / "cat"
    folder.mkdir()
    write_table(make_table(["a", "b", "c"], ["SNIa", "RRL", "SNIa"]), folder / "objects.parquet")
    model = folder / "m1"
    model.mkdir()
    pl.DataFrame(
        {
            "object_id": ["a", "b", "c"],
            "pred_class": ["SNIa", "RRL", "RRL"],
            "confidence": [0.9, 0.6, 0.3],
            "unsure": [0.05, 0.1, 0.5],
            "p_SNIa": [0.9, 0.3, 0.2],
            "p_RRL": [0.05, 0.6, 0.3],
        }
    ).write_parquet(model / "predictions.parquet")
    pl.DataFrame({"object_id": ["a", "b", "c"], "gmm": [0.1, 3.0, 1.0]}).write_parquet(
        model / "anomaly.parquet"
    )
    pl.DataFrame(
        {"object_id": ["a", "b", "c"], "x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 1.0]}
    ).write_parquet(model / "umap.parquet")
    (folder / "notes").mkdir()  # a folder without products is not a model
    return folder


def test_load_a_table_file(tmp_path):
    path = tmp_path / "sample.parquet"
    write_table(make_table(["x", "y"]), path)
    catalog = Catalog.load(path)
    assert (catalog.name, len(catalog), catalog.models) == ("sample", 2, [])
    assert catalog.classes() == []


def test_load_a_folder_with_products(catalog_dir):
    catalog = Catalog.load(catalog_dir)
    assert (catalog.name, len(catalog), catalog.models) == ("cat", 3, ["m1"])
    products = catalog.products["m1"]
    assert products.anomaly_scorers == ["gmm"]
    assert products.umap.columns == ["object_id", "x", "y"]
    assert catalog.classes() == ["RRL", "SNIa"]


def test_folder_without_objects_is_rejected(tmp_path):
    with pytest.raises(InputError, match="objects.parquet"):
        Catalog.load(tmp_path)


def test_product_without_key_columns_is_rejected(catalog_dir):
    pl.DataFrame({"object_id": ["a"], "x": [0.0]}).write_parquet(
        catalog_dir / "m1" / "umap.parquet"
    )
    with pytest.raises(InputError, match=r"umap.parquet: missing column\(s\) \['y'\]"):
        Catalog.load(catalog_dir)


def test_duplicate_ids_are_rejected():
    with pytest.raises(InvalidValueError, match="repeated"):
        Catalog(name="dup", table=make_table(["a", "a"]))


def test_summary_describes_each_object(catalog_dir):
    catalog = Catalog.load(catalog_dir)
    summary = catalog.summary()
    assert summary.columns == [
        "object_id",
        "label",
        "n_points",
        "n_detected",
        "bands",
        "first_mjd",
        "span_days",
        "source",
    ]
    table = catalog.table
    assert summary["n_points"].to_list() == table["time"].list.len().to_list()
    assert summary["n_detected"].to_list() == table["detected"].list.sum().to_list()
    assert summary["bands"].to_list() == ["g r"] * 3  # wavelength order
    np.testing.assert_allclose(
        summary["span_days"], table["time"].list.max() - table["time"].list.min()
    )
    assert set(summary["source"]) == {"catalogue"}
    assert catalog.describe("b") == summary.row(1, named=True)


def test_summary_joins_the_model_products(catalog_dir):
    summary = Catalog.load(catalog_dir).summary("m1")
    assert summary.select("pred_class", "confidence", "anomaly_gmm").rows() == [
        ("SNIa", 0.9, 0.1),
        ("RRL", 0.6, 3.0),
        ("RRL", 0.3, 1.0),
    ]
    assert "p_SNIa" not in summary.columns


def test_summary_carries_the_domain_columns_when_predictions_have_them(catalog_dir):
    assert "domain_score" not in Catalog.load(catalog_dir).summary("m1").columns
    predictions = pl.read_parquet(catalog_dir / "m1" / "predictions.parquet")
    predictions.with_columns(
        domain_score=pl.Series([0.2, 1.0, 0.97]),
        in_domain=pl.Series([True, False, False]),
        domain_reason=pl.Series(["", "only 2 points", "embedding farther"]),
    ).write_parquet(catalog_dir / "m1" / "predictions.parquet")
    summary = Catalog.load(catalog_dir).summary("m1")
    assert summary.select("domain_score", "in_domain", "domain_reason").rows() == [
        (0.2, True, ""),
        (1.0, False, "only 2 points"),
        (0.97, False, "embedding farther"),
    ]


def test_get_and_points(catalog_dir):
    catalog = Catalog.load(catalog_dir)
    assert catalog.get("b")["object_id"].item() == "b"
    points = catalog.points("b")
    assert points.height == catalog.summary()["n_points"][1]
    assert {"mag", "mag_err", "upper_limit"} <= set(points.columns)
    with pytest.raises(UnknownObjectError, match="no object with id 'zzz' in catalogue 'cat'"):
        catalog.get("zzz")


def test_magnitudes_invert_mag_to_flux_and_limit_non_positive_flux():
    mag = np.array([18.0, 21.5])
    flux, flux_err = mag_to_flux(mag, np.array([0.01, 0.2]))
    points = pl.DataFrame({"flux": [*flux, 0.0, -20.0], "flux_err": [*flux_err, 10.0, 4.0]})
    result = with_magnitudes(points)
    np.testing.assert_allclose(result["mag"][:2], mag)
    np.testing.assert_allclose(result["mag_err"][:2], [0.01, 0.2], rtol=1e-9)
    assert result["upper_limit"].to_list() == [False, False, True, True]
    assert result["mag_err"][2:].is_null().all()
    np.testing.assert_allclose(result["mag"][2:], ZERO_POINT - 2.5 * np.log10([30.0, 12.0]))
    mag_expr, _ = flux_to_mag(pl.col("flux"), pl.col("flux_err"))
    assert points.select(mag_expr.alias("m"))["m"].null_count() == 2


def test_examples_pick_the_best_observed_object_per_class():
    table = make_table(["a", "b", "c", "d"], ["SNIa", "SNIa", "RRL", None])
    table = table.with_columns(
        pl.when(pl.col("object_id") == "b")
        .then(pl.col("detected").list.eval(pl.lit(True)))
        .otherwise(pl.col("detected").list.eval(pl.lit(False)))
        .alias("detected")
    )
    examples = Catalog(name="t", table=table).examples()
    assert examples.rows() == [("RRL", "c"), ("SNIa", "b")]


def test_add_appends_objects_and_predictions(catalog_dir):
    catalog = Catalog.load(catalog_dir)
    upload = make_table(["u1", "u2"], seed=5).with_columns(pl.lit(0.1).alias("hostgal_photoz"))
    predictions = pl.DataFrame(
        {"object_id": ["u1", "u2"], "pred_class": ["RRL", "SNIa"], "confidence": [0.7, 0.8]}
    )
    umap = pl.DataFrame({"object_id": ["u1", "u2"], "x": [0.5, 1.5], "y": [2.0, 3.0]})
    new = ModelProducts(predictions=predictions, umap=umap)
    bigger = catalog.add(upload, source="mine.csv", products={"m1": new, "m2": new})
    assert len(bigger) == 5 and len(catalog) == 3  # the original is unchanged
    assert bigger.products["m1"].umap["object_id"].to_list()[-2:] == ["u1", "u2"]
    assert bigger.products["m1"].anomaly.height == 3  # kept: the upload brought no scores
    assert bigger.products["m2"].umap.height == 2 and bigger.products["m2"].anomaly is None
    summary = bigger.summary("m1")
    assert summary.filter(pl.col("source") == "mine.csv")["object_id"].to_list() == ["u1", "u2"]
    assert summary["pred_class"].to_list()[-2:] == ["RRL", "SNIa"]
    assert_frame_equal(
        bigger.get("u1").select(LIGHT_CURVE_SCHEMA.names()),
        upload.filter(pl.col("object_id") == "u1").select(LIGHT_CURVE_SCHEMA.names()),
    )
    assert bigger.get("a")["label"].item() == "SNIa" and bigger.get("u1")["label"].item() is None


def test_add_rejects_existing_ids(catalog_dir):
    catalog = Catalog.load(catalog_dir)
    with pytest.raises(InvalidValueError, match=r"mine.csv: object id\(s\) \['b'\] are already"):
        catalog.add(make_table(["b", "new"]), source="mine.csv")


def test_scorers_and_ranking(catalog_dir):
    catalog = Catalog.load(catalog_dir)
    assert catalog.scorers() == [CATALOGUE_ORDER, "m1: gmm", "m1: low confidence"]
    assert catalog.ranking("m1: gmm")["object_id"].to_list() == ["b", "c", "a"]
    ranked = catalog.ranking("m1: low confidence")
    assert ranked["object_id"].to_list() == ["c", "b", "a"]
    np.testing.assert_allclose(ranked["score"], [0.7, 0.4, 0.1])
    order = catalog.ranking(CATALOGUE_ORDER)
    assert order["object_id"].to_list() == ["a", "b", "c"] and order["score"].is_null().all()
    uploaded = catalog.add(make_table(["u"]), source="f.csv")
    assert uploaded.ranking("m1: gmm")["object_id"].to_list()[-1] == "u"  # unscored last
    with pytest.raises(InvalidValueError, match="unknown scorer"):
        catalog.ranking("m2: gmm")
