"""Property test: junk injected into clean sample light curves is removed exactly and counted."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.data.readers.long import long_from_frame

pytestmark = pytest.mark.filterwarnings("ignore::engine.data.report.IngestWarning")
SAMPLE = Path(__file__).resolve().parents[3] / "sample_data" / "plasticc_fold0_sample.parquet"


def clean_magnitudes() -> pl.DataFrame:
    """A few sample objects as a long magnitude file (points with positive flux, ≥ 3 each)."""
    table = pl.read_parquet(SAMPLE).head(6)
    points = table.select("object_id", "time", "band", "flux", "flux_err").explode(
        "time", "band", "flux", "flux_err"
    )
    points = (
        points.filter(pl.col("flux") > pl.col("flux_err"))
        .group_by("object_id", maintain_order=True)
        .head(30)
    )
    return points.select(
        "object_id",
        pl.col("time").alias("mjd"),
        pl.col("band"),
        (27.5 - 2.5 * pl.col("flux").log10()).cast(pl.Float64).alias("mag"),
        (pl.col("flux_err") / pl.col("flux") / (0.4 * np.log(10))).cast(pl.Float64).alias("magerr"),
    )


CLEAN = clean_magnitudes()
CLEAN_TABLE, CLEAN_REPORT = long_from_frame(CLEAN.with_row_index("_row", offset=1), source="s")
ROWS = st.lists(st.integers(0, CLEAN.height - 1), max_size=8)


@settings(max_examples=25, deadline=None)
@given(sentinels=ROWS, zero_errors=ROWS, duplicates=ROWS, order=st.randoms(use_true_random=False))
def test_injected_junk_is_removed_and_counted(sentinels, zero_errors, duplicates, order):
    junk = pl.concat(
        [
            CLEAN[sentinels].with_columns(mag=pl.lit(99.99), magerr=pl.lit(9.99)),
            CLEAN[zero_errors].with_columns(magerr=pl.lit(0.0)),
            CLEAN[duplicates],
        ]
    )
    rows = pl.concat([CLEAN, junk])
    shuffled = rows[order.sample(range(rows.height), rows.height)]
    table, report = long_from_frame(shuffled.with_row_index("_row", offset=1), source="s")
    assert_frame_equal(table.sort("object_id"), CLEAN_TABLE.sort("object_id"))  # order: the file's
    assert report.affected("sentinel_magnitudes") == len(sentinels)
    assert report.affected("bad_errors") == len(zero_errors)
    assert report.affected("exact_duplicates") == len(duplicates)
    assert report.affected("same_time") == 0 and report.objects_dropped == []
    assert report.n_input_points == CLEAN.height + junk.height


def test_the_clean_sample_needs_no_cleaning():
    assert CLEAN_TABLE.height == 6 and CLEAN_REPORT.n_points == CLEAN.height
    assert all(r.points == 0 for r in CLEAN_REPORT.rules)
