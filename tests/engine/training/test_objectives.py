"""Objectives of the new families: Astromer masking and loss, views, truncation, NT-Xent."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from engine.data.packed import PackedLightCurves
from engine.training.objectives.astraclr import make_views, nt_xent
from engine.training.objectives.astromer2 import probe_points, weighted_rmse
from engine.training.objectives.settings import ContrastiveConfig, MaskedMagnitudeConfig
from engine.training.objectives.views import (
    add_noise,
    bin_points,
    crop,
    inject_outliers,
    keep_points,
    truncate,
)


def lengths_mask(lengths: list[int], width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]


# -- Astromer ---------------------------------------------------------------------------------
def test_probe_proportions_follow_the_paper():
    mask = lengths_mask([200, 100, 37, 2, 1], 200)
    probe = probe_points(mask, probe_fraction=0.5, masked_share=0.6, random_share=0.2)
    probed, masked, randomised = (
        x.sum(1).tolist() for x in (probe.probed, probe.masked, probe.randomised)
    )
    assert probed == [100, 50, 18, 1, 0]  # round(n / 2), at least one, never all
    assert masked == [60, 30, 11, 1, 0]  # 30 % of all points
    assert randomised == [20, 10, 4, 0, 0]  # 10 %; the other 10 % are kept
    # masked and randomised are disjoint parts of the probed points, all on real points
    assert not (probe.masked & probe.randomised).any()
    assert not ((probe.masked | probe.randomised) & ~probe.probed).any()
    assert not (probe.probed & ~mask).any()
    # every window keeps a visible point
    assert ((mask & ~probe.masked).sum(1) >= 1).all()


def test_probed_points_are_uniform_over_positions():
    mask = lengths_mask([20] * 4000, 20)
    generator = torch.Generator().manual_seed(0)
    probe = probe_points(
        mask, probe_fraction=0.5, masked_share=0.6, random_share=0.2, generator=generator
    )
    rate = probe.masked.float().mean(0)  # per position
    assert torch.all((rate > 0.26) & (rate < 0.34))
    again = probe_points(
        mask,
        probe_fraction=0.5,
        masked_share=0.6,
        random_share=0.2,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(again.masked, probe.masked)  # a seeded generator repeats the draw


def test_weighted_rmse_by_hand():
    prediction = torch.tensor([[1.0, 1.0, 2.0, 9.0]])
    target = torch.zeros(1, 4)
    error = torch.tensor([[0.1, 0.2, 0.4, 0.05]])
    mask = torch.tensor([[True, True, True, False]])
    probed = torch.tensor([[True, True, True, False]])
    # weights 1 / (error / 0.4) = 4, 2, 1; the padded point is ignored
    value = weighted_rmse(prediction, target, error, mask, probed, error_floor=0.01)
    assert float(value) == pytest.approx(math.sqrt((4 * 1 + 2 * 1 + 1 * 4) / 7), rel=1e-5)
    only_first = torch.tensor([[True, False, False, False]])
    assert float(weighted_rmse(prediction, target, error, mask, only_first, error_floor=0.01)) == (
        pytest.approx(1.0, rel=1e-5)
    )
    none = torch.zeros_like(probed)
    empty = weighted_rmse(prediction.requires_grad_(), target, error, mask, none, error_floor=0.01)
    empty.backward()
    assert torch.isfinite(prediction.grad).all()


def test_masked_magnitude_config_checks():
    with pytest.raises(ValueError, match="masked_share \\+ random_share"):
        MaskedMagnitudeConfig(masked_share=0.9, random_share=0.2)
    with pytest.raises(ValueError, match="probe_fraction"):
        MaskedMagnitudeConfig(probe_fraction=1.0)


# -- views ------------------------------------------------------------------------------------
def test_crops_are_contiguous_windows_of_the_right_size(packed):
    rng = np.random.default_rng(0)
    view = crop(packed, rng, fraction=(0.2, 0.5), min_points=5)
    assert np.array_equal(view.object_id, packed.object_id)
    n = packed.lengths
    assert np.all(view.lengths >= np.minimum(5, n)) and np.all(view.lengths <= n)
    assert np.all(view.lengths <= np.maximum(np.round(0.5 * n), np.minimum(5, n)))
    for k in range(len(packed)):
        original = packed.time[packed.slice_points(k)]
        times = view.time[view.slice_points(k)]
        start = int(np.searchsorted(original, times[0]))
        assert np.array_equal(original[start : start + len(times)], times)  # contiguous


def test_views_belong_to_the_same_object_and_differ(packed):
    anchor, positive, hard = make_views(packed, np.random.default_rng(1), ContrastiveConfig())
    for view in (anchor, positive, hard):
        assert np.array_equal(view.object_id, packed.object_id)
        assert np.all(view.lengths >= 1)
    assert np.mean(positive.lengths) < np.mean(anchor.lengths)  # short vs long
    # the hard positive spans the object's whole time range
    first = lambda c: c.time[c.offsets[:-1]]  # noqa: E731
    assert np.allclose(first(hard), first(packed), atol=1.5)


def test_noise_and_outliers_touch_only_chosen_objects(packed):
    rng = np.random.default_rng(2)
    chosen = np.arange(len(packed)) % 2 == 0
    noisy = add_noise(packed, rng, chosen, scale=1.0)
    on = np.repeat(chosen, packed.lengths)
    assert np.array_equal(noisy.flux[~on], packed.flux[~on])
    assert not np.allclose(noisy.flux[on], packed.flux[on])
    np.testing.assert_allclose(noisy.flux_err[on], packed.flux_err[on] * math.sqrt(2), rtol=1e-6)
    residual = (noisy.flux[on] - packed.flux[on]) / packed.flux_err[on]
    assert 0.85 < residual.std() < 1.15
    moved = inject_outliers(packed, rng, chosen, fraction=0.5, sigma=10.0)
    shift = np.abs(moved.flux - packed.flux) / packed.flux_err
    assert np.all(shift[~on] == 0)
    assert np.allclose(shift[on][shift[on] > 0], 10.0, rtol=1e-4)
    assert 0.35 < np.mean(shift[on] > 0) < 0.65


def test_binning_averages_each_band_within_bins():
    curves = PackedLightCurves(
        object_id=np.array(["a", "b"]),
        offsets=np.array([0, 4, 6]),
        time=np.array([0.0, 1.0, 2.0, 5.0, 0.0, 1.0]),
        flux=np.array([10.0, 20.0, 7.0, 4.0, 1.0, 2.0], dtype=np.float32),
        flux_err=np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0], dtype=np.float32),
        wavelength=np.array([4827.0, 4827.0, 6223.0, 4827.0, 4827.0, 4827.0], dtype=np.float32),
        detected=np.array([False, True, False, False, True, True]),
    )
    binned = bin_points(curves, np.array([True, False]), days=3.0)
    assert binned.lengths.tolist() == [3, 2]  # a: g bin [0, 3) merged; b untouched
    assert binned.time[:3].tolist() == [0.5, 2.0, 5.0]
    # inverse-variance weights 1 and 1/4: (10 + 20 / 4) / 1.25 = 12
    assert binned.flux[0] == pytest.approx(12.0)
    assert binned.flux_err[0] == pytest.approx(1.0 / math.sqrt(1.25))
    assert binned.detected[0] and binned.wavelength[1] == 6223.0
    assert binned.flux[3:].tolist() == [1.0, 2.0]


def test_truncation_keeps_a_prefix_of_3_to_all_points(packed):
    rng = np.random.default_rng(3)
    cut = truncate(packed, rng, rate=1.0, min_points=3)
    n = packed.lengths
    assert np.all(cut.lengths >= np.minimum(3, n)) and np.all(cut.lengths <= n)
    assert cut.lengths.min() <= 4 and np.any(cut.lengths == n)  # both ends are reachable
    for k in range(len(packed)):
        start = packed.offsets[k]
        assert np.array_equal(
            cut.time[cut.slice_points(k)], packed.time[start : start + cut.lengths[k]]
        )
    untouched = truncate(packed, rng, rate=0.0, min_points=3)
    assert np.array_equal(untouched.lengths, n)


def test_keep_points_can_empty_an_object(packed):
    keep = np.repeat(np.arange(len(packed)) != 0, packed.lengths)
    kept = keep_points(packed, keep)
    assert kept.lengths[0] == 0 and np.array_equal(kept.lengths[1:], packed.lengths[1:])


# -- NT-Xent ----------------------------------------------------------------------------------
def test_nt_xent_by_hand():
    views = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 3.0]]])  # (V=2, B=2, 2)
    # each view: positive similarity 1, two negatives of similarity 0
    loss, accuracy = nt_xent(views, temperature=0.5)
    assert float(loss) == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + 2)), rel=1e-5)
    assert float(accuracy) == 1.0


def test_nt_xent_matches_simclr_for_two_views_and_is_symmetric():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 6, 5, generator=g)
    loss, _ = nt_xent(z, temperature=0.1)
    # SimCLR's formulation: cross-entropy over the 2B - 1 others, target = the other view
    flat = F.normalize(z, dim=-1).reshape(12, 5)
    logits = (flat @ flat.T / 0.1).masked_fill(torch.eye(12, dtype=torch.bool), float("-inf"))
    target = (torch.arange(12) + 6) % 12
    assert float(loss) == pytest.approx(float(F.cross_entropy(logits, target)), rel=1e-5)
    # symmetric in the views and in the order of the objects
    assert float(nt_xent(z.flip(0), 0.1)[0]) == pytest.approx(float(loss), rel=1e-5)
    order = torch.randperm(6, generator=g)
    assert float(nt_xent(z[:, order], 0.1)[0]) == pytest.approx(float(loss), rel=1e-5)
    # three views: aligned views of distinct objects give a lower loss than random ones
    aligned = torch.eye(6)[None].expand(3, -1, -1) + 0.01 * torch.randn(3, 6, 6, generator=g)
    assert float(nt_xent(aligned, 0.1)[0]) < float(
        nt_xent(torch.randn(3, 6, 6, generator=g), 0.1)[0]
    )
