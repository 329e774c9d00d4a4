"""The shipped ATCAT on light curves as a survey catalogue gives them: total magnitudes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from engine.data.load import load
from engine.data.schema import ZERO_POINT, read_table
from engine.infer import load_predictor

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "plasticc_fold0_sample.parquet"


@pytest.mark.slow
def test_rr_lyrae_given_as_total_magnitudes_are_detected_handled_and_classified(tmp_path):
    from tests.messy import magnitude_rows

    # the sample's RR Lyrae as a 16th-magnitude star plus their variation, written as AB mags
    rrl = read_table(SAMPLE).filter(pl.col("label") == "RRL")
    level = 10 ** (-0.4 * (16.0 - ZERO_POINT))
    total = rrl.with_columns(pl.col("flux").list.eval(pl.element() + level))
    magnitude_rows(total).write_csv(tmp_path / "rrl.csv")
    loaded = load(tmp_path / "rrl.csv")
    assert (loaded.table["flux_kind"] == "total").all()
    assert "total (detected per object)" in loaded.reports[0].summary()
    predictions = load_predictor("atcat-plasticc").predict(loaded.table)
    # measured: 27 of 31 (stage 1: 28); read as difference flux, stage 1 calls none of them RRL
    assert (predictions["pred_class"] == "RRL").mean() >= 0.8
    assert predictions["in_domain"].mean() >= 0.9
