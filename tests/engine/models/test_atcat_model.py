from dataclasses import replace

import pytest
import torch

from engine.models.atcat import ATCAT, ATCATConfig, gather_last, next_point_queries


@pytest.fixture
def model(small_config) -> ATCAT:
    return ATCAT(small_config).eval()


def perturb(batch, k, *, dt=0.4, factor=50.0):
    """The same batch with point k's time moved later by dt and its flux scaled."""
    time, flux = batch.time.clone(), batch.flux.clone()
    time[:, k] += dt
    flux[:, k] = flux[:, k] * factor + 100.0
    return replace(batch, time=time, flux=flux)


def test_output_shapes(model, small_config, make_batch):
    batch = make_batch([7, 3, 1], n_metadata=2)
    out = model(batch, return_attention=True)
    assert out.hidden.shape == (3, 7, 32)
    assert out.class_logits.shape == (3, 7, len(small_config.class_names) + 1)
    assert len(out.attention) == 4 and out.attention[0].shape == (3, 2, 8, 8)
    assert model(batch).attention is None


@pytest.mark.parametrize("k", [1, 4, 8])
def test_future_points_never_change_earlier_outputs(model, make_batch, k):
    batch = make_batch([10, 10], n_metadata=2, span=20.0)
    before, after = model(batch), model(perturb(batch, k))
    torch.testing.assert_close(after.hidden[:, :k], before.hidden[:, :k])
    torch.testing.assert_close(after.class_logits[:, :k], before.class_logits[:, :k])
    assert not torch.allclose(after.hidden[:, k:], before.hidden[:, k:])


def test_local_layers_only_reach_the_sum_of_their_windows(make_batch):
    # Two local layers (1 day, then 10 days): information travels at most 1 + 10 = 11 days.
    model = ATCAT(ATCATConfig(d_model=32, n_layers=2, n_heads=2, head_dim=8)).eval()
    batch = make_batch([6])
    batch = replace(batch, time=torch.tensor([[0.0, 0.5, 6.0, 10.4, 11.6, 30.0]]))
    before, after = model(batch), model(perturb(batch, 0, dt=0.0))
    changed = (after.hidden - before.hidden).abs().amax(dim=-1)[0]
    # 10.4 is reached only through the point at 0.5 (within 1 day of t=0, 9.9 days before it)
    assert (changed[:4] > 1e-4).all()
    assert (changed[4:] == 0).all()  # 11.6 and 30 days later: never reached


def pad_with_garbage(batch, extra):
    """The same batch with ``extra`` more padding columns holding large random values."""

    def pad(values):
        junk = torch.rand(values.shape[0], extra) * 1e5
        return torch.cat([values, junk.to(values.dtype)], dim=1)

    mask = torch.cat([batch.mask, torch.zeros(batch.mask.shape[0], extra, dtype=torch.bool)], 1)
    return replace(
        batch,
        time=pad(batch.time),
        flux=pad(batch.flux),
        flux_err=pad(batch.flux_err),
        wavelength=pad(batch.wavelength),
        mask=mask,
    )


def test_padding_never_changes_real_outputs(model, make_batch):
    short = make_batch([5, 2], n_metadata=2, seed=3)
    padded = pad_with_garbage(short, 7)
    a, b = model(short), model(padded)
    for row, n in enumerate([5, 2]):
        torch.testing.assert_close(b.hidden[row, :n], a.hidden[row, :n])
        torch.testing.assert_close(b.class_logits[row, :n], a.class_logits[row, :n])
    torch.testing.assert_close(model.embed(padded), model.embed(short))


def test_single_points_and_empty_rows_stay_finite_forward_and_backward(small_config, make_batch):
    model = ATCAT(small_config).train()
    model.mixture.fit(torch.randn(1000) * 100)
    batch = make_batch([1, 0, 3], n_metadata=2, width=4)
    out = model(batch, return_attention=True)
    queries = next_point_queries(batch)
    logits = model.next_flux_logits(
        out.hidden, queries.delta_time, queries.wavelength, queries.flux_err
    )
    nll = -model.mixture.log_prob_flux(logits, queries.target_flux, queries.flux_err)
    loss = out.class_logits.logsumexp(-1).sum() + nll[queries.valid].sum()
    loss.backward()
    assert torch.isfinite(out.hidden).all() and torch.isfinite(nll).all()
    assert all(torch.isfinite(a).all() for a in out.attention)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_meta_token_visibility(model, make_batch):
    batch = make_batch([6, 4], n_metadata=2, span=5.0)
    attention = model(batch, return_attention=True).attention
    for layer, weights in enumerate(attention):
        assert (weights[:, :, 0, 1:] == 0).all()  # [META] only sees itself
        seen_by_points = weights[:, :, 1:, 0]
        if layer < 2:
            assert (seen_by_points == 0).all()  # local layers hide [META]
        else:
            assert (seen_by_points[0] > 0).all()  # every point of a full row sees [META]
    other = replace(batch, metadata=batch.metadata + 1.0)
    assert not torch.allclose(model(other).hidden, model(batch).hidden)


def test_metadata_reaches_points_only_through_global_layers(make_batch):
    config = ATCATConfig(d_model=32, n_layers=2, n_heads=2, head_dim=8, metadata_names=("z", "e"))
    local_only = ATCAT(config).eval()
    batch = make_batch([5], n_metadata=2)
    other = replace(batch, metadata=batch.metadata + 1.0)
    torch.testing.assert_close(local_only(other).hidden, local_only(batch).hidden, rtol=0, atol=0)


def test_missing_metadata_is_the_all_nan_path(model, make_batch):
    batch = make_batch([4, 2], n_metadata=2)
    none = model(replace(batch, metadata=None)).hidden
    nan = model(replace(batch, metadata=torch.full_like(batch.metadata, float("nan")))).hidden
    torch.testing.assert_close(none, nan, rtol=0, atol=0)
    assert torch.isfinite(none).all()


def test_inputs_are_checked(model, make_batch):
    with pytest.raises(ValueError, match="max_points=64"):
        model(make_batch([65]))
    no_meta = ATCAT(ATCATConfig(d_model=32, n_heads=2, head_dim=8)).eval()
    with pytest.raises(ValueError, match="metadata"):
        no_meta(make_batch([3], n_metadata=2))


def test_next_point_queries_and_gather_last(make_batch):
    batch = make_batch([4, 2], width=5)
    queries = next_point_queries(batch)
    torch.testing.assert_close(queries.target_flux[0, :3], batch.flux[0, 1:4])
    torch.testing.assert_close(queries.delta_time[0, :3], batch.time[0, 1:4] - batch.time[0, :3])
    assert queries.valid.tolist() == [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0]]
    values = torch.arange(10.0).view(2, 5, 1).expand(2, 5, 3)
    assert gather_last(values, batch.mask)[:, 0].tolist() == [3.0, 6.0]
    assert gather_last(batch.flux, batch.mask).tolist() == [batch.flux[0, 3], batch.flux[1, 1]]


@pytest.mark.parametrize("n_metadata", [0, 2])
def test_last_point_matches_the_full_forward_at_the_last_point(
    small_config, make_batch, n_metadata
):
    names = small_config.metadata_names[:n_metadata]
    model = ATCAT(replace(small_config, metadata_names=names)).eval()
    batch = make_batch([9, 4, 1, 9], n_metadata=n_metadata, span=30.0)
    full = model(batch)
    logits, hidden = model.last_point(batch)
    torch.testing.assert_close(hidden, gather_last(full.hidden, batch.mask))
    torch.testing.assert_close(logits, gather_last(full.class_logits, batch.mask))
    torch.testing.assert_close(model.embed(batch), hidden)


@pytest.mark.parametrize("n_metadata", [0, 2])
def test_decode_steps_match_the_full_forward_at_every_new_point(
    small_config, make_batch, n_metadata
):
    names = small_config.metadata_names[:n_metadata]
    model = ATCAT(replace(small_config, metadata_names=names)).eval()
    # local windows of 1-10 days over 20 days: the new point's local rows are partial
    whole = make_batch([12, 12], n_metadata=n_metadata, span=20.0)
    cache = None
    for length in range(8, 13):
        prefix = replace(whole, **{name: getattr(whole, name)[:, :length] for name in
                                   ("time", "flux", "flux_err", "wavelength", "mask")})  # fmt: skip
        hidden, cache = model.decode_step(prefix, cache)
        torch.testing.assert_close(hidden, model(prefix).hidden[:, -1])
        meta = 1 if n_metadata else 0  # the [META] token
        assert [c.shape[1] for c in cache] == [length + meta] * small_config.n_layers


def test_decode_step_refuses_padding(model, make_batch):
    with pytest.raises(ValueError, match="without padding"):
        model.decode_step(make_batch([5, 3], n_metadata=2))


def test_block_rows_match_the_full_block(model, make_batch):
    batch = make_batch([8, 5], n_metadata=2)
    tokens, masks = model._tokens(batch)
    rows = torch.tensor([[3, 8], [0, 5]])
    full, _ = model.blocks[0](tokens, masks[0])
    some, _ = model.blocks[0](tokens, masks[0], rows=rows)
    torch.testing.assert_close(some, full.gather(1, rows[..., None].expand(-1, -1, full.shape[-1])))


def test_bf16_autocast_is_close_to_fp32(model, make_batch):
    batch = make_batch([20, 9], n_metadata=2)
    reference = model(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(batch)
        logits = model.next_flux_logits(low.hidden, batch.time, batch.wavelength, batch.flux_err)
    assert torch.isfinite(logits).all()
    scale = reference.class_logits.abs().max()
    error = (low.class_logits.float() - reference.class_logits).abs().max()
    assert error < 0.05 * scale


@pytest.mark.slow
def test_forward_compiles(model, make_batch):
    batch = make_batch([12, 5], n_metadata=2)
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(compiled(batch).class_logits, model(batch).class_logits)
    last_point = torch.compile(model.last_point, fullgraph=True)
    torch.testing.assert_close(last_point(batch), model.last_point(batch))
