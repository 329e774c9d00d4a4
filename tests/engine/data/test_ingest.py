import pytest

from engine.data.ingest import parse_columns
from engine.errors import InputError


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
