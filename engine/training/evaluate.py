"""Validation metrics of a model during training: macro F1 at the last point and next-point NLL.

Two F1 scores are reported (see :mod:`engine.evaluation.metrics`): plain macro F1, and the
class-balanced macro F1 of paper section 2.3.1, which does not depend on the class mix of the
validation set; checkpoints are chosen by the latter. The predicted class is the most probable
real class (the "unsure" logit is ignored). A model with metadata is scored both with and
without it (``f1_no_metadata``), since it is trained to work either way.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.data.batching import collate
from engine.evaluation.metrics import macro_f1_scores
from engine.models.atcat.model import ATCAT, gather_last
from engine.training.data import Split
from engine.training.losses import generative_loss
from engine.training.sampler import ordered_batches


def _autocast(device: torch.device, bf16: bool) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)


@torch.no_grad()
def evaluate(
    model: ATCAT,
    split: Split,
    *,
    batch_size: int,
    device: torch.device,
    bf16: bool,
) -> dict[str, float]:
    """Metrics of ``model`` on ``split``, in eval mode (training mode is restored after)."""
    was_training = model.training
    model.eval()
    config = model.config
    curves = split.model_curves
    lengths = np.minimum(curves.lengths, config.max_points)
    variants = {"": config.metadata_names}
    if config.metadata_names:
        variants["_no_metadata"] = ()
    predictions: dict[str, list[np.ndarray]] = {suffix: [] for suffix in variants}
    order: list[np.ndarray] = []
    nll_sum, nll_count = 0.0, 0
    for index in ordered_batches(lengths, batch_size):
        order.append(index)
        for suffix, names in variants.items():
            batch = collate(curves, index, max_points=config.max_points, metadata_names=names).to(
                device
            )
            with _autocast(device, bf16):
                outputs = model(batch)
                if suffix == "":
                    pairs = int((batch.mask[:, 1:]).sum())
                    nll_sum += float(generative_loss(model, outputs.hidden, batch)) * pairs
                    nll_count += pairs
            if config.class_names:
                last = gather_last(outputs.class_logits, batch.mask)[:, : len(config.class_names)]
                predictions[suffix].append(last.argmax(dim=-1).cpu().numpy())
    model.train(was_training)
    metrics = {"next_nll": nll_sum / max(nll_count, 1)}
    if config.class_names and split.labels is not None:
        labels = split.labels[np.concatenate(order)]
        for suffix, predicted in predictions.items():
            scores = macro_f1_scores(labels, np.concatenate(predicted), len(config.class_names))
            metrics[f"f1{suffix}"] = scores.macro
            metrics[f"balanced_f1{suffix}"] = scores.class_balanced
    return metrics
