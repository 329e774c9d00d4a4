"""Property tests: valid long tables survive CSV and Parquet; broken ones raise InputError."""

import io
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.data.bands import BandRegistry
from engine.data.clean import CleaningPolicy
from engine.data.readers import read_any
from engine.errors import CatscopeError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BANDS = ["u", "g", "r", "i", "z", "y", "R", "G", "ztf_g", "ZTF-i", "sdss r", "lsst_Y", "c"]
IDS = st.text(alphabet="abcXYZ019_-.", min_size=1, max_size=8)


@st.composite
def long_tables(draw) -> tuple[pl.DataFrame, str]:
    """A valid long table (flux or magnitudes) and the kind of brightness it holds."""
    kind = draw(st.sampled_from(["flux", "mag"]))
    ids = draw(st.lists(IDS, min_size=1, max_size=4, unique=True))
    rows = []
    for oid in ids:
        times = draw(
            st.lists(st.floats(40000, 70000, allow_nan=False), min_size=1, max_size=8, unique=True)
        )
        for t in times:
            if kind == "flux":
                value = draw(st.floats(-1e6, 1e6, allow_nan=False, width=32))
                error = draw(st.floats(2**-10, 1e4, width=32))
            else:
                value = draw(st.floats(5, 35, width=32))
                error = draw(st.floats(2**-10, 2, width=32))
            rows.append((oid, t, draw(st.sampled_from(BANDS)), value, error))
    order = draw(st.permutations(range(len(rows))))
    names = ["object_id", "mjd", "band", kind, f"{kind}_err"]
    return pl.DataFrame([rows[i] for i in order], schema=names, orient="row"), kind


def expected_table(frame: pl.DataFrame, kind: str) -> dict[str, list]:
    """The canonical lists, computed independently of the readers."""
    registry = BandRegistry()
    out: dict[str, list] = {
        k: [] for k in ("object_id", "time", "band", "wavelength", "flux", "flux_err")
    }
    for oid in dict.fromkeys(frame["object_id"].to_list()):
        rows = sorted(frame.filter(pl.col("object_id") == oid).iter_rows(), key=lambda r: r[1])
        value = np.array([r[3] for r in rows])
        error = np.array([r[4] for r in rows])
        if kind == "mag":
            value, error = (
                10 ** (-0.4 * (value - 27.5)),
                10 ** (-0.4 * (value - 27.5)) * 0.4 * math.log(10) * error,
            )
        out["object_id"].append(oid)
        out["time"].append([r[1] for r in rows])
        out["band"].append([registry.canonical(r[2]) for r in rows])
        out["wavelength"].append([registry.wavelength(r[2]) for r in rows])
        out["flux"].append(value.astype(np.float32).tolist())
        out["flux_err"].append(error.astype(np.float32).tolist())
    return out


@SETTINGS
@given(data=long_tables())
def test_valid_tables_round_trip_through_csv_and_parquet(tmp_path, data):
    frame, kind = data
    frame.write_csv(tmp_path / "lc.csv")
    frame.write_parquet(tmp_path / "lc.parquet")
    keep_short = CleaningPolicy(min_points=1)  # objects of 1 to 8 points
    from_csv, _ = read_any(tmp_path / "lc.csv", policy=keep_short)
    from_parquet, _ = read_any(tmp_path / "lc.parquet", policy=keep_short)
    assert_frame_equal(from_csv, from_parquet)
    got = from_csv.drop("detected").to_dict(as_series=False)
    want = expected_table(frame, kind)
    assert got["object_id"] == want["object_id"]
    assert got["time"] == want["time"] and got["band"] == want["band"]
    assert got["wavelength"] == want["wavelength"]
    for name in ("flux", "flux_err"):
        for g, w in zip(got[name], want[name], strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-6)


JUNK = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "", " ", "1e999", "0", "-1", "99", "x1", "1,5"]),
)


@st.composite
def broken_csvs(draw) -> bytes:
    """A valid CSV with one random defect."""
    frame, _ = draw(long_tables())
    defect = draw(st.sampled_from(["cell", "band", "drop", "rename", "truncate", "bytes", "nan"]))
    if defect in ("cell", "band", "nan"):
        column = "band" if defect == "band" else draw(st.sampled_from(frame.columns[1:]))
        row = draw(st.integers(0, frame.height - 1))
        value = "nan" if defect == "nan" else draw(JUNK)
        values = frame[column].cast(pl.String).to_list()
        values[row] = value
        frame = frame.with_columns(pl.Series(column, values))
    elif defect == "drop":
        frame = frame.drop(draw(st.sampled_from(frame.columns)))
    elif defect == "rename":
        column = draw(st.sampled_from(frame.columns))
        frame = frame.rename({column: draw(st.text(alphabet="qwx_ ", min_size=1, max_size=5))})
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    text = buffer.getvalue()
    if defect == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif defect == "bytes":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(min_size=1, max_size=16)) + text[at:]
    return text


@SETTINGS
@given(content=broken_csvs())
def test_broken_csv_raises_input_error_or_reads(tmp_path, content):
    path = tmp_path / "lc.csv"
    path.write_bytes(content)
    try:
        read_any(path)
    except CatscopeError as exc:
        assert str(exc).startswith(str(path)) or "--columns" in str(exc)


@SETTINGS
@given(content=broken_csvs())
def test_broken_parquet_raises_input_error_or_reads(tmp_path, content):
    try:
        frame = pl.read_csv(io.BytesIO(content), infer_schema=False)
    except pl.exceptions.PolarsError:
        return  # not a table: the CSV test covers it
    frame.write_parquet(tmp_path / "lc.parquet")
    try:
        read_any(tmp_path / "lc.parquet")
    except CatscopeError as exc:
        assert str(exc)
