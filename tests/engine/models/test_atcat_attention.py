import torch

from engine.models.atcat.attention import (
    MaskedSelfAttention,
    add_meta_token,
    layer_masks,
    point_mask,
)

TIME = torch.tensor([[0.0, 0.5, 3.0, 3.2, 20.0]])
MASK = torch.tensor([[True, True, True, True, False]])


def test_global_point_mask_is_causal_and_hides_padding_keys():
    allowed = point_mask(TIME, MASK, window=None)[0]
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0],
            [1, 1, 1, 1, 1],  # padding query: real keys plus itself, never an empty row
        ],
        dtype=torch.bool,
    )
    assert torch.equal(allowed, expected)


def test_local_point_mask_adds_the_time_window():
    allowed = point_mask(TIME, MASK, window=1.0)[0]
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [0, 0, 1, 1, 0],
            [0, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(allowed, expected)


def test_meta_token_is_seen_only_in_global_layers_and_sees_only_itself():
    points = point_mask(TIME, MASK, window=None)
    local = add_meta_token(points, points_see_meta=False)[0]
    global_ = add_meta_token(points, points_see_meta=True)[0]
    for allowed in (local, global_):
        assert allowed.shape == (6, 6)
        assert torch.equal(allowed[0], torch.eye(6, dtype=torch.bool)[0])
        assert torch.equal(allowed[1:, 1:], points[0])
    assert not local[1:, 0].any()
    assert global_[1:, 0].all()


def test_layer_masks_order_local_then_global():
    masks = layer_masks(TIME, MASK, local_windows=(1.0, 10.0), n_layers=4, with_meta=True)
    assert [m.shape for m in masks] == [(1, 1, 6, 6)] * 4
    assert not masks[0][0, 0, 1:, 0].any() and not masks[1][0, 0, 1:, 0].any()
    assert masks[2] is masks[3] and masks[3][0, 0, 1:, 0].all()
    assert not masks[1][0, 0, 5, 1]  # 20 days apart: outside the 10-day window
    assert masks[3][0, 0, 5, 1]


def test_layer_masks_equal_each_windows_own_point_mask():
    torch.manual_seed(0)
    time = torch.sort(torch.rand(8, 40) * 30, dim=1).values
    valid = torch.rand(8, 40) > 0.2
    windows = (0.5, 3.0)
    for with_meta in (False, True):
        masks = layer_masks(time, valid, local_windows=windows, n_layers=4, with_meta=with_meta)
        for layer, window in enumerate((*windows, None, None)):
            expected = point_mask(time, valid, window=window)
            if with_meta:
                expected = add_meta_token(expected, points_see_meta=window is None)
            assert torch.equal(masks[layer][:, 0], expected)


def test_explicit_weights_match_sdpa_and_vanish_where_masked():
    attention = MaskedSelfAttention(16, n_heads=2, head_dim=8, dropout=0.0)
    x = torch.randn(1, 5, 16)
    mask = point_mask(TIME, MASK, window=1.0).unsqueeze(1)
    fast, none = attention(x, mask)
    explicit, weights = attention(x, mask, return_weights=True)
    assert none is None
    torch.testing.assert_close(fast, explicit)
    assert weights.shape == (1, 2, 5, 5)
    assert (weights[mask.expand_as(weights).logical_not()] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 2, 5))


def test_attention_backward_is_finite_with_padding_rows():
    attention = MaskedSelfAttention(16, n_heads=2, head_dim=8, dropout=0.0)
    x = torch.randn(1, 5, 16, requires_grad=True)
    mask = point_mask(TIME, torch.zeros_like(MASK), window=1.0).unsqueeze(1)
    out, _ = attention(x, mask)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
