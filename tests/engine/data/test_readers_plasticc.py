import polars as pl
import pytest

from engine.data.readers import read_any
from engine.data.readers.plasticc import is_plasticc, is_plasticc_metadata, read_plasticc


@pytest.fixture
def plasticc(fixtures) -> tuple[pl.DataFrame, pl.DataFrame]:
    table, _ = read_plasticc(
        fixtures / "plasticc_lightcurves.csv", fixtures / "plasticc_metadata.csv"
    )
    raw = pl.read_csv(
        fixtures / "plasticc_lightcurves.csv", schema_overrides={"object_id": pl.String}
    )
    return table, raw


def test_points_match_the_csv(plasticc):
    table, raw = plasticc
    assert table["object_id"].to_list() == ["615", "713", "730"]
    assert table["time"].list.len().to_list() == [20, 20, 20]
    first = raw.filter(pl.col("object_id") == "713").sort("mjd")
    row = table.row(1, named=True)
    assert row["time"] == first["mjd"].to_list()
    assert row["flux"] == pytest.approx(first["flux"].to_list(), rel=1e-6)
    assert row["flux_err"] == pytest.approx(first["flux_err"].to_list(), rel=1e-6)
    assert row["detected"] == (first["detected_bool"] == 1).to_list()
    bands = ["lsst_u", "lsst_g", "lsst_r", "lsst_i", "lsst_z", "lsst_y"]
    assert row["band"] == [bands[p] for p in first["passband"]]
    assert set(row["wavelength"]) <= {3671.0, 4827.0, 6223.0, 7546.0, 8691.0, 9710.0}


def test_metadata_and_labels(plasticc):
    table, _ = plasticc
    assert table["label"].to_list() == ["RRL", "AGN", "SNII"]
    assert table["hostgal_photoz"].to_list() == [0.0, 1.627, 0.226]
    assert table["distmod"].to_list() == [None, 45.406, 40.256]  # -9 = no distance
    assert table["ddf"].to_list() == [1, 1, 1]
    assert not [c for c in table.columns if c.startswith(("true_", "tflux_", "libid"))]


def test_read_any_recognises_plasticc(fixtures, plasticc):
    table, report = read_any(
        fixtures / "plasticc_lightcurves.csv", metadata_path=fixtures / "plasticc_metadata.csv"
    )
    assert report.format == "plasticc"
    assert table.equals(plasticc[0])


def test_format_checks():
    assert is_plasticc(["object_id", "mjd", "passband", "flux", "flux_err", "detected_bool"])
    assert not is_plasticc(["object_id", "mjd", "band", "flux", "flux_err"])
    assert is_plasticc_metadata(["object_id", " ddf_bool", "hostgal_photoz", "target"])
    assert not is_plasticc_metadata(["object_id", "label"])
