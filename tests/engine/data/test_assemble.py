import math

import numpy as np
import polars as pl
import pytest

from engine.data.assemble import assemble as assemble_cleaned
from engine.data.assemble import jd_to_mjd
from engine.data.bands import BandRegistry
from engine.data.clean import CleaningPolicy
from engine.data.report import IngestReport, IngestWarning
from engine.data.schema import LIGHT_CURVE_SCHEMA, MAX_OBJECT_ID_LENGTH, check_table
from engine.errors import EmptyLightCurveError, InvalidValueError, UnknownBandError
from engine.labels import LabelStore

#: the objects of :func:`long` have 2-3 points: assembly is tested here with every object kept
#: (the minimum-points rule has its own tests in test_clean.py)
KEEP_SHORT = CleaningPolicy(min_points=1)
STRICT = CleaningPolicy(strict=True)


def assemble(points: pl.DataFrame, **options):
    """:func:`assemble_cleaned`, keeping short objects unless ``policy`` says otherwise."""
    return assemble_cleaned(points, **({"policy": KEEP_SHORT} | options))


def long(**overrides) -> pl.DataFrame:
    """Two objects, 'b' listed first, points out of time order."""
    columns = {
        "object_id": ["b", "a", "a", "b", "a"],
        "time": [60003.0, 60002.0, 60000.0, 60001.0, 60001.0],
        "band": ["g", "r", "g", "i", "R"],
        "flux": [1.0, 2.0, 3.0, 4.0, 5.0],
        "flux_err": [0.1, 0.2, 0.3, 0.4, 0.5],
    }
    columns.update(overrides)
    return pl.DataFrame(columns)


def test_groups_sorts_and_resolves_bands():
    table, report = assemble(long(), source="t")
    assert table.schema == pl.Schema(LIGHT_CURVE_SCHEMA)
    assert table["object_id"].to_list() == ["b", "a"]  # order of first appearance
    a = table.row(1, named=True)
    assert a["time"] == [60000.0, 60001.0, 60002.0]
    assert a["band"] == ["lsst_g", "ztf_r", "lsst_r"]
    assert a["wavelength"] == [4827.0, 6366.0, 6223.0]
    assert a["flux"] == [3.0, 5.0, 2.0]
    assert a["flux_err"] == pytest.approx([0.3, 0.5, 0.2])
    assert a["detected"] == [True, True, True]
    assert (report.n_objects, report.n_points) == (2, 5)
    assert report.notes == []


def test_text_columns_are_cast():
    points = long(time=["60003", "60002", " 6e4", "60001", "60001"], flux=["1", "2", "3", "4", "5"])
    table, _ = assemble(points, source="t")
    assert table["time"][1].to_list() == [60000.0, 60001.0, 60002.0]


def test_non_numeric_value_names_column_and_row():
    points = long(flux=["1", "2", "abc", "4", "5"])
    with pytest.raises(
        InvalidValueError,
        match=r"t: column 'flux' has non-numeric values at row 3 \(e\.g\. 'abc'\)",
    ):
        assemble(points, source="t")


def test_nan_and_inf_dropped_with_count():
    points = long(flux=[1.0, math.nan, 3.0, math.inf, 5.0], flux_err=[0.1, 0.2, None, 0.4, 0.5])
    with pytest.warns(IngestWarning, match=r"dropped 3 point\(s\) .* \(rows 2, 3, 4\)"):
        table, report = assemble(points, source="t")
    assert report.affected("non_finite") == 3
    assert table["time"].list.len().to_list() == [1, 1]


def test_object_left_empty_by_nan_is_dropped_or_with_strict_an_error():
    points = long(flux=[math.nan, 2.0, 3.0, math.nan, 5.0])
    with pytest.warns(IngestWarning, match=r"dropped 1 object\(s\) with fewer than 1 points"):
        table, report = assemble(points, source="t")
    assert table["object_id"].to_list() == ["a"] and report.objects_dropped == ["b"]
    with (
        pytest.warns(IngestWarning),
        pytest.raises(EmptyLightCurveError, match="objects 'b' have no finite observation"),
    ):
        assemble(points, source="t", policy=STRICT)


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_errors_are_dropped_or_with_strict_an_error(bad):
    points = long(flux_err=[0.1, 0.2, bad, 0.4, 0.5])
    with pytest.warns(IngestWarning, match=r"dropped 1 point\(s\) with a zero, negative"):
        table, report = assemble(points, source="t")
    assert report.affected("bad_errors") == 1 and table["flux"][1].to_list() == [5.0, 2.0]
    with pytest.raises(
        InvalidValueError, match=rf"t: errors must be > 0 .*found {bad!r} at row 3 \(object 'a'\)"
    ):
        assemble(points, source="t", policy=STRICT)


def test_errors_too_small_for_float32_are_dropped_or_with_strict_an_error():
    points = long(flux_err=[0.1, 1e-50, 0.3, 0.4, 0.5])
    with pytest.warns(IngestWarning, match="zero, negative or unrepresentable"):
        assert assemble(points, source="t")[1].affected("bad_errors") == 1
    with pytest.raises(InvalidValueError, match="errors must be > 0"):
        assemble(points, source="t", policy=STRICT)


def test_unknown_band_names_rows_known_bands_and_band_map():
    points = long(band=["g", "r", "Ks", "i", "Ks"])
    with pytest.raises(UnknownBandError) as info:
        assemble(points, source="t")
    message = str(info.value)
    assert message.startswith("t: rows 3, 5: unknown band 'Ks'")
    assert "Known bands: " in message and "lsst_g" in message
    assert "--band-map 'Ks=WAVELENGTH_IN_ANGSTROM'" in message


def test_band_map_makes_unknown_band_known():
    registry = BandRegistry(extra={"Ks": 21460.0})
    table, _ = assemble(long(band=["g", "r", "Ks", "i", "r"]), source="t", registry=registry)
    assert table["wavelength"][1].to_list() == [21460.0, 6223.0, 6223.0]


def test_missing_band_name_is_an_error():
    with pytest.raises(InvalidValueError, match="t: missing band name at row 2"):
        assemble(long(band=["g", None, "r", "i", "r"]), source="t")


def test_empty_object_id_is_an_error():
    with pytest.raises(InvalidValueError, match="t: empty object id at row 4"):
        assemble(long(object_id=["b", "a", "a", " ", "a"]), source="t")


def test_exact_duplicates_dropped_conflicting_duplicates_merged_or_with_strict_an_error():
    dup = pl.concat([long(), long().head(1)])
    with pytest.warns(IngestWarning, match=r"dropped 1 exact duplicate"):
        table, report = assemble(dup, source="t")
    assert report.affected("exact_duplicates") == 1 and table["time"][0].len() == 2

    clash = pl.concat([long(), long(flux=[9.0] * 5).head(1)])
    with pytest.warns(IngestWarning, match=r"merged 2 point\(s\) at the same time and band"):
        table, report = assemble(clash, source="t")
    assert report.affected("same_time") == 1
    assert table["flux"][0].to_list() == [4.0, 5.0]  # (1 + 9) / 2 at equal errors, then b's 4
    with pytest.raises(
        InvalidValueError,
        match=r"object 'b' has 2 observations at the same time and band with different fluxes "
        r"\(rows 1, 6\)",
    ):
        assemble(clash, source="t", policy=STRICT)


def test_julian_dates_converted_automatically_with_warning():
    points = long(time=[2460003.5, 2460002.5, 2460000.5, 2460001.5, 2460001.5])
    with pytest.warns(IngestWarning, match="look like Julian Dates"):
        table, _ = assemble(points, source="t")
    assert table["time"][1].to_list() == [60000.0, 60001.0, 60002.0]


def test_time_format_jd_converts_and_rejects_non_jd():
    points = long(time=[2460003.5, 2460002.5, 2460000.5, 2460001.5, 2460001.5])
    table, report = assemble(points, source="t", time_format="jd")
    assert table["time"][0].to_list() == [60001.0, 60003.0]
    assert any("Julian Dates" in n for n in report.notes)
    with pytest.raises(
        InvalidValueError,
        match=r"read as Julian Dates but holds 60003.0 at rows 1, 2, 3, 4, 5; a JD is > 2,400,000",
    ):
        assemble(long(), source="t", time_format="jd")


def test_jd_to_mjd_uses_the_standard_offset():
    np.testing.assert_allclose(jd_to_mjd(np.array([2400000.5, 2459000.25])), [0.0, 59000.0 - 0.25])


def test_labels_and_label_conflicts():
    table, _ = assemble(long(label=["x", "y", "y", "x", "y"]), source="t")
    assert table["label"].to_list() == ["x", "y"]
    with pytest.raises(InvalidValueError, match="objects 'a' have more than one label"):
        assemble(long(label=["x", "y", "z", "x", "y"]), source="t")


def test_metadata_joined_and_checked():
    meta = pl.DataFrame({"object_id": ["a", "c"], "mwebv": [0.1, 0.2]})
    with pytest.warns(IngestWarning, match="1 of 2 objects have no row in the metadata"):
        table, _ = assemble(long(), source="t", metadata=meta)
    assert table["mwebv"].to_list() == [None, 0.1]

    twice = pl.DataFrame({"object_id": ["a", "a"], "mwebv": [0.1, 0.2]})
    with pytest.raises(InvalidValueError, match="more than one row for objects 'a'"):
        assemble(long(), source="t", metadata=twice)
    clash = pl.DataFrame({"object_id": ["a", "b"], "label": ["x", "y"]})
    with pytest.raises(InvalidValueError, match=r"metadata columns \['label'\] are also in"):
        assemble(long(label=["x"] * 5), source="t", metadata=clash)


def test_zero_rows_is_an_error():
    with pytest.raises(EmptyLightCurveError, match="t: no observations"):
        assemble(long().clear(), source="t")


def test_detected_flags_kept():
    table, _ = assemble(long(detected=[True, False, None, True, False]), source="t")
    assert table["detected"][1].to_list() == [True, False, False]  # null means detected


def test_reader_report_is_filled():
    report = IngestReport(source="t", format="long")
    report.note("read by a test")
    _, filled = assemble(long(), source="t", report=report)
    assert filled is report and report.notes == ["read by a test"] and report.n_points == 5


def test_huge_light_curve_is_kept_whole():
    n = 300_000
    rng = np.random.default_rng(0)
    points = pl.DataFrame(
        {
            "object_id": ["big"] * n,
            "time": rng.permutation(n).astype(float) + 50000.0,
            "band": rng.choice(list("ugrizy"), n),
            "flux": rng.normal(size=n),
            "flux_err": np.full(n, 0.5),
        }
    )
    table, report = assemble(points, source="t")
    time = table["time"][0].to_numpy()
    assert report.n_points == n and np.all(np.diff(time) > 0)


def test_object_ids_over_the_label_store_limit_are_an_error():
    longest = "x" * MAX_OBJECT_ID_LENGTH
    table, _ = assemble(long(object_id=[longest, "a", "a", longest, "a"]), source="t")
    assert table["object_id"].to_list() == [longest, "a"]  # at the limit: accepted
    too_long = longest + "y"
    match = rf"t: object id over {MAX_OBJECT_ID_LENGTH} characters at rows 1, 4, e\.g\. 'xxx"
    with pytest.raises(InvalidValueError, match=match):
        assemble(long(object_id=[too_long, "a", "a", too_long, "a"]), source="t")


def test_every_ingested_id_can_be_labelled(tmp_path):
    longest = "é" * MAX_OBJECT_ID_LENGTH  # characters, not bytes
    table, _ = assemble(long(object_id=[longest, "a", "a", "a", "a"]), source="t")
    store = LabelStore(tmp_path / "labels.db")
    store.add(table["object_id"][0], "interesting", catalogue="c", user="u")
    assert store.label_of(longest, catalogue="c").label == "interesting"
    store.close()


def test_canonical_tables_with_over_long_ids_are_refused():
    table, _ = assemble(long(), source="t")
    renamed = table.with_columns(pl.lit("z" * (MAX_OBJECT_ID_LENGTH + 1)).alias("object_id"))
    with pytest.raises(InvalidValueError, match=r"2 object id\(s\) over 256 characters"):
        check_table(renamed)
