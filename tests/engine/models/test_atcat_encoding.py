import math

import pytest
import torch

from engine.models.atcat.encoding import (
    FloatEmbedding,
    PointEncoder,
    WavelengthRotation,
    time_frequencies,
)
from engine.models.atcat.metadata import MetadataEncoder


def test_time_frequencies_follow_the_piecewise_linear_exponents():
    omega = time_frequencies(64, t_max=1500.0, exponents=(-0.1, 1.0))
    assert omega.shape == (64,)
    assert (omega[:32] > 1).all() and (omega[32:] <= 1).all()
    assert omega[0].item() == pytest.approx(15000.0**0.1, rel=1e-6)
    assert omega[-1].item() == pytest.approx(1 / 15000.0, rel=1e-6)
    assert (omega.diff() < 0).all()


def test_float_embedding_has_zero_bias_and_stays_bounded_for_huge_values():
    embed = FloatEmbedding(16, scales=(1.0, 10.0, 1000.0, 100000.0))
    assert torch.equal(embed.proj.bias, torch.zeros(16))
    out = embed(torch.tensor([1e12, -1e12]))
    bound = embed.proj.weight.abs().sum(dim=1)
    assert (out.abs() <= bound + 1e-5).all()
    # Values in different decades are told apart by some feature.
    a, b = embed(torch.tensor([2e3])), embed(torch.tensor([2e4]))
    assert not torch.allclose(a, b)


def test_wavelength_rotation_keeps_norms_and_depends_on_band():
    rotate = WavelengthRotation(8, wavelength_range=(3671.0, 9710.0), rotation=5.0)
    x = torch.randn(2, 8)
    g, r = rotate(x, torch.tensor([4827.0, 4827.0])), rotate(x, torch.tensor([6223.0, 6223.0]))
    torch.testing.assert_close(g.norm(dim=-1), x.norm(dim=-1))
    assert not torch.allclose(g, r)
    # The bluest wavelength is rotary position 0: no rotation.
    torch.testing.assert_close(rotate(x, torch.tensor([3671.0, 3671.0])), x)


def test_point_encoder_and_query_shapes(small_config):
    encoder = PointEncoder(small_config)
    t = torch.rand(3, 5) * 100
    tokens = encoder(t, torch.randn(3, 5), torch.rand(3, 5), torch.full((3, 5), 6223.0))
    queries = encoder.encode_query(t, torch.full((3, 5), 6223.0), torch.rand(3, 5))
    assert tokens.shape == queries.shape == (3, 5, small_config.d_model)
    assert torch.isfinite(tokens).all() and torch.isfinite(queries).all()


def test_metadata_special_values_have_their_own_vectors():
    encoder = MetadataEncoder(2, 8)
    rows = torch.tensor(
        [[0.0, 1.0], [math.nan, 1.0], [math.inf, 1.0], [-math.inf, 1.0]], dtype=torch.float32
    )
    out = encoder(rows)
    assert torch.isfinite(out).all()
    # zero, missing, +inf and -inf all give different tokens
    assert torch.cdist(out, out).add(torch.eye(4)).min() > 0
    # the special vector replaces the value: changing the other feature acts the same way
    shifted = encoder(rows + torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(shifted[1] - out[1], shifted[0] - out[0])


def test_metadata_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        MetadataEncoder(2, 8)(torch.zeros(4, 3))
