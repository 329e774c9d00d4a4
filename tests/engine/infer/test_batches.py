import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info

from engine.data.batching import collate
from engine.infer.batches import (
    InferenceSettings,
    last_outputs,
    length_sorted_batches,
    physical_cores,
    torch_threads,
)
from engine.models.atcat.model import gather_last

lengths_strategy = st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=200)


@settings(max_examples=50, deadline=None)
@given(
    lengths=lengths_strategy,
    max_tokens=st.integers(min_value=1, max_value=5000),
    max_batch=st.integers(min_value=1, max_value=64),
)
def test_length_sorted_batches_cover_every_object_once_within_budget(
    lengths, max_tokens, max_batch
):
    lengths = np.array(lengths)
    batches = length_sorted_batches(
        lengths, max_points=256, max_tokens=max_tokens, max_batch=max_batch
    )
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(len(lengths)))
    capped = np.minimum(lengths, 256)
    longest = [capped[b].max() for b in batches]
    assert longest == sorted(longest, reverse=True)
    for batch, width in zip(batches, longest, strict=True):
        assert len(batch) <= max_batch
        # a single object longer than the budget still gets its own batch
        assert len(batch) == 1 or len(batch) * width <= max_tokens


@pytest.mark.parametrize(
    "changes",
    [{"precision": "fp16"}, {"max_tokens": 0}, {"max_batch": 0}, {"threads": 0}],
)
def test_settings_reject_bad_values(changes):
    with pytest.raises(ValueError, match=next(iter(changes))):
        InferenceSettings(**changes)


def test_fast_settings_use_auto_precision_and_physical_cores():
    fast = InferenceSettings.fast(max_tokens=1000)
    assert (fast.precision, fast.threads, fast.max_tokens) == ("auto", physical_cores(), 1000)
    assert 1 <= physical_cores() <= os.cpu_count()


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_torch_threads_sets_torch_caps_blas_and_restores():
    before, blas_before = torch.get_num_threads(), _blas_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        assert all(n == 1 for n in _blas_threads())
    assert torch.get_num_threads() == before
    assert _blas_threads() == blas_before
    with torch_threads(None):
        assert torch.get_num_threads() == before


@pytest.fixture(scope="module")
def packed(predictor, sample_table):
    return predictor.pack(sample_table.head(40))


def _plain(model, packed):
    """The plain path: every object in one fp32 batch in table order, padded to the longest."""
    config = model.config
    batch = collate(
        packed,
        np.arange(len(packed)),
        max_points=config.max_points,
        metadata_names=config.metadata_names,
    )
    with torch.no_grad():
        out = model(batch)
    return (
        gather_last(out.class_logits, batch.mask).numpy(),
        gather_last(out.hidden, batch.mask).numpy(),
    )


def test_fast_path_matches_plain_path_in_fp32(predictor, packed):
    model = predictor.model
    small = InferenceSettings(precision="fp32", max_tokens=300, max_batch=7, threads=1)
    logits, hidden = last_outputs(model.last_point, packed, small, config=model.config)
    plain_logits, plain_hidden = _plain(model, packed)
    assert (
        len(length_sorted_batches(packed.lengths, max_points=64, max_tokens=300, max_batch=7)) > 3
    )
    np.testing.assert_allclose(logits, plain_logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(hidden, plain_hidden, rtol=1e-4, atol=1e-5)


def test_fast_path_matches_plain_path_within_bf16_tolerance(predictor, packed):
    model = predictor.model
    fast = InferenceSettings(precision="bf16", max_tokens=300, threads=1)
    logits, hidden = last_outputs(model.last_point, packed, fast, config=model.config)
    plain_logits, plain_hidden = _plain(model, packed)
    # bfloat16 keeps 8 bits of mantissa: ~0.4 % per rounding, a few % after 3 layers
    scale = np.abs(plain_hidden).max()
    np.testing.assert_allclose(hidden, plain_hidden, atol=0.05 * scale)
    np.testing.assert_allclose(
        torch.softmax(torch.from_numpy(logits), -1).numpy(),
        torch.softmax(torch.from_numpy(plain_logits), -1).numpy(),
        atol=0.03,
    )
    assert logits.dtype == hidden.dtype == np.float32


def test_last_outputs_of_no_objects_have_the_right_shapes(predictor, packed):
    model = predictor.model
    empty = packed.subset(np.array([], dtype=np.int64))
    logits, hidden = last_outputs(model.last_point, empty, InferenceSettings(), config=model.config)
    assert logits.shape == (0, model.config.n_logits)
    assert hidden.shape == (0, model.config.d_model)


@pytest.mark.slow
def test_auto_precision_keeps_the_shipped_model_s_classes(sample_table):
    """``catscope score`` runs ``auto`` (bf16 on this CPU): on the 1,002-object sample it
    changed 5 predicted classes and no probability by more than 0.051 (2026-12-03)."""
    from engine.infer import load_predictor

    full, auto = (
        load_predictor("atcat-plasticc", settings=InferenceSettings(precision=p)).predict(
            sample_table
        )
        for p in ("fp32", "auto")
    )
    columns = [c for c in full.columns if c.startswith("p_")]
    change = np.abs(full.select(columns).to_numpy() - auto.select(columns).to_numpy())
    assert (full["pred_class"] == auto["pred_class"]).mean() >= 0.99
    assert change.max() < 0.1
