"""Astra-CLR: brightness-free inputs, bidirectional pooled encoder, projection head, checkpoint."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from test_astromer2 import pad_with_garbage

from engine.models import load_model, save_model
from engine.models.astraclr import AstraCLR, AstraCLRConfig, normalise_flux

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides) -> AstraCLRConfig:
    values = {"d_model": 16, "n_layers": 2, "n_heads": 2, "head_dim": 8, "projection_dim": 12}
    return AstraCLRConfig(**(values | overrides))


def test_inputs_ignore_overall_brightness(make_batch):
    batch = make_batch([10, 3], width=12)
    flux, err = normalise_flux(batch.flux, batch.flux_err, batch.mask)
    flux2, err2 = normalise_flux(batch.flux * 50.0, batch.flux_err * 50.0, batch.mask)
    torch.testing.assert_close(flux, flux2)
    torch.testing.assert_close(err, err2)
    # a bright curve is measured in its own weighted RMS flux (close to 1 after scaling)
    weight = torch.where(batch.mask, err.clamp_min(1e-6) ** -2, 0.0)
    rms = torch.sqrt((weight * flux**2).sum(1) / weight.sum(1))
    assert torch.all(rms <= 1.0 + 1e-5)
    model = AstraCLR(tiny()).eval()
    scaled = replace(batch, flux=batch.flux * 50.0, flux_err=batch.flux_err * 50.0)
    with torch.no_grad():
        torch.testing.assert_close(model.embed(batch), model.embed(scaled), atol=1e-5, rtol=1e-4)


def test_outputs_shapes_and_padding_invariance(make_batch):
    model = AstraCLR(tiny()).eval()
    batch = make_batch([7, 15, 1], width=15)
    with torch.no_grad():
        output = model(batch)
        padded = model(pad_with_garbage(batch, 30))
    assert output.representation.shape == (3, 16) and output.projection.shape == (3, 12)
    assert model.embedding_dim == 16
    torch.testing.assert_close(output.representation, padded.representation, atol=1e-5, rtol=0)


def test_checkpoint_round_trip(make_batch, tmp_path):
    model = AstraCLR(tiny()).eval()
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, AstraCLR) and loaded.config == model.config
    batch = make_batch([5, 8])
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch).projection, model(batch).projection)
    assert AstraCLRConfig.from_dict(json.loads(json.dumps(tiny().to_dict()))) == tiny()
    with pytest.raises(ValueError, match="float_scales"):
        tiny(float_scales=(1.0, -1.0))
