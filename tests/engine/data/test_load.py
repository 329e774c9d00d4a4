"""The one way in: :func:`engine.data.load.load` with the shared :class:`ReadOptions`."""

import polars as pl
import pytest

from engine.data.clean import CleaningPolicy
from engine.data.ingest import parse_columns
from engine.data.load import ReadOptions, load
from engine.data.schema import LIGHT_CURVE_SCHEMA, write_table
from engine.errors import InputError, InvalidValueError, UnknownBandError

#: the fixtures have objects of 1-2 points: concatenation is tested with every object kept
KEEP_SHORT = CleaningPolicy(min_points=1)


def test_files_of_every_format_concatenate(fixtures):
    paths = [
        fixtures / "plasticc_lightcurves.csv",
        fixtures / "mags_gR.csv",
        fixtures / "elasticc_HEAD.FITS.gz",
        fixtures / "elasticc_PHOT.FITS.gz",  # the pair is read once
        fixtures / "ztf_alerts.csv",
    ]
    with pytest.warns(UserWarning, match="upper limit"):
        loaded = load(paths, ReadOptions(cleaning=KEEP_SHORT))
    table, reports = loaded.table, loaded.reports
    assert [r.format for r in reports] == ["plasticc", "long", "snana", "ztf"]
    assert table.columns[:7] == LIGHT_CURVE_SCHEMA.names()
    assert table["object_id"].to_list() == [
        *("615", "713", "730"),
        *("SN2023abc", "AT2023xyz"),
        *("1001", "1002"),
        *("ZTF21aaaaaaa", "ZTF21bbbbbbb"),
    ]
    assert table.height == sum(r.n_objects for r in reports)
    assert table["redshift"].to_list()[3:5] == [0.031, 0.12]
    assert table["mwebv"].to_list()[5:7] == [0.021, 0.05]


def test_object_in_two_files_is_an_error(fixtures, tmp_path):
    (tmp_path / "copy.csv").write_text((fixtures / "mags_gR.csv").read_text())
    with pytest.raises(
        InvalidValueError,
        match=r"object 'SN2023abc' appears in .*mags_gR\.csv and .*copy\.csv \(1 more objects",
    ):
        load([fixtures / "mags_gR.csv", tmp_path / "copy.csv"])


def test_band_map_and_columns_apply_to_every_file(write):
    path = write("nir.csv", "ID,T,FLT,M,E\nx,58000.5,Ks,15,0.1\nx,58001.5,J,15.5,0.1\n")
    columns = parse_columns("object_id=ID,time=T,band=FLT,mag=M,mag_err=E")
    with pytest.raises(UnknownBandError, match="unknown band 'Ks'"):
        load([path], ReadOptions(columns=columns, cleaning=KEEP_SHORT))
    bands = {"Ks": 21460.0, "J": 12350.0}
    loaded = load([path], ReadOptions(columns=columns, band_map=bands, cleaning=KEEP_SHORT))
    assert loaded.table["wavelength"][0].to_list() == [21460.0, 12350.0]
    assert loaded.registry.wavelength("Ks") == 21460.0  # carried with the table


def test_metadata_applies_to_every_file(fixtures, write):
    meta = write("labels.csv", "object_id,label\nSN2023abc,SNIa\nAT2023xyz,TDE\nstar1,RRL\n")
    a = write("a.csv", (fixtures / "mags_gR.csv").read_text())
    b = write("b.csv", (fixtures / "mags_ugriz.csv").read_text().replace(",class", ",kind"))
    with pytest.warns(UserWarning, match="1 of 2 objects have no row in the metadata"):
        table = load([a, b], ReadOptions(metadata=meta)).table
    assert table["label"].to_list() == ["SNIa", "TDE", "RRL", None]


def test_no_files():
    with pytest.raises(InputError, match="no input files"):
        load([])


def test_a_catscope_table_is_read_as_it_is_and_carries_its_user_bands(write, tmp_path):
    path = write("w.csv", "id,mjd,band,flux,flux_err\na,1,w,5,1\na,2,w,6,1\na,3,g,7,1\n")
    first = load(path, ReadOptions(band_map={"w": 6000.0}))
    write_table(first.table, tmp_path / "t.parquet")
    again = load(tmp_path / "t.parquet")
    assert again.reports[0].format == "catscope" and again.table.equals(first.table)
    assert again.registry.wavelength("w") == 6000.0
    # the photometry kind it was written with is kept and said
    assert again.reports[0].summary() == "kept 3 of 3 points; photometry: 1 difference (as written)"


def _star_magnitudes(sample_table, path, *, level_mag: float = 15.0):
    """Sample RR Lyrae written as *total* magnitudes: a 15th-mag star plus their variation."""
    from tests.messy import magnitude_rows

    level = 10 ** (-0.4 * (level_mag - 27.5))
    rrl = sample_table.filter(pl.col("label") == "RRL").head(4)
    total = rrl.with_columns(pl.col("flux").list.eval(pl.element() + level))
    magnitude_rows(total).write_csv(path)
    return rrl


def test_total_magnitudes_are_told_apart_and_reported(sample_table, tmp_path):
    rrl = _star_magnitudes(sample_table, tmp_path / "stars.csv")
    loaded = load(tmp_path / "stars.csv")
    assert loaded.table["flux_kind"].to_list() == ["total"] * rrl.height
    report = loaded.reports[0]
    assert report.flux_kinds == {"total": rrl.height}
    assert f"photometry: {rrl.height} total (detected per object)" in report.summary()


def test_flux_kind_given_by_the_user_wins(sample_table, tmp_path):
    _star_magnitudes(sample_table, tmp_path / "stars.csv")
    loaded = load(tmp_path / "stars.csv", ReadOptions(flux_kind="difference"))
    assert set(loaded.table["flux_kind"]) == {"difference"}
    assert loaded.reports[0].flux_kind_rule == "given (--flux-kind difference)"
    with pytest.raises(InputError, match="--flux-kind must be one of"):
        ReadOptions(flux_kind="absolute")


def test_alert_formats_are_difference_photometry_and_tables_keep_their_kind(fixtures, tmp_path):
    loaded = load(fixtures / "plasticc_lightcurves.csv", ReadOptions(cleaning=KEEP_SHORT))
    assert set(loaded.table["flux_kind"]) == {"difference"}
    assert loaded.reports[0].flux_kind_rule == "plasticc format"
    written = loaded.table.with_columns(flux_kind=pl.lit("total"))
    write_table(written, tmp_path / "t.parquet")
    again = load(tmp_path / "t.parquet")
    assert set(again.table["flux_kind"]) == {"total"}
    assert again.reports[0].flux_kind_rule == "as written"
