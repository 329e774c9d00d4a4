import math

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.data.clean import CleaningPolicy
from engine.data.readers import read_any
from engine.data.schema import LIGHT_CURVE_SCHEMA, write_table


def flux_of(mag: float, err: float) -> tuple[float, float]:
    flux = 10 ** (-0.4 * (mag - 27.5))
    return flux, flux * 0.4 * math.log(10) * err


def test_magnitudes_in_g_and_R(fixtures):
    table, report = read_any(fixtures / "mags_gR.csv")
    assert report.format == "long"
    assert report.columns == {
        "object_id": "name",
        "time": "mjd",
        "band": "filter",
        "mag": "mag",
        "mag_err": "magerr",
    }
    assert table["object_id"].to_list() == ["SN2023abc", "AT2023xyz"]
    at = table.row(1, named=True)
    assert at["time"] == [60011.27, 60011.30, 60014.29, 60014.31]  # sorted
    assert at["band"] == ["lsst_g", "ztf_r", "lsst_g", "ztf_r"]
    assert at["wavelength"] == [4827.0, 6366.0, 4827.0, 6366.0]
    flux, err = flux_of(20.0, 0.10)  # the R point at 60011.30
    assert at["flux"][1] == pytest.approx(flux, rel=1e-6) and at["flux"][1] == pytest.approx(1000.0)
    assert at["flux_err"][1] == pytest.approx(err, rel=1e-6) and at["flux_err"][1] == pytest.approx(
        92.1034, rel=1e-5
    )
    assert table["redshift"].to_list() == [0.031, 0.12]  # constant per object: metadata


def test_magnitudes_in_ugriz_with_labels(fixtures):
    table, _ = read_any(fixtures / "mags_ugriz.csv")
    star1, star2 = table.rows(named=True)
    assert star1["band"] == ["lsst_u", "lsst_g", "lsst_r", "lsst_i", "lsst_z", "lsst_g"]
    assert star1["wavelength"] == [3671.0, 4827.0, 6223.0, 7546.0, 8691.0, 4827.0]
    assert star1["flux"][0] == pytest.approx(1.0)  # mag 27.5
    assert star1["flux"][1] == pytest.approx(1000.0)  # mag 20
    assert star1["flux_err"][1] == pytest.approx(92.1034, rel=1e-5)
    assert star2["time"] == sorted(star2["time"])
    assert star2["band"] == ["lsst_u", "lsst_g", "lsst_r", "lsst_i", "lsst_z"]
    assert table["label"].to_list() == ["RRL", "EB"]


def test_explicit_columns_override_detection(write):
    path = write(
        "odd.csv", "ID,T,FLT,M,E\nx,58000.5,g,20,0.1\nx,58001.5,r,21,0.1\nx,58002,i,21,0.1\n"
    )
    table, report = read_any(
        path, columns={"object_id": "ID", "time": "T", "band": "FLT", "mag": "M", "mag_err": "E"}
    )
    assert table["flux"][0][0] == pytest.approx(1000.0)
    assert report.columns["time"] == "T"


def test_tsv_comments_and_null_markers(write):
    path = write(
        "lc.tsv",
        "# exported by a pipeline\nid\tmjd\tband\tflux\tflux_err\n"
        "a\t1.0\tg\t10\t1\na\t2.0\tr\tNA\t1\na\t3.0\ti\t12\t1\na\t4.0\tz\t13\t1\n",
    )
    with pytest.warns(UserWarning, match=r"dropped 1 point\(s\) .* \(row 2\)"):
        table, _ = read_any(path)
    assert table["band"][0].to_list() == ["lsst_g", "lsst_i", "lsst_z"]


def test_csv_and_parquet_of_the_same_points_agree(write, tmp_path):
    text = "oid,mjd,band,fluxcal,fluxcalerr\nb,5.0,z,1.5,0.5\na,4.0,y,-2.0,0.25\nb,3.0,u,7.0,1.0\n"
    keep_short = CleaningPolicy(min_points=1)  # objects of 1 and 2 points
    from_csv, _ = read_any(write("p.csv", text), policy=keep_short)
    pl.read_csv(write("q.csv", text)).write_parquet(tmp_path / "p.parquet")
    from_parquet, _ = read_any(tmp_path / "p.parquet", policy=keep_short)
    assert_frame_equal(from_csv, from_parquet)


def test_a_catscope_table_reads_back_unchanged(fixtures, tmp_path):
    table, _ = read_any(fixtures / "mags_ugriz.csv")
    write_table(table, tmp_path / "canonical.parquet")
    again, report = read_any(tmp_path / "canonical.parquet")
    assert report.columns["band"] == "band"
    assert_frame_equal(again, table)
    assert again.columns == [*LIGHT_CURVE_SCHEMA.names(), "label"]
