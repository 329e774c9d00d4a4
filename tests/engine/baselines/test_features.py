import numpy as np

from engine.baselines.features import LSST_BANDS, extract_features, metadata_features
from engine.data.schema import MODEL_METADATA


def test_features_finite_for_well_sampled_curve(packed_pair):
    features = extract_features(packed_pair, n_jobs=1)
    assert features["object_id"].to_list() == ["full", "partial"]
    values = features.drop("object_id").row(0)
    bad = [name for name, v in zip(features.columns[1:], values, strict=True) if not np.isfinite(v)]
    assert bad == []


def test_missing_bands_give_nan_not_errors(packed_pair):
    features = extract_features(packed_pair, n_jobs=1)
    row = dict(zip(features.columns, features.row(1), strict=True))
    for band in LSST_BANDS:
        band_columns = [c for c in features.columns if c.endswith(f"_{band}")]
        assert len(band_columns) > 20
        present = band in ("lsst_g", "lsst_r")
        others = [row[c] for c in band_columns if not c.startswith("n_points_")]
        if present:
            assert row[f"n_points_{band}"] > 5
            assert np.isfinite(row[f"stetson_K_{band}"]) and np.isfinite(row[f"median_{band}"])
        else:
            assert row[f"n_points_{band}"] == 0
            assert np.isnan(others).all()
    assert row["n_points_lsst_g"] + row["n_points_lsst_r"] == 40


def test_peak_fraction_is_one_in_brightest_band_and_time_is_relative_to_peak(packed_pair):
    features = extract_features(packed_pair, n_jobs=1)
    fractions = features.select([f"peak_fraction_{b}" for b in LSST_BANDS]).row(0)
    assert max(fractions) == 1.0 and min(fractions) > 0.5  # the burst is grey: all bands alike
    # the burst peaks within a few days of its brightest point in every band
    t0 = features.select([f"bazin_fit_reference_time_{b}" for b in LSST_BANDS]).row(0)
    assert np.all(np.abs(t0) < 20.0)


def test_metadata_features_fill_missing_columns_with_nan(packed_pair):
    meta = metadata_features(packed_pair)
    assert meta.columns == ["object_id", *MODEL_METADATA]
    assert np.isnan(meta.drop("object_id").to_numpy()).all()
