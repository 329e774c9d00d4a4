"""Cleaning rules, one by one: what each drops, floors or merges, what it reports, and --strict."""

import json
import math

import polars as pl
import pytest

from engine.data.assemble import assemble
from engine.data.clean import CleaningPolicy
from engine.data.readers.long import long_from_frame
from engine.data.report import IngestWarning
from engine.errors import EmptyLightCurveError, InputError, InvalidValueError

pytestmark = pytest.mark.filterwarnings("ignore::engine.data.report.IngestWarning")
STRICT = CleaningPolicy(strict=True)


def mags(mag: list[float], err: list[float], **columns) -> pl.DataFrame:
    """One object 'a' in band g, one point a day, as a magnitude file would be loaded."""
    n = len(mag)
    frame = {"id": ["a"] * n, "mjd": [60000.0 + i for i in range(n)], "band": ["g"] * n}
    frame |= {"mag": mag, "magerr": err} | columns
    return pl.DataFrame(frame).with_row_index("_row", offset=1)


def fluxes(flux: list[float], err: list[float], **columns) -> pl.DataFrame:
    """One object 'a' in band g, one point a day, as a long frame of fluxes."""
    n = len(flux)
    frame = {"object_id": ["a"] * n, "time": [60000.0 + i for i in range(n)], "band": ["g"] * n}
    return pl.DataFrame(frame | {"flux": flux, "flux_err": err} | columns)


def test_sentinel_magnitudes_are_dropped_with_examples():
    frame = mags([20.0, 99.99, 21.0, -99.0, 22.0, 999.0], [0.1, 9.99, 0.1, 9.99, 0.1, 0.1])
    table, report = long_from_frame(frame, source="f")
    assert table["time"][0].to_list() == [60000.0, 60002.0, 60004.0]
    assert report.affected("sentinel_magnitudes") == 3
    (record,) = [r for r in report.rules if r.rule == "sentinel_magnitudes"]
    assert [(e.object_id, e.row, e.found) for e in record.examples] == [
        ("a", 2, "mag=99.99"),
        ("a", 4, "mag=-99.0"),
        ("a", 6, "mag=999.0"),
    ]
    assert report.summary() == "kept 3 of 6 points; 3 dropped: 3 sentinel mags"


def test_sentinel_magnitudes_with_strict_are_the_old_error():
    with pytest.raises(
        InvalidValueError,
        match=r"column 'mag' does not look like AB magnitudes: 99\.99 at row 2 is outside \[-5, "
        r"40\]\. Remove 'no data' markers such as 99 first",
    ):
        long_from_frame(mags([20.0, 99.99, 21.0], [0.1, 9.99, 0.1]), source="f", policy=STRICT)


def test_sentinel_fluxes_are_dropped_and_strict_refuses_them():
    points = fluxes([1.0, 1e30, 3.0, 4.0, -9.9e36], [0.1, 0.1, 1e31, 0.1, 0.1])
    table, report = assemble(points, source="t", policy=CleaningPolicy(min_points=2))
    assert table["flux"][0].to_list() == [1.0, 4.0] and report.affected("sentinel_fluxes") == 3
    with pytest.raises(
        InvalidValueError, match=r"t: column 'flux' gives fill values .* at rows 2, 3, 5\)"
    ):
        assemble(points, source="t", policy=STRICT)


def test_zero_and_negative_errors_are_dropped_by_default():
    points = fluxes([1.0, 2.0, 3.0, 4.0, 5.0], [0.1, 0.0, -1.0, 0.2, 0.3])
    table, report = assemble(points, source="t")
    assert table["flux"][0].to_list() == [1.0, 4.0, 5.0]
    assert report.affected("bad_errors") == 2 and report.affected("error_floor") == 0
    assert report.summary() == "kept 3 of 5 points; 2 dropped: 2 zero errors"


def test_min_flux_err_frac_floors_zero_errors_but_not_negative_ones():
    points = fluxes([10.0, -20.0, 30.0, 40.0], [0.0, 0.0, -1.0, 8.0])
    policy = CleaningPolicy(min_flux_err_frac=0.1)
    table, report = assemble(points, source="t", policy=policy)
    assert table["flux_err"][0].to_list() == pytest.approx([1.0, 2.0, 8.0])
    assert report.affected("error_floor") == 2 and report.affected("bad_errors") == 1
    assert "2 errors floored" in report.summary()


def test_min_mag_err_floors_magnitude_errors_in_magnitude_space():
    frame = mags([20.0, 20.0, 20.0], [0.0, 0.01, 0.2])
    table, report = long_from_frame(frame, source="f", policy=CleaningPolicy(min_mag_err=0.05))
    flux = 1000.0  # mag 20
    expected = [flux * 0.4 * math.log(10) * e for e in (0.05, 0.05, 0.2)]
    assert table["flux_err"][0].to_list() == pytest.approx(expected, rel=1e-6)
    assert report.affected("error_floor") == 2 and report.affected("bad_errors") == 0


def test_exact_duplicates_are_kept_once_and_counted():
    points = fluxes([1.0, 2.0, 3.0], [0.1, 0.1, 0.1])
    table, report = assemble(pl.concat([points, points.slice(1, 1)]), source="t")
    assert table["flux"][0].to_list() == [1.0, 2.0, 3.0]
    assert report.affected("exact_duplicates") == 1 and report.affected("same_time") == 0


def test_same_time_points_merge_to_the_inverse_variance_mean():
    points = pl.DataFrame(
        {
            "object_id": ["a"] * 5,
            "time": [60000.0, 60000.000005, 60001.0, 60002.0, 60002.001],
            "band": ["g", "g", "g", "r", "r"],
            "flux": [10.0, 20.0, 7.0, 1.0, 2.0],
            "flux_err": [1.0, 2.0, 0.5, 0.1, 0.1],
            "detected": [False, True, True, True, True],
        }
    )
    table, report = assemble(points, source="t")
    a = table.row(0, named=True)
    assert a["time"] == [60000.0, 60001.0, 60002.0, 60002.001]  # 0.001 d is beyond 1e-5 d
    assert a["flux"][0] == pytest.approx((10.0 / 1.0 + 20.0 / 4.0) / (1.0 + 0.25))
    assert a["flux_err"][0] == pytest.approx(1.0 / math.sqrt(1.25)) and a["flux_err"][0] < 1.0
    assert a["detected"][0] is True
    assert report.affected("same_time") == 1
    assert "1 same-time points merged" in report.summary()


def test_same_time_clash_with_strict_is_the_old_error():
    points = fluxes([1.0, 2.0, 3.0], [0.1, 0.1, 0.1]).with_columns(time=pl.lit(60000.0))
    with pytest.raises(
        InvalidValueError,
        match=r"object 'a' has 3 observations at the same time and band with different fluxes",
    ):
        assemble(points, source="t", policy=STRICT)


def test_objects_with_too_few_points_are_dropped_and_listed():
    points = pl.concat(
        [
            fluxes([1.0, 2.0, 3.0], [0.1] * 3),
            fluxes([1.0, 2.0], [0.1] * 2).with_columns(object_id=pl.lit("short")),
            fluxes([1.0, math.nan], [0.1] * 2).with_columns(object_id=pl.lit("emptied")),
        ]
    )
    points = points.with_columns(
        pl.when(pl.col("object_id") == "emptied")
        .then(pl.lit(math.nan))
        .otherwise("flux")
        .alias("flux")
    )
    with pytest.warns(IngestWarning, match=r"dropped 2 object\(s\) with fewer than 3 points"):
        table, report = assemble(points, source="t")
    assert table["object_id"].to_list() == ["a"]
    assert report.objects_dropped == ["short", "emptied"]
    assert report.affected("min_points") == 2 and report.affected("non_finite") == 2
    kept, _ = assemble(points.filter(pl.col("object_id") != "emptied"), source="t", policy=STRICT)
    assert kept["object_id"].to_list() == ["a", "short"]  # --strict drops no object
    with pytest.raises(EmptyLightCurveError, match="objects 'emptied' have no finite"):
        assemble(points, source="t", policy=STRICT)


def test_nothing_left_is_an_error_naming_the_summary():
    with pytest.raises(
        EmptyLightCurveError, match=r"no object has 3 usable points .*kept 0 of 2 points"
    ):
        assemble(fluxes([1.0, 2.0], [0.1, 0.1]), source="t")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_points": 0}, "--min-points must be at least 1, got 0"),
        ({"same_time_tol": -1.0}, "--same-time-tol must be >= 0 days, got -1.0"),
        ({"min_mag_err": 0.0}, "--min-mag-err must be a positive number, got 0.0"),
        ({"strict": True, "min_flux_err_frac": 0.1}, "--min-flux-err-frac floors zero errors"),
    ],
)
def test_policy_rejects_bad_options(options, message):
    with pytest.raises(InputError, match=message):
        CleaningPolicy(**options)


def test_report_renders_and_serialises():
    frame = mags([20.0, 99.99, 21.0, 21.5, 22.0, 22.5], [0.1, 9.99, 0.0, 0.1, 0.1, 0.1])
    _, report = long_from_frame(frame, source="f")
    text = report.render()
    assert (
        text.splitlines()[0] == "f: kept 4 of 6 points; 2 dropped: 1 sentinel mags, 1 zero errors"
    )
    assert "'a' row 2: mag=99.99" in text and "lsst_g" in text and "4827 Å" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["n_input_points"] == 6 and data["summary"] == report.summary()
    rules = {r["rule"]: r["points"] for r in data["rules"]}
    assert rules["sentinel_magnitudes"] == 1 and rules["bad_errors"] == 1
    assert data["bands"] == [
        {"name": "g", "canonical": "lsst_g", "wavelength": 4827.0, "points": 4}
    ]
