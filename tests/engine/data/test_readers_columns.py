import math

import polars as pl
import pytest

from engine.data.clean import CleaningPolicy
from engine.data.readers.columns import (
    constant_columns,
    detect_columns,
    detect_id_and_label,
    points_from_frame,
)
from engine.data.readers.long import long_from_frame
from engine.data.report import IngestReport, IngestWarning
from engine.errors import InputError, InvalidValueError, MissingColumnError


def frame(**columns) -> pl.DataFrame:
    return pl.DataFrame(columns).with_row_index("_row", offset=1)


def test_detection_ignores_case_and_separators():
    found = detect_columns(
        ["SNID", "MJD", "FLT", "FLUXCAL", "FLUX-CAL-ERR", "PhotFlag"], source="f"
    )
    assert found.columns == {
        "object_id": "SNID",
        "time": "MJD",
        "band": "FLT",
        "flux": "FLUXCAL",
        "flux_err": "FLUX-CAL-ERR",
        "detected": "PhotFlag",
    }
    assert found.photometry == "flux" and found.time_format == "auto"


def test_earlier_names_are_preferred_and_flux_wins_over_mag():
    names = ["id", "object_id", "mjd", "band", "mag", "magerr", "flux", "flux_err", "class"]
    found = detect_columns(names, source="f")
    assert found.columns["object_id"] == "object_id"
    assert found.photometry == "flux" and found.columns["label"] == "class"


def test_magnitudes_and_julian_dates_detected():
    found = detect_columns(["objectId", "jd", "fid", "magpsf", "sigmapsf"], source="f")
    assert found.photometry == "mag" and found.time_format == "jd"
    assert found.columns["mag_err"] == "sigmapsf"


def test_explicit_mapping_overrides_detection():
    names = ["ID", "T", "FLT", "M", "E", "mjd"]
    found = detect_columns(
        names, {"object_id": "id", "time": "T", "mag": "M", "mag_err": "E"}, source="f"
    )
    assert found.columns == {
        "object_id": "ID",
        "time": "T",
        "band": "FLT",
        "mag": "M",
        "mag_err": "E",
    }
    assert found.time_format == "auto"  # an explicit time column is never forced to JD


def test_missing_role_names_role_tried_names_file_columns_and_option():
    with pytest.raises(MissingColumnError) as info:
        detect_columns(["object_id", "when", "band", "flux", "flux_err"], source="f.csv")
    message = str(info.value)
    assert message.startswith("f.csv: no time column: tried 'time', 'mjd'")
    assert "'jd'" in message
    assert "the file has columns 'object_id', 'when', 'band', 'flux', 'flux_err'" in message
    assert "--columns time=COLUMN" in message


def test_missing_photometry_names_both_pairs():
    with pytest.raises(MissingColumnError) as info:
        detect_columns(["object_id", "mjd", "band", "flux", "mag"], source="f")
    message = str(info.value)
    assert "no flux and flux_err (or mag and mag_err) columns" in message
    assert "'fluxcal_err'" in message and "'sigmapsf'" in message
    assert "--columns flux=F,flux_err=E (or mag=M,mag_err=E)" in message


def test_explicit_half_pair_needs_the_other_half():
    with pytest.raises(MissingColumnError, match="no mag_err column"):
        detect_columns(["object_id", "mjd", "band", "M"], {"mag": "M"}, source="f")


def test_explicit_column_not_in_file():
    with pytest.raises(
        MissingColumnError, match=r"--columns time=MJD2: no column 'MJD2'; the file has columns"
    ):
        detect_columns(
            ["object_id", "mjd", "band", "flux", "flux_err"], {"time": "MJD2"}, source="f"
        )


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"times": "x"}, r"unknown role\(s\) 'times'; the roles are 'object_id'"),
        ({"flux": "a", "mag": "b"}, "either flux and flux_err or mag and mag_err"),
    ],
)
def test_explicit_mapping_is_validated(mapping, message):
    with pytest.raises(InputError, match=message):
        detect_columns(["a", "b", "x"], mapping, source="f")


def test_two_columns_with_one_name_are_ambiguous():
    with pytest.raises(
        InputError, match=r"columns 'flux_err', 'FLUX-ERR' could all be the flux_err"
    ):
        detect_columns(["id", "mjd", "band", "flux", "flux_err", "FLUX-ERR"], source="f")


def test_magnitudes_convert_to_fluxcal():
    data = frame(id=["a", "a", "a"], mjd=[1.0, 2.0, 3.0], band=["g"] * 3,
                 mag=[27.5, 20.0, 25.0], magerr=[0.1, 0.1, 0.0])  # fmt: skip
    report = IngestReport(source="f")
    points = points_from_frame(data, detect_columns(data.columns, source="f"), report=report)
    flux, err = points["flux"].to_list(), points["flux_err"].to_list()
    assert flux[0] == pytest.approx(1.0)
    assert err[0] == pytest.approx(0.1 * 0.4 * math.log(10))
    assert flux[1] == pytest.approx(10 ** (0.4 * 7.5)) and flux[1] == pytest.approx(1000.0)
    assert err[1] == pytest.approx(92.1034037, rel=1e-7)
    assert flux[2] == pytest.approx(10.0) and err[2] == 0.0
    assert report.columns["mag"] == "mag" and "converted AB magnitudes" in report.notes[0]


@pytest.mark.parametrize("value", [99.0, -99.0, 41.0, 1e5])
def test_implausible_magnitudes_are_dropped_or_with_strict_an_error(value):
    data = frame(id=["a"] * 4, mjd=[1.0, 2.0, 3.0, 4.0], band=["g"] * 4,
                 mag=[20.0, value, 21.0, 22.0], e_mag=[0.1] * 4)  # fmt: skip
    with pytest.warns(IngestWarning, match="'no data' or impossible magnitudes in 'mag'"):
        table, report = long_from_frame(data, source="f")
    assert report.affected("sentinel_magnitudes") == 1
    assert table["time"][0].to_list() == [1.0, 3.0, 4.0]
    with pytest.raises(InvalidValueError) as info:
        long_from_frame(data, source="f", policy=CleaningPolicy(strict=True))
    message = str(info.value)
    assert (
        f"column 'mag' does not look like AB magnitudes: {value!r} at row 2 is outside [-5, 40]"
        in message
    )
    assert "--columns flux=mag,flux_err=e_mag" in message


def test_non_numeric_magnitude_names_source_column():
    data = frame(
        id=["a", "a"], mjd=["1", "2"], band=["g", "g"], mag=["20", "bright"], e_mag=["0.1", "0.1"]
    )
    with pytest.raises(
        InvalidValueError, match=r"column 'mag' has non-numeric values at row 2 \(e\.g\. 'bright'\)"
    ):
        points_from_frame(data, detect_columns(data.columns, source="f"), report=IngestReport("f"))


def test_flux_column_holding_magnitudes_warns():
    data = frame(id=["a"] * 4, mjd=[1.0, 2, 3, 4], band=["g"] * 4,
                 flux=[18.2, 18.5, 19.0, 18.7], flux_err=[0.02, 0.03, 0.05, 0.04])  # fmt: skip
    with pytest.warns(
        IngestWarning,
        match=r"column 'flux' looks like magnitudes.*--columns mag=flux,mag_err=flux_err",
    ):
        points_from_frame(data, detect_columns(data.columns, source="f"), report=IngestReport("f"))


@pytest.mark.parametrize(
    "flux",
    [
        [-544.8, -816.4, 20.3, 160.9],  # PLAsTiCC fluxes scatter around 0
        [18.2, 18.5, 19.0, 18.7],  # faint but with realistic errors (below)
    ],
)
def test_real_fluxes_do_not_warn(flux, recwarn):
    err = [3.6, 5.5, 4.1, 2.9]
    data = frame(id=["a"] * 4, mjd=[1.0, 2, 3, 4], band=["g"] * 4, flux=flux, flux_err=err)
    points_from_frame(data, detect_columns(data.columns, source="f"), report=IngestReport("f"))
    assert not [w for w in recwarn if issubclass(w.category, IngestWarning)]


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        (
            "detected",
            ["1", "0", "true", "False", "T", "no", ""],
            [True, False, True, False, True, False, None],
        ),
        ("detected_bool", [1, 0, 1, 0, 1, 0, 1], [True, False] * 3 + [True]),
        (
            "PHOTFLAG",
            [4096, 0, 6144, 2048, 4097, 0, 4096],
            [True, False, True, False, True, False, True],
        ),
    ],
)
def test_detection_flags_parsed(name, values, expected):
    n = len(values)
    data = frame(id=["a"] * n, mjd=[float(i) for i in range(n)], band=["g"] * n,
                 flux=[1.0] * n, flux_err=[1.0] * n, **{name: values})  # fmt: skip
    points = points_from_frame(
        data, detect_columns(data.columns, source="f"), report=IngestReport("f")
    )
    assert points["detected"].to_list() == expected


def test_bad_detection_flag_names_column_and_row():
    data = frame(
        id=["a", "a"],
        mjd=[1.0, 2.0],
        band=["g", "g"],
        flux=[1.0, 1.0],
        flux_err=[1.0, 1.0],
        detected=["1", "maybe"],
    )
    with pytest.raises(
        InvalidValueError,
        match=r"column 'detected' has values that are not true/false at row 2 \(e\.g\. 'maybe'\)",
    ):
        points_from_frame(data, detect_columns(data.columns, source="f"), report=IngestReport("f"))


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("passband", ["0", "5", "2.0"], ["lsst_u", "lsst_y", "lsst_r"]),
        ("fid", [1, 2, 3], ["ztf_g", "ztf_r", "ztf_i"]),
        ("filter", ["1", "g", "R"], ["1", "g", "R"]),  # codes only in code columns
    ],
)
def test_band_codes(name, values, expected):
    data = frame(
        id=["a"] * 3, mjd=[1.0, 2, 3], flux=[1.0] * 3, flux_err=[1.0] * 3, **{name: values}
    )
    points = points_from_frame(
        data, detect_columns(data.columns, source="f"), report=IngestReport("f")
    )
    assert points["band"].to_list() == expected


def test_constant_columns_become_metadata():
    data = frame(
        id=["a", "a", "b"],
        mjd=[1.0, 2, 3],
        band=["g"] * 3,
        flux=[1.0] * 3,
        flux_err=[1.0] * 3,
        z=["0.1", "0.1", "0.5"],
        survey=["x", "x", "y"],
        airmass=[1.0, 1.2, 1.1],
        true_z=[0.11, 0.11, 0.52],
        wavelength=[1.0, 1.0, 2.0],
    )
    report = IngestReport("f")
    meta = constant_columns(data, detect_columns(data.columns, source="f"), report)
    assert meta.to_dict(as_series=False) == {
        "object_id": ["a", "b"],
        "z": [0.1, 0.5],
        "survey": ["x", "y"],
    }
    assert any("'airmass' vary within objects" in n for n in report.notes)
    assert any("'true_z', 'wavelength' are reserved or simulation truth" in n for n in report.notes)


def test_id_and_label_of_a_metadata_table():
    assert detect_id_and_label(["SNID", "TYPE", "z"], source="m") == {
        "object_id": "SNID",
        "label": "TYPE",
    }
    assert detect_id_and_label(["oid", "z"], source="m") == {"object_id": "oid"}
    with pytest.raises(MissingColumnError, match="m: no object_id column"):
        detect_id_and_label(["z"], source="m")
