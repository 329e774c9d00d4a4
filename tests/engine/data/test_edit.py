"""What-if edits of a light curve: hide, cut, add validated points; the stored row never changes."""

from __future__ import annotations

import math

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.data.edit import CurveEdit, hypothetical_point
from engine.data.schema import LIGHT_CURVE_SCHEMA
from engine.errors import EmptyLightCurveError, InputError, InvalidValueError, UnknownBandError


@pytest.fixture
def row() -> pl.DataFrame:
    """One object of four points in two bands (one a user-mapped band ``w``), with metadata."""
    return pl.DataFrame(
        {
            "object_id": ["obj"],
            "time": [[10.0, 11.0, 12.0, 13.0]],
            "band": [["lsst_g", "w", "lsst_g", "w"]],
            "wavelength": [[4827.0, 20000.0, 4827.0, 20000.0]],
            "flux": [[1.0, 2.0, 3.0, 4.0]],
            "flux_err": [[0.1, 0.2, 0.3, 0.4]],
            "detected": [[True, False, True, True]],
            "hostgal_photoz": [0.3],
        },
        schema={**LIGHT_CURVE_SCHEMA, "hostgal_photoz": pl.Float64},
    )


def test_an_empty_edit_returns_the_row_itself(row):
    assert CurveEdit().is_empty
    assert CurveEdit().apply(row) is row


def test_hide_and_cut_leave_out_points_and_keep_schema_and_metadata(row):
    original = row.clone()
    edited = CurveEdit().hide([0]).cut_at(12.5).apply(row)
    assert edited.schema == row.schema
    assert edited["time"].to_list() == [[11.0, 12.0]]
    assert edited["band"].to_list() == [["w", "lsst_g"]]
    assert edited["detected"].to_list() == [[False, True]]
    assert edited["hostgal_photoz"].to_list() == [0.3]
    assert_frame_equal(row, original)  # stored data untouched


def test_added_points_are_sorted_in_and_survive_the_cut(row):
    point = hypothetical_point(14.0, "g", flux=5.0, flux_err=0.5)
    early = hypothetical_point(10.5, "w", flux=9.0, flux_err=1.0, bands={"w": 20000.0})
    edited = CurveEdit().cut_at(11.0).add(point).add(early).apply(row)
    assert edited["time"].to_list() == [[10.0, 10.5, 11.0, 14.0]]
    assert edited["band"].to_list() == [["lsst_g", "w", "w", "lsst_g"]]
    assert edited["wavelength"].to_list() == [[4827.0, 20000.0, 20000.0, 4827.0]]
    assert edited["detected"].to_list() == [[True, True, False, True]]


def test_a_magnitude_is_converted_to_fluxcal():
    point = hypothetical_point(1.0, "ztf_r", mag=20.0, mag_err=0.1)
    assert point.band == "ztf_r"
    assert point.flux == pytest.approx(1000.0)
    assert point.flux_err == pytest.approx(1000.0 * 0.4 * math.log(10) * 0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"flux": math.nan, "flux_err": 1.0}, InvalidValueError, "flux must be a finite"),
        ({"flux": 1.0, "flux_err": -1.0}, InvalidValueError, "flux error must be positive"),
        ({"flux": 1.0, "flux_err": 0.0}, InvalidValueError, "flux error must be positive"),
        ({"flux": "lots", "flux_err": 1.0}, InvalidValueError, "got 'lots'"),
        ({"mag": 99.0, "mag_err": 0.1}, InvalidValueError, "magnitude must lie in"),
        ({"mag": 20.0, "mag_err": math.inf}, InvalidValueError, "magnitude error must be"),
        ({}, InputError, "either a flux"),
        ({"flux": 1.0, "flux_err": 1.0, "mag": 20.0, "mag_err": 0.1}, InputError, "either"),
    ],
)
def test_bad_points_are_refused_with_a_message(kwargs, error, words):
    with pytest.raises(error, match=words):
        hypothetical_point(1.0, "g", **kwargs)


def test_unknown_band_and_bad_time_are_refused():
    with pytest.raises(UnknownBandError, match="unknown band 'q'"):
        hypothetical_point(1.0, "q", flux=1.0, flux_err=1.0)
    with pytest.raises(InvalidValueError, match="time"):
        hypothetical_point(math.nan, "g", flux=1.0, flux_err=1.0)
    with pytest.raises(InvalidValueError, match="cut time"):
        CurveEdit().cut_at(math.inf)


def test_an_edit_that_leaves_no_point_says_so(row):
    with pytest.raises(EmptyLightCurveError, match="leaves no points"):
        CurveEdit().cut_at(5.0).apply(row)
    with pytest.raises(EmptyLightCurveError, match="4 point"):
        CurveEdit().hide(range(4)).apply(row)


def test_hiding_a_point_the_curve_lacks_is_an_error(row):
    with pytest.raises(InvalidValueError, match=r"cannot hide point\(s\) \[7\]"):
        CurveEdit().hide([7]).apply(row)
    with pytest.raises(InputError, match="one object"):
        CurveEdit().hide([0]).apply(pl.concat([row, row]))


def test_describe_says_what_is_edited():
    edit = CurveEdit().hide([1, 2]).cut_at(60000.123)
    edit = edit.add(hypothetical_point(1.0, "g", flux=1.0, flux_err=1.0))
    assert edit.describe() == (
        "2 point(s) hidden; observed points after MJD 60000.12 left out; "
        "1 hypothetical point(s) added"
    )
    assert CurveEdit().describe() == ""
