import math

import polars as pl
import pytest

from engine.data.clean import CleaningPolicy
from engine.data.readers import read_any
from engine.data.readers.ztf import is_ztf
from engine.data.report import IngestWarning
from engine.errors import EmptyLightCurveError, InvalidValueError, UnknownBandError

HEADER = "objectId,jd,fid,magpsf,sigmapsf,isdiffpos\n"
#: the alert fixtures have objects of 2 points: reading is tested with every object kept
KEEP_SHORT = CleaningPolicy(min_points=1)


def test_alerts_read_with_upper_limits_dropped(fixtures):
    with pytest.warns(
        IngestWarning, match=r"dropped 3 upper limit\(s\).*1 object\(s\) had only upper limits"
    ):
        table, report = read_any(fixtures / "ztf_alerts.csv", policy=KEEP_SHORT)
    assert report.format == "ztf" and report.affected("upper_limits") == 3
    assert table["object_id"].to_list() == ["ZTF21aaaaaaa", "ZTF21bbbbbbb"]
    a = table.row(0, named=True)
    assert a["time"] == pytest.approx([59300.2501, 59302.2103, 59305.1904, 59307.2005], abs=1e-6)
    assert a["band"] == ["ztf_g", "ztf_r", "ztf_g", "ztf_i"]
    assert a["wavelength"] == [4746.0, 6366.0, 4746.0, 7870.0]
    flux = 10 ** (-0.4 * (18.52 - 27.5))
    assert a["flux"][0] == pytest.approx(flux, rel=1e-6)
    assert a["flux_err"][0] == pytest.approx(flux * 0.4 * math.log(10) * 0.06, rel=1e-6)
    assert all(a["detected"])


def test_negative_differences_get_negative_flux(fixtures):
    with pytest.warns(IngestWarning):
        table, _ = read_any(fixtures / "ztf_alerts.csv", policy=KEEP_SHORT)
    b = table.row(1, named=True)
    assert b["flux"][0] == pytest.approx(-(10 ** (-0.4 * (19.80 - 27.5))), rel=1e-6)  # isdiffpos f
    assert b["flux"][1] > 0


def test_broker_export_with_mjd_and_numeric_isdiffpos(tmp_path):
    pl.DataFrame(
        {
            "oid": ["x", "x"],
            "mjd": [59000.5, 59001.5],
            "fid": [1, 2],
            "magpsf": [19.0, 19.5],
            "sigmapsf": [0.1, 0.1],
            "isdiffpos": [1, -1],
        }  # fmt: skip
    ).write_parquet(tmp_path / "alerce.parquet")
    table, report = read_any(tmp_path / "alerce.parquet", policy=KEEP_SHORT)
    assert report.format == "ztf" and table["time"][0].to_list() == [59000.5, 59001.5]
    assert [f > 0 for f in table["flux"][0]] == [True, False]


def test_only_upper_limits_is_an_error(write):
    path = write("limits.csv", HEADER + "Z,2459000.5,1,,,\nZ,2459001.5,2,,,\n")
    with pytest.raises(EmptyLightCurveError, match=r"all 2 rows are upper limits \(no 'magpsf'\)"):
        read_any(path)


def test_bad_isdiffpos_names_row(write):
    path = write("bad.csv", HEADER + "Z,2459000.5,1,19,0.1,t\nZ,2459001.5,2,19,0.1,maybe\n")
    with pytest.raises(InvalidValueError, match=r"column 'isdiffpos' has 'maybe' at row 2"):
        read_any(path)


def test_unknown_filter_id(write):
    path = write("fid.csv", HEADER + "Z,2459000.5,4,19,0.1,t\n")
    with pytest.raises(UnknownBandError, match="row 1: unknown band .4."):
        read_any(path)


def test_format_check():
    assert is_ztf(["objectId", "jd", "fid", "magpsf", "sigmapsf"])
    assert not is_ztf(["objectId", "jd", "band", "mag", "magerr"])
