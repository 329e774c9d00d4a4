"""RTF: point channels, encoder/decoder shapes, latent size, reconstruction error, checkpoint."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_astromer2 import pad_with_garbage

from engine.data.batching import Batch
from engine.models import load_model, save_model
from engine.models.rtf import CHANNELS, RTF, RTFConfig, point_channels

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides) -> RTFConfig:
    values = {
        "d_model": 16,
        "n_layers": 2,
        "n_heads": 2,
        "head_dim": 8,
        "ffn_mult": 2,
        "decoder_layers": 1,
        "latent_dim": 8,
        "max_points": 32,
    }
    return RTFConfig(**(values | overrides))


def test_point_channels_by_hand():
    batch = Batch(
        time=torch.tensor([[0.0, 1.0, 4.0, 0.0]]),
        flux=torch.tensor([[-10.0, 0.0, math.e - 1.0, 99.0]]),
        flux_err=torch.tensor([[1.0, math.e, 2.0, 99.0]]),
        wavelength=torch.tensor([[3671.0, 9710.0, 6690.5, 99.0]]),
        mask=torch.tensor([[True, True, True, False]]),
    )
    channels = point_channels(batch, (3671.0, 9710.0))
    assert channels.shape == (1, 4, len(CHANNELS))
    expected = torch.tensor(
        [
            [0.0, 0.0, -math.log1p(10.0), 0.0, 0.0],
            [math.log(2.0), math.log(2.0), 0.0, 1.0, 1.0],
            [math.log(5.0), math.log(4.0), 1.0, math.log(2.0), 0.5],
            [0.0] * 5,  # padding
        ]
    )
    torch.testing.assert_close(channels[0], expected, atol=1e-5, rtol=0)


def test_shapes_latent_and_padding_invariance(make_batch):
    model = RTF(tiny(class_names=("a", "b", "c")))
    batch = make_batch([20, 3, 9], width=20)
    model.fit_channels(batch)
    standardised = model.channels(batch)[batch.mask]
    torch.testing.assert_close(standardised.mean(0), torch.zeros(5), atol=1e-4, rtol=0)
    model.eval()
    with torch.no_grad():
        output = model(batch)
        again = model(pad_with_garbage(batch, 32))
    assert output.latent.shape == (3, 8) and model.embedding_dim == 8
    assert output.reconstruction.shape == (3, 20, 5) and output.target.shape == (3, 20, 5)
    assert output.class_logits.shape == (3, 3)
    torch.testing.assert_close(again.latent, output.latent, atol=1e-5, rtol=0)
    with torch.no_grad():
        error = model.reconstruction_error(batch)
    assert error.shape == (3,) and torch.all(error > 0)
    manual = ((output.reconstruction - output.target)[1, :3, :4] ** 2).mean()
    torch.testing.assert_close(error[1], manual, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="max_points"):
        model(make_batch([40]))


def test_reconstruction_decreases_when_trained(make_batch):
    torch.manual_seed(0)
    model = RTF(tiny())
    batch = make_batch([12, 12, 12, 12], seed=4)
    model.fit_channels(batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        before = float(model.reconstruction_error(batch).mean())
    for _ in range(30):
        loss = model.reconstruction_error(batch).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert float(model.reconstruction_error(batch).mean()) < 0.7 * before


def test_checkpoint_round_trip_keeps_channel_scaling(make_batch, tmp_path):
    model = RTF(tiny(class_names=("x", "y")))
    batch = make_batch([6, 9])
    model.fit_channels(batch).eval()
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, RTF) and loaded.config == model.config
    torch.testing.assert_close(loaded.channel_std, model.channel_std)
    with torch.no_grad():
        torch.testing.assert_close(loaded.embed(batch), model.embed(batch))
    assert RTFConfig.from_dict(json.loads(json.dumps(tiny().to_dict()))) == tiny()
    with pytest.raises(ValueError, match="class_names"):
        tiny(class_names=("a", "a"))
