"""Astra-CLR's objective: generalised NT-Xent over three asymmetric views of each light curve.

Notation: ``V`` views, ``B`` objects, ``p`` projection width.

Views (built on packed curves, after the run's ``[augment]`` augmentations):

* anchor: a long contiguous window (``anchor_fraction`` of the points, default 60-100 %);
* positive: a short contiguous window (``positive_fraction``, default 20-50 %), so the model
  must map a part of a light curve near the whole ("local-to-global");
* hard positive: the whole curve with one corruption drawn uniformly per object: extra
  Gaussian noise, per-band time binning, or injected outliers.

Loss. With the ``V · B`` projections L2-normalised, every view is an anchor whose positives are
the other views of its object and whose negatives are all views of the other objects::

    loss_i = -1/|P(i)| Σ_{j ∈ P(i)} log( exp(s_ij / τ) / Σ_{k ≠ i} exp(s_ik / τ) )

averaged over all ``V · B`` views (SimCLR's NT-Xent for ``V = 2``; the multi-view form of
Astra-CLR's generalised NT-Xent). It is symmetric in the views by construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.nn import functional as F

from engine.data.batching import Batch, collate
from engine.data.packed import PackedLightCurves
from engine.models.astraclr.model import AstraCLR
from engine.training.augment import AugmentConfig, augment
from engine.training.metadata import MetadataScaler
from engine.training.objectives.base import Objective
from engine.training.objectives.settings import ContrastiveConfig
from engine.training.objectives.views import add_noise, bin_points, crop, inject_outliers

if TYPE_CHECKING:
    from engine.training.config import TrainConfig
    from engine.training.data import TrainingData

#: the view names, in the order of :func:`make_views`
VIEWS = ("anchor", "positive", "hard_positive")


def make_views(
    curves: PackedLightCurves, rng: np.random.Generator, config: ContrastiveConfig
) -> tuple[PackedLightCurves, PackedLightCurves, PackedLightCurves]:
    """Anchor, positive and hard positive of every object (see the module docstring)."""
    anchor = crop(curves, rng, fraction=config.anchor_fraction, min_points=config.min_points)
    positive = crop(curves, rng, fraction=config.positive_fraction, min_points=config.min_points)
    kind = rng.integers(0, 3, len(curves))  # 0 noise, 1 binning, 2 outliers
    hard = add_noise(curves, rng, kind == 0, scale=config.noise_scale)
    hard = bin_points(hard, kind == 1, days=config.bin_days)
    hard = inject_outliers(
        hard, rng, kind == 2, fraction=config.outlier_fraction, sigma=config.outlier_sigma
    )
    return anchor, positive, hard


def nt_xent(projections: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised NT-Xent loss of projections (V, B, p), and the view-retrieval accuracy.

    The accuracy is the fraction of views whose most similar other view belongs to the same
    object (a detached, easy-to-read companion of the loss).
    """
    n_views, n_objects, _ = projections.shape
    z = F.normalize(projections.float(), dim=-1).reshape(n_views * n_objects, -1)  # (V·B, p)
    itself = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(itself, float("-inf"))  # (V·B, V·B)
    owner = torch.arange(len(z), device=z.device) % n_objects
    positive = (owner[:, None] == owner[None, :]) & ~itself
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    per_view = -torch.where(positive, log_prob, 0.0).sum(dim=1) / positive.sum(dim=1)
    nearest = logits.detach().argmax(dim=1)
    accuracy = (owner[nearest] == owner).float().mean()
    return per_view.mean(), accuracy


class AstraCLRObjective(Objective):
    """Unlabelled contrastive pretraining of :class:`AstraCLR`."""

    family = "astraclr"

    def build_model(self, config: TrainConfig, data: TrainingData) -> AstraCLR:
        """Build a fresh model from ``config.model`` (nothing is fitted on the data)."""
        torch.manual_seed(config.seed)
        return AstraCLR(config.model)

    def make_inputs(
        self,
        curves: PackedLightCurves,
        index: np.ndarray,
        rng: np.random.Generator,
        config: TrainConfig,
        model: AstraCLR,
        device: torch.device,
        *,
        training: bool,
        scaler: MetadataScaler | None = None,
    ) -> tuple[Batch, ...]:
        """Build the three views of objects ``index``, padded batches in :data:`VIEWS` order.

        The augmentation's time shift is not applied: every view restarts at t = 0.
        """
        augmentation = config.augment if training else AugmentConfig.none()
        augmented = augment(curves.subset(index), rng, augmentation, scaler=scaler).curves
        everyone = np.arange(len(index))
        return tuple(
            collate(view, everyone, max_points=model.config.max_points).to(device)
            for view in make_views(augmented, rng, config.loss)
        )

    def losses(
        self,
        model: AstraCLR,
        inputs: tuple[Batch, ...],
        target: torch.Tensor | None,
        config: ContrastiveConfig,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """``nt_xent`` (= ``total``) and the detached ``view_accuracy``."""
        projections = torch.stack([model(view).projection for view in inputs])  # (V, B, p)
        loss, accuracy = nt_xent(projections, config.temperature)
        return {"nt_xent": loss, "view_accuracy": accuracy, "total": loss}
