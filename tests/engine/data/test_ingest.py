import pytest

from engine.data.ingest import ingest_files, parse_columns
from engine.data.schema import LIGHT_CURVE_SCHEMA
from engine.errors import InputError, InvalidValueError, UnknownBandError


def test_parse_columns():
    text = "object_id=ID, time=MJD,band=FLT,mag=M,mag_err=E,"
    assert parse_columns(text) == {
        "object_id": "ID",
        "time": "MJD",
        "band": "FLT",
        "mag": "M",
        "mag_err": "E",
    }
    assert parse_columns("TIME=Mjd Obs") == {"time": "Mjd Obs"}
    assert parse_columns(None) == {} and parse_columns("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time", "'time' is not of the form ROLE=COLUMN"),
        ("=MJD", "not of the form ROLE=COLUMN"),
        ("time=", "not of the form ROLE=COLUMN"),
        ("time=a,time=b", "gives 'time' twice"),
        ("when=MJD", r"unknown role\(s\) 'when'"),
        ("flux=F,mag=M", "either flux and flux_err or mag and mag_err"),
    ],
)
def test_parse_columns_rejects(text, message):
    with pytest.raises(InputError, match=message):
        parse_columns(text)


def test_files_of_every_format_concatenate(fixtures):
    paths = [
        fixtures / "plasticc_lightcurves.csv",
        fixtures / "mags_gR.csv",
        fixtures / "elasticc_HEAD.FITS.gz",
        fixtures / "elasticc_PHOT.FITS.gz",  # the pair is read once
        fixtures / "ztf_alerts.csv",
    ]
    with pytest.warns(UserWarning, match="upper limit"):
        table, reports = ingest_files(paths, progress=False)
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
        ingest_files([fixtures / "mags_gR.csv", tmp_path / "copy.csv"], progress=False)


def test_band_map_and_columns_apply_to_every_file(write):
    path = write("nir.csv", "ID,T,FLT,M,E\nx,58000.5,Ks,15,0.1\nx,58001.5,J,15.5,0.1\n")
    columns = parse_columns("object_id=ID,time=T,band=FLT,mag=M,mag_err=E")
    with pytest.raises(UnknownBandError, match="unknown band 'Ks'"):
        ingest_files([path], columns=columns, progress=False)
    table, _ = ingest_files(
        [path], columns=columns, band_map={"Ks": 21460.0, "J": 12350.0}, progress=False
    )
    assert table["wavelength"][0].to_list() == [21460.0, 12350.0]


def test_metadata_applies_to_every_file(fixtures, write):
    meta = write("labels.csv", "object_id,label\nSN2023abc,SNIa\nAT2023xyz,TDE\nstar1,RRL\n")
    a = write("a.csv", (fixtures / "mags_gR.csv").read_text())
    b = write("b.csv", (fixtures / "mags_ugriz.csv").read_text().replace(",class", ",kind"))
    with pytest.warns(UserWarning, match="1 of 2 objects have no row in the metadata"):
        table, _ = ingest_files([a, b], metadata_path=meta, progress=False)
    assert table["label"].to_list() == ["SNIa", "TDE", "RRL", None]


def test_no_files():
    with pytest.raises(InputError, match="no input files"):
        ingest_files([])
