"""Photometry kind: the detection rule and the total -> difference conversion at the model door."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.data.packed import PackedLightCurves
from engine.data.photometry import (
    FLUX_KIND_COLUMN,
    band_reference,
    detect_flux_kind,
    subtract_band_reference,
)
from engine.data.schema import ZERO_POINT, read_table

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data" / "plasticc_fold0_sample.parquet"
#: FLUXCAL of a 17th-magnitude star
STAR = 10 ** (-0.4 * (17.0 - ZERO_POINT))


@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    return read_table(SAMPLE)


def _as_total(table: pl.DataFrame, level: float = STAR) -> pl.DataFrame:
    return table.with_columns(pl.col("flux").list.eval(pl.element() + level))


def test_plasticc_difference_photometry_is_not_called_total(sample):
    kinds = detect_flux_kind(sample)
    assert kinds.name == FLUX_KIND_COLUMN
    assert (kinds == "total").mean() < 0.005  # measured: 2 of 1,002 (bright AGN)


def test_a_steady_reference_added_makes_almost_every_curve_total(sample):
    kinds = detect_flux_kind(_as_total(sample).filter(pl.col("label") != "Mira"))
    assert (kinds == "total").mean() > 0.995  # measured: all but 1 RRL of 996


def test_band_reference_is_the_median_of_each_band():
    table = pl.DataFrame(
        {
            "object_id": ["a"],
            "time": [[0.0, 1.0, 2.0, 3.0, 4.0]],
            "band": [["g", "g", "g", "r", "r"]],
            "wavelength": [[4800.0, 4800.0, 4800.0, 6200.0, 6200.0]],
            "flux": [[1.0, 5.0, 3.0, 10.0, 20.0]],
            "flux_err": [[0.1] * 5],
            "detected": [[True] * 5],
        },
        schema_overrides={"wavelength": pl.List(pl.Float32), "flux": pl.List(pl.Float32),
                          "flux_err": pl.List(pl.Float32)},
    )  # fmt: skip
    packed = PackedLightCurves.from_frame(table)
    np.testing.assert_allclose(band_reference(packed), [3, 3, 3, 15, 15])
    converted = subtract_band_reference(packed, np.array([True]))
    np.testing.assert_allclose(converted.flux, [-2, 2, 0, -5, 5])
    assert converted.metadata["ref_mag"][0] == pytest.approx(ZERO_POINT - 2.5 * np.log10(15))
    # brighter in r than in g: a red object, g - r = 2.5 log10(15 / 3) over 1,400 Å
    colour = 2.5 * np.log10(15 / 3) / 1.4
    assert converted.metadata["ref_colour"][0] == pytest.approx(colour, rel=1e-5)
    assert colour > 0


def test_the_model_door_turns_total_into_difference(sample):
    rrl = sample.filter(pl.col("label") == "RRL").head(3)
    total = _as_total(rrl).with_columns(pl.lit("total").alias(FLUX_KIND_COLUMN))
    as_given = PackedLightCurves.from_frame(rrl)
    converted = PackedLightCurves.from_frame(total)
    # the star's level is gone: what is left is the difference curve minus its band medians
    expected = as_given.flux - band_reference(as_given)
    np.testing.assert_allclose(converted.flux, expected, atol=STAR * 1e-6)
    assert np.all(np.abs(converted.metadata["ref_mag"] - 17.0) < 0.2)
    untouched = PackedLightCurves.from_frame(
        rrl.with_columns(pl.lit("difference").alias(FLUX_KIND_COLUMN))
    )
    np.testing.assert_array_equal(untouched.flux, as_given.flux)
    assert np.isnan(untouched.metadata["ref_mag"]).all()
