"""Astromer 2: single-band windows, asinh magnitudes, [MASK], band combination, checkpoint."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from engine.data.batching import Batch
from engine.models import load_model, save_model
from engine.models.astromer2 import Astromer2, Astromer2Config, asinh_magnitude, split_bands
from engine.models.checkpoint import read_config

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides) -> Astromer2Config:
    values = {"d_model": 16, "n_layers": 2, "n_heads": 2, "head_dim": 8, "window": 6}
    return Astromer2Config(**(values | overrides))


def one_object(bands: list[float], flux: list[float], time: list[float] | None = None) -> Batch:
    n = len(bands)
    return Batch(
        time=torch.arange(n, dtype=torch.float32)[None] * 2.0
        if time is None
        else torch.tensor([time]),
        flux=torch.tensor([flux]),
        flux_err=torch.full((1, n), 2.0),
        wavelength=torch.tensor([bands]),
        mask=torch.ones(1, n, dtype=torch.bool),
    )


def pad_with_garbage(batch: Batch, width: int) -> Batch:
    """The same objects padded to ``width`` with large random values."""
    extra = width - batch.mask.shape[1]

    def widen(values: torch.Tensor) -> torch.Tensor:
        return torch.cat([values, torch.rand(values.shape[0], extra) * 1e4], dim=1)

    return Batch(
        time=widen(batch.time),
        flux=widen(batch.flux),
        flux_err=widen(batch.flux_err),
        wavelength=widen(batch.wavelength),
        mask=torch.cat([batch.mask, torch.zeros(batch.mask.shape[0], extra, dtype=torch.bool)], 1),
    )


def test_bands_are_split_into_balanced_zero_mean_windows(make_batch):
    batch = make_batch([30, 7, 1], width=40, seed=3)
    windows = split_bands(batch, window=6)
    # every real point lands in exactly one window
    assert int(windows.lengths.sum()) == int(batch.mask.sum())
    assert int(windows.lengths.max()) <= 6
    for pair in range(len(windows.band_object)):
        sizes = windows.lengths[windows.window_band == pair]
        assert int(sizes.max() - sizes.min()) <= 1  # balanced, never a 1-point tail
    # each window belongs to one object and one band, and is zero-mean in time and magnitude
    for name in ("time", "magnitude"):
        values = getattr(windows, name)
        means = torch.where(windows.mask, values, 0.0).sum(1) / windows.lengths
        torch.testing.assert_close(means, torch.zeros_like(means), atol=1e-4, rtol=0)
    assert set(windows.band_object.tolist()) == {0, 1, 2}
    pairs_of_object = torch.bincount(windows.band_object)
    expected = [len(set(batch.wavelength[k, :n].tolist())) for k, n in enumerate([30, 7, 1])]
    assert pairs_of_object.tolist() == expected


def test_points_keep_time_order_within_a_band():
    batch = one_object([4827.0, 6223.0, 4827.0, 4827.0, 6223.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    windows = split_bands(batch, window=200)
    g = windows.band_wavelength[windows.window_band] == 4827.0
    times = windows.time[g][0, :3]
    assert torch.all(times[1:] > times[:-1])


def test_asinh_magnitudes_match_pogson_for_bright_points_and_are_scale_free():
    flux = torch.tensor([1000.0, 5000.0])
    magnitude, error = asinh_magnitude(flux, torch.tensor([10.0, 10.0]), torch.tensor(1.0))
    pogson = -2.5 * torch.log10(flux)
    torch.testing.assert_close(
        magnitude[1] - magnitude[0], pogson[1] - pogson[0], atol=1e-3, rtol=0
    )
    torch.testing.assert_close(error, 1.0857 * 10.0 / flux, rtol=1e-3, atol=0)
    # negative and zero fluxes stay finite
    assert torch.isfinite(
        asinh_magnitude(torch.tensor([-50.0, 0.0]), torch.ones(2), torch.tensor(1.0))[0]
    ).all()
    batch = one_object([4827.0] * 5, [-3.0, 10.0, 40.0, 5.0, 0.5])
    scaled = replace(batch, flux=batch.flux * 7.0, flux_err=batch.flux_err * 7.0)
    torch.testing.assert_close(
        split_bands(batch, window=10).magnitude, split_bands(scaled, window=10).magnitude
    )


def test_masked_points_are_unseen_and_padding_is_ignored(make_batch):
    model = Astromer2(tiny()).eval()
    windows = model.windows(make_batch([12, 5], width=20))
    hidden = torch.zeros_like(windows.mask)
    hidden[0, 2] = True
    changed = replace(windows, magnitude=windows.magnitude.clone())
    changed.magnitude[0, 2] += 5.0
    with torch.no_grad():
        a = model(windows, hidden=hidden).magnitude
        b = model(changed, hidden=hidden).magnitude
        c = model(changed).magnitude
    torch.testing.assert_close(a, b)  # a hidden magnitude changes nothing anywhere
    assert not torch.allclose(a[0], c[0])  # unhidden, it does
    batch = make_batch([12, 5], width=20)
    with torch.no_grad():
        torch.testing.assert_close(
            model.embed(batch), model.embed(pad_with_garbage(batch, 40)), atol=1e-5, rtol=0
        )


def test_embedding_has_band_mean_and_wavelength_moment():
    model = Astromer2(tiny()).eval()
    assert model.embedding_dim == 32
    single = one_object([6223.0] * 6, [1.0, 4.0, 9.0, 4.0, 1.0, 0.0])
    two = one_object([4827.0, 8691.0] * 3, [1.0, 4.0, 9.0, 4.0, 1.0, 0.0])
    with torch.no_grad():
        e_single, e_two = model.embed(single), model.embed(two)
    assert e_single.shape == (1, 32)
    torch.testing.assert_close(e_single[0, 16:], torch.zeros(16))  # one band: no moment
    assert e_two[0, 16:].abs().sum() > 0
    # which band was observed first does not matter: bands are read separately, zero-mean
    blue_first = one_object(
        [4827.0, 8691.0] * 3, [1.0, 4.0, 9.0, 4.0, 1.0, 0.0], [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    )
    red_first = one_object(
        [8691.0, 4827.0] * 3, [4.0, 1.0, 4.0, 9.0, 0.0, 1.0], [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    )
    with torch.no_grad():
        torch.testing.assert_close(model.embed(blue_first), model.embed(red_first))


def test_attention_maps_hide_masked_keys(make_batch):
    model = Astromer2(tiny()).eval()
    windows = model.windows(make_batch([8, 3], width=8))
    hidden = torch.zeros_like(windows.mask)
    hidden[0, 1] = True
    with torch.no_grad():
        maps = model(windows, hidden=hidden, return_attention=True).attention
    s, w = windows.mask.shape
    assert len(maps) == 2 and maps[0].shape == (s, 2, w, w)
    assert torch.all(maps[0][0, :, 0, 1] == 0)  # no query attends to the hidden point
    torch.testing.assert_close(maps[1].sum(-1), torch.ones(s, 2, w))


def test_layer_weights_mix_every_depth():
    model = Astromer2(tiny())
    assert model.layer_weights.shape == (3,)  # input embedding + 2 blocks
    assert torch.all(model.layer_weights == 0)  # softmax of zeros: a plain mean to start


def test_checkpoint_round_trip(make_batch, tmp_path):
    model = Astromer2(tiny()).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    save_model(model, tmp_path / "m", description="tiny astromer")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, Astromer2) and loaded.config == model.config
    assert read_config(tmp_path / "m")["family"] == "astromer2"
    batch = make_batch([9, 4, 2])
    with torch.no_grad():
        torch.testing.assert_close(loaded.embed(batch), model.embed(batch))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [({"d_model": 15}, "even"), ({"window": 1}, "window"), ({"dropout": 1.0}, "dropout")],
)
def test_config_checks(overrides, match):
    with pytest.raises(ValueError, match=match):
        tiny(**overrides)
    assert Astromer2Config.from_dict(json.loads(json.dumps(tiny().to_dict()))) == tiny()
