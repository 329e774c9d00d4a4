"""ATCAT's objective: classification, early-detection and next-flux losses (unchanged recipe).

This wraps the ATCAT training code that predates the other families
(:mod:`engine.training.losses`, :mod:`engine.training.evaluate`) without changing it: the same
inputs, random draws and losses, so ATCAT runs and their checkpoints are what they were.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from engine.data.batching import Batch
from engine.models.atcat.model import ATCAT
from engine.training.evaluate import evaluate
from engine.training.losses import LossConfig, training_losses
from engine.training.objectives.base import Objective

if TYPE_CHECKING:
    from engine.training.config import TrainConfig
    from engine.training.data import Split, TrainingData


class ATCATObjective(Objective):
    """Supervised (and generative) training of :class:`ATCAT`."""

    family = "atcat"

    def build_model(self, config: TrainConfig, data: TrainingData) -> ATCAT:
        """Classes, metadata and the mixture grid come from the training data."""
        model_config = replace(
            config.model, class_names=data.class_names, metadata_names=config.data.metadata_names
        )
        torch.manual_seed(config.seed)
        model = ATCAT(model_config)
        model.mixture.fit(data.train.curves.flux)
        return model

    def metadata_names(self, model: ATCAT) -> tuple[str, ...]:
        """Return the [META] token's features."""
        return model.config.metadata_names

    def losses(
        self,
        model: ATCAT,
        inputs: Batch,
        target: torch.Tensor | None,
        config: LossConfig,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """See :func:`engine.training.losses.training_losses` (nothing random here)."""
        return training_losses(model, model(inputs), inputs, target, config)

    def validate(
        self, model: ATCAT, split: Split, config: TrainConfig, device: torch.device
    ) -> dict[str, float]:
        """Macro F1 (with and without metadata) and next-point NLL, see :func:`evaluate`."""
        return evaluate(model, split, batch_size=config.batch_size, device=device, bf16=config.bf16)

    def score(self, metrics: dict[str, float], model: ATCAT) -> float:
        """Class-balanced macro F1 for a classifier, else minus the next-point NLL."""
        if model.config.class_names:
            return metrics["balanced_f1"]
        return -metrics["next_nll"]
