"""Augmentations: rates within binomial tolerance, invariants of each transform."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.data.batching import collate
from engine.data.packed import PackedLightCurves
from engine.training.augment import (
    AugmentConfig,
    augment,
    collate_augmented,
    draw_time_shift,
    drop_metadata,
    redshift,
    scale_flux,
    subsample,
)


def _many(packed: PackedLightCurves, copies: int) -> PackedLightCurves:
    """The same objects repeated ``copies`` times, to measure rates."""
    return packed.subset(np.tile(np.arange(len(packed)), copies))


def _within_binomial(hits: int, n: int, rate: float) -> bool:
    return abs(hits - n * rate) <= 5 * np.sqrt(n * rate * (1 - rate))


def _changed_objects(
    before: np.ndarray, after: np.ndarray, curves: PackedLightCurves
) -> np.ndarray:
    """(N,) True where any point value of an object differs."""
    diff = (before != after).astype(np.int64)
    return np.add.reduceat(diff, curves.offsets[:-1]) > 0


def test_subsample_rate_counts_and_order(packed):
    curves = _many(packed, 50)
    out = subsample(curves, np.random.default_rng(0), rate=0.25, min_points=10)
    n_in, n_out = curves.lengths, out.lengths
    eligible = n_in > 10
    changed = n_out < n_in
    assert _within_binomial(int(changed.sum()), int(eligible.sum()), 0.25)
    assert not changed[~eligible].any()  # short curves pass through
    assert (n_out[changed] >= 10).all() and (n_out[changed] <= n_in[changed] - 1).all()
    # kept points are a subset in the original order: times stay sorted within every object
    for k in np.flatnonzero(changed)[:50]:
        t_in = curves.time[curves.slice_points(k)]
        t_out = out.time[out.slice_points(k)]
        assert np.all(np.diff(t_out) > 0)
        assert np.isin(t_out, t_in).all()


def test_subsample_count_is_uniform_between_10_and_n_minus_1(packed):
    k = int(np.flatnonzero((packed.lengths > 12) & (packed.lengths < 20))[0])
    n = int(packed.lengths[k])
    counts = subsample(
        packed.subset(np.full(3000, k)), np.random.default_rng(9), rate=1.0, min_points=10
    ).lengths
    values, freq = np.unique(counts, return_counts=True)
    assert values.tolist() == list(range(10, n))
    assert all(_within_binomial(int(f), 3000, 1 / (n - 10)) for f in freq)


def test_subsample_keeps_point_fields_together(packed):
    out = subsample(_many(packed, 5), np.random.default_rng(1), rate=1.0, min_points=10)
    # flux was generated from time for 'rise' objects: each kept flux still sits with its time
    src = _many(packed, 5)
    pairs_in = set(zip(src.time.tolist(), src.flux.tolist(), strict=True))
    assert set(zip(out.time.tolist(), out.flux.tolist(), strict=True)) <= pairs_in


def test_scale_flux_same_factor_for_flux_and_err(packed):
    curves = _many(packed, 50)
    out = scale_flux(curves, np.random.default_rng(2), rate=0.2, max_factor=1.1)
    ratio_flux = out.flux / np.where(curves.flux == 0, 1, curves.flux)
    ratio_err = out.flux_err / curves.flux_err
    nonzero = curves.flux != 0
    np.testing.assert_allclose(ratio_flux[nonzero], ratio_err[nonzero], rtol=1e-5)
    per_object = ratio_err[curves.offsets[:-1]]
    np.testing.assert_allclose(np.repeat(per_object, curves.lengths), ratio_err, rtol=1e-6)
    changed = np.abs(per_object - 1) > 1e-7
    assert _within_binomial(int(changed.sum()), len(curves), 0.2)
    assert per_object.min() >= 1 / 1.1 - 1e-6 and per_object.max() <= 1.1 + 1e-6


def test_redshift_rate_and_clip(packed):
    curves = _many(packed, 50)
    out = redshift(curves, np.random.default_rng(3), rate=0.2, sigma=0.1, z_min=-0.1)
    z = (out.wavelength / curves.wavelength - 1)[curves.offsets[:-1]]
    np.testing.assert_allclose(
        np.repeat(z, curves.lengths), out.wavelength / curves.wavelength - 1, atol=1e-6
    )
    assert z.min() >= -0.1 - 1e-6
    changed = np.abs(z) > 1e-7
    assert _within_binomial(int(changed.sum()), len(curves), 0.2)
    # about half of the N(0, 0.1) draws are negative, so the clip at -0.1 is hit
    assert np.isclose(z, -0.1, atol=1e-6).sum() > 0


def test_time_shift_rate_and_range():
    shift = draw_time_shift(20000, np.random.default_rng(4), rate=0.2, max_shift=10.0)
    assert _within_binomial(int((shift > 0).sum()), 20000, 0.2)
    assert shift.min() >= 0 and shift.max() <= 10.0


def test_drop_metadata_hides_whole_objects(packed):
    curves = _many(packed, 50)
    out = drop_metadata(curves, np.random.default_rng(5), rate=0.5)
    dropped = np.isnan(out.metadata["mwebv"])  # mwebv is never missing in the source
    assert _within_binomial(int(dropped.sum()), len(curves), 0.5)
    assert np.isnan(out.metadata["hostgal_photoz"][dropped]).all()


def test_collate_augmented_starts_at_shift_and_pads_with_zero(packed):
    config = replace(AugmentConfig.none(), time_shift_rate=1.0)
    index = np.arange(10)
    batch = collate_augmented(packed, index, np.random.default_rng(6), config, max_points=64)
    plain = collate(packed, index, max_points=64)
    shift = batch.time[:, 0]
    assert (shift > 0).all() and (shift <= 10).all()
    torch.testing.assert_close(batch.time, (plain.time + shift[:, None]) * plain.mask)


def test_no_augmentation_is_identity(packed):
    out = augment(packed, np.random.default_rng(7), AugmentConfig.none())
    np.testing.assert_array_equal(out.curves.flux, packed.flux)
    np.testing.assert_array_equal(out.curves.offsets, packed.offsets)
    assert not out.time_shift.any()


def test_same_seed_same_augmentation(packed):
    a = augment(packed, np.random.default_rng(8), AugmentConfig())
    b = augment(packed, np.random.default_rng(8), AugmentConfig())
    np.testing.assert_array_equal(a.curves.wavelength, b.curves.wavelength)
    np.testing.assert_array_equal(a.time_shift, b.time_shift)


@pytest.mark.parametrize(
    "kwargs",
    [{"subsample_rate": 1.5}, {"flux_scale_max": 0.9}, {"redshift_min": -1.0}, {"min_points": 0}],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        AugmentConfig(**kwargs)
