"""Losses: soft F1 against sklearn, masking of the early-detection loss, focal weights, and a
generative loss that a small model can overfit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from engine.data.batching import collate
from engine.data.packed import PackedLightCurves
from engine.models.atcat import ATCAT, ATCATConfig
from engine.training.losses import (
    LossConfig,
    early_detection_loss,
    generative_loss,
    last_point_log_loss,
    soft_f1_loss,
    training_losses,
)


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def _mask(lengths: list[int], width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("weighting", ["balanced", "uniform"])
def test_soft_f1_is_one_minus_f1_for_one_hot_predictions(weighting):
    rng = np.random.default_rng(0)
    n_classes, batch, width = 5, 40, 6
    target = rng.integers(0, 4, batch)  # class 4 never present
    predicted = rng.integers(0, n_classes + 1, batch)  # includes "unsure" (index 5)
    lengths = rng.integers(1, width + 1, batch)
    logits = torch.randn(batch, width, n_classes + 1)
    rows = torch.arange(batch)
    logits[rows, torch.from_numpy(lengths) - 1] = 0.0
    logits[rows, torch.from_numpy(lengths) - 1, torch.from_numpy(predicted)] = 200.0
    loss = soft_f1_loss(
        logits, _mask(lengths.tolist(), width), torch.from_numpy(target), weighting=weighting
    )
    weight = 1.0 / np.bincount(target)[target] if weighting == "balanced" else None
    expected = f1_score(
        target, predicted, labels=np.unique(target), average="macro", sample_weight=weight
    )
    assert float(loss) == pytest.approx(1.0 - expected, abs=1e-6)


def test_soft_f1_is_differentiable():
    logits = torch.randn(8, 3, 4, requires_grad=True)
    loss = soft_f1_loss(
        logits, _mask([3, 1, 2, 3, 3, 2, 1, 3], 3), torch.tensor([0, 1, 2] * 2 + [0, 1])
    )
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_last_point_log_loss_reads_only_the_last_real_point():
    logits = torch.randn(3, 5, 4)
    mask = _mask([5, 2, 1], 5)
    target = torch.tensor([0, 3, 1])
    loss = last_point_log_loss(logits, mask, target)
    expected = torch.stack(
        [-torch.log_softmax(logits[b, i], -1)[target[b]] for b, i in enumerate([4, 1, 0])]
    ).mean()
    torch.testing.assert_close(loss, expected)


def test_early_detection_ignores_padding_and_first_point_and_averages_per_object():
    logits = torch.randn(2, 6, 3)
    mask = _mask([6, 3], 6)
    target = torch.tensor([2, 1])
    loss = early_detection_loss(logits, mask, target)
    changed = logits.clone()
    changed[:, 0] = torch.randn(2, 3) * 100  # first points
    changed[1, 3:] = torch.randn(3, 3) * 100  # padding
    torch.testing.assert_close(early_detection_loss(changed, mask, target), loss)
    nll = -torch.log_softmax(logits, -1)
    per_object = torch.stack([nll[0, 1:6, 2].mean(), nll[1, 1:3, 1].mean()])
    torch.testing.assert_close(loss, per_object.mean())  # not the mean over all 7 points


def test_early_detection_skips_single_point_objects():
    logits = torch.randn(2, 4, 3)
    loss = early_detection_loss(logits, _mask([1, 4], 4), torch.tensor([0, 1]))
    expected = -torch.log_softmax(logits[1, 1:4], -1)[:, 1].mean()
    torch.testing.assert_close(loss, expected)


def test_focal_weights_are_detached():
    logits = torch.randn(4, 2, 3, requires_grad=True)
    mask, target = _mask([2, 2, 1, 2], 2), torch.tensor([0, 1, 2, 0])
    focal = last_point_log_loss(logits, mask, target, focal_gamma=0.5)
    last = logits[torch.arange(4), torch.tensor([1, 1, 0, 1])]
    q = torch.softmax(last, -1)[torch.arange(4), target]
    torch.testing.assert_close(focal, (-((1 - q) ** 0.5) * q.log()).mean())
    (grad,) = torch.autograd.grad(focal, logits)
    expected = torch.autograd.grad((-((1 - q.detach()) ** 0.5) * q.log()).mean(), logits)[0]
    torch.testing.assert_close(grad, expected)


def _tiny_model(**overrides) -> ATCAT:
    config = ATCATConfig(
        d_model=32,
        n_layers=2,
        n_heads=2,
        head_dim=8,
        n_mixture=16,
        max_points=48,
        class_names=("flat", "rise", "wave"),
        **overrides,
    )
    return ATCAT(config)


def test_generative_loss_is_finite_and_overfits_a_toy_set(make_frame):
    curves = PackedLightCurves.from_frame(make_frame(6, seed=3, min_len=20))
    batch = collate(curves, np.arange(6), max_points=48)
    model = _tiny_model()
    model.mixture.fit(curves.flux.copy())  # from_frame arrays are read-only
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(60):
        loss = generative_loss(model, model(batch).hidden, batch)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < history[0] - 0.3


def test_training_losses_weights_and_early_detection_recipe(make_frame):
    curves = PackedLightCurves.from_frame(make_frame(6, seed=4))
    batch = collate(curves, np.arange(6), max_points=48)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    model = _tiny_model()
    outputs = model(batch)
    config = LossConfig(log_loss=0.5, soft_f1=2.0, early_detection=3.0, generative=0.25)
    terms = training_losses(model, outputs, batch, target, config)
    expected = (
        (0.5 + 3.0 / 3) * terms["log_loss"]
        + 2.0 * terms["soft_f1"]
        + 3.0 * terms["early_detection"]
        + 0.25 * terms["generative"]
    )
    torch.testing.assert_close(terms["total"], expected)
    only_generative = training_losses(
        model, outputs, batch, None, LossConfig(log_loss=0, soft_f1=0, generative=1.0)
    )
    assert set(only_generative) == {"generative", "total"}
    with pytest.raises(ValueError, match="need class labels"):
        training_losses(model, outputs, batch, None, LossConfig())


def test_loss_config_rejects_nothing_to_train():
    with pytest.raises(ValueError, match="nothing to train"):
        LossConfig(log_loss=0, soft_f1=0)
    with pytest.raises(ValueError, match="soft_f1_weighting"):
        LossConfig(soft_f1_weighting="macro")
