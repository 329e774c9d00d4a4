"""The interface between the trainer and a model family: build, feed, score, validate.

The trainer (:mod:`engine.training.trainer`) owns everything generic: config, seeds, data,
sampling, optimizer, schedule, checkpoints and export. An :class:`Objective` owns what depends
on the family:

* :meth:`~Objective.build_model`: a fresh model from the run config and the training data;
* :meth:`~Objective.make_inputs`: the model inputs of a batch of objects (augmentations, views,
  truncations), drawing only from the NumPy generator it is given, from curves with raw
  metadata that the split's scaler scales after augmentation;
* :meth:`~Objective.losses`: the loss terms and their weighted ``"total"``; random draws inside
  (masks) use ``generator``, or torch's global generator, which the trainer seeds every step;
* :meth:`~Objective.validate` and :meth:`~Objective.score`: validation metrics, and the single
  number (higher is better) that picks the exported checkpoint.

So a resumed run repeats the uninterrupted run's random draws exactly, whatever the family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from engine.data.packed import PackedLightCurves
from engine.training.augment import AugmentConfig, collate_augmented
from engine.training.metadata import MetadataScaler
from engine.training.sampler import ordered_batches

if TYPE_CHECKING:
    from engine.training.config import TrainConfig
    from engine.training.data import Split, TrainingData


def autocast(device: torch.device, bf16: bool) -> torch.autocast:
    """bfloat16 autocast on ``device`` when ``bf16``, else a disabled context."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)


class Objective(ABC):
    """What training a model family means; one stateless instance per family."""

    family: ClassVar[str]

    @abstractmethod
    def build_model(self, config: TrainConfig, data: TrainingData) -> nn.Module:
        """Build a fresh model, seeded from ``config.seed``; input statistics are fitted on data."""

    def metadata_names(self, model: nn.Module) -> tuple[str, ...]:
        """Metadata columns the model reads (none unless the family has a metadata token)."""
        return ()

    def make_inputs(
        self,
        curves: PackedLightCurves,
        index: np.ndarray,
        rng: np.random.Generator,
        config: TrainConfig,
        model: nn.Module,
        device: torch.device,
        *,
        training: bool,
        scaler: MetadataScaler | None = None,
    ) -> Any:
        """Model inputs of objects ``index``; by default the augmented padded :class:`Batch`.

        ``training=False`` (validation) must give inputs that depend only on ``rng``'s seed.
        ``curves`` carry raw metadata; ``scaler`` scales it after augmentation.
        """
        augment = config.augment if training else AugmentConfig.none()
        return collate_augmented(
            curves,
            index,
            rng,
            augment,
            max_points=model.config.max_points,
            metadata_names=self.metadata_names(model),
            scaler=scaler,
        ).to(device)

    @abstractmethod
    def losses(
        self,
        model: nn.Module,
        inputs: Any,
        target: torch.Tensor | None,
        config: Any,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Every loss term (unweighted, for logging) plus their weighted sum ``"total"``.

        ``config`` is the run's ``[loss]`` table; ``target`` (B,) class indices or None.
        """

    def validate(
        self, model: nn.Module, split: Split, config: TrainConfig, device: torch.device
    ) -> dict[str, float]:
        """Mean loss terms over the whole split, with fixed random draws (see module doc)."""
        return average_losses(self, model, split, config, device)

    def score(self, metrics: dict[str, float], model: nn.Module) -> float:
        """Checkpoint-selection score, higher is better: minus the validation total loss."""
        return -metrics["total"]


@torch.no_grad()
def average_losses(
    objective: Objective, model: nn.Module, split: Split, config: TrainConfig, device: torch.device
) -> dict[str, float]:
    """Object-weighted mean of each loss term over ``split``, in eval mode.

    Inputs come from ``make_inputs(training=False)`` with a generator seeded by the run's seed,
    and masks from a torch generator seeded the same way, so every validation of a run sees
    the same views and masks and the scores are comparable across steps.
    """
    was_training = model.training
    model.eval()
    rng = np.random.default_rng([config.seed, 0xFA11])
    generator = torch.Generator(device=device).manual_seed(config.seed)
    lengths = np.minimum(split.curves.lengths, model.config.max_points)
    sums: dict[str, float] = defaultdict(float)
    for index in ordered_batches(lengths, config.batch_size):
        inputs = objective.make_inputs(
            split.curves, index, rng, config, model, device, training=False, scaler=split.scaler
        )
        target = None
        if split.labels is not None:
            target = torch.from_numpy(split.labels[index]).to(device)
        with autocast(device, config.bf16):
            terms = objective.losses(model, inputs, target, config.loss, generator=generator)
        for name, value in terms.items():
            sums[name] += float(value) * len(index)
    model.train(was_training)
    return {name: total / len(split) for name, total in sums.items()}
