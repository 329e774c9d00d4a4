"""RTF's objective: reconstruct the photometry from the latent, optionally classify it too.

Training light curves are cut to their first ``n ~ U{3, L}`` points (``truncate_rate`` of them,
after the ``[augment]`` augmentations), so one model serves any number of detections. The loss
is ``mse + wavelength · wavelength_mse + classification · cross_entropy``: the MSE of the four
standardised photometric channels and of the wavelength channel over the real points (see
:mod:`engine.models.rtf.model`), and the cross-entropy of the class head when the run
classifies. Validation reconstructs whole (untruncated) curves.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.nn import functional as F

from engine.data.batching import Batch, collate
from engine.data.packed import PackedLightCurves
from engine.models.rtf.model import N_PHOTOMETRY, RTF
from engine.training.augment import augment
from engine.training.metadata import MetadataScaler
from engine.training.objectives.base import Objective
from engine.training.objectives.settings import AutoencoderConfig
from engine.training.objectives.views import truncate

if TYPE_CHECKING:
    from engine.training.config import TrainConfig
    from engine.training.data import TrainingData


def masked_channel_mse(
    reconstruction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, channels: slice
) -> torch.Tensor:
    """Mean squared error of ``channels`` of (B, T, K) over the real points of mask (B, T)."""
    squared = (reconstruction.float() - target.float())[..., channels] ** 2  # (B, T, k)
    per_point = squared.mean(dim=-1)
    return torch.where(mask, per_point, 0.0).sum() / mask.sum().clamp_min(1)


class RTFObjective(Objective):
    """Reconstruction (and joint classification) training of :class:`RTF`."""

    family = "rtf"

    def build_model(self, config: TrainConfig, data: TrainingData) -> RTF:
        """Classes come from the data when the run classifies; channel scaling from its points."""
        classes = data.class_names if config.loss.classifies else ()
        model_config = replace(config.model, class_names=classes)
        torch.manual_seed(config.seed)
        model = RTF(model_config)
        train = data.train.curves
        model.fit_channels(
            collate(train, np.arange(len(train)), max_points=model_config.max_points)
        )
        return model

    def make_inputs(
        self,
        curves: PackedLightCurves,
        index: np.ndarray,
        rng: np.random.Generator,
        config: TrainConfig,
        model: RTF,
        device: torch.device,
        *,
        training: bool,
        scaler: MetadataScaler | None = None,
    ) -> Batch:
        """Augmented, truncated curves when training; whole curves for validation."""
        chosen = curves.subset(index)
        if training:
            chosen = augment(chosen, rng, config.augment, scaler=scaler).curves
            chosen = truncate(
                chosen, rng, rate=config.loss.truncate_rate, min_points=config.loss.min_points
            )
        return collate(chosen, np.arange(len(index)), max_points=model.config.max_points).to(device)

    def losses(
        self,
        model: RTF,
        inputs: Batch,
        target: torch.Tensor | None,
        config: AutoencoderConfig,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """``mse``, ``wavelength_mse``, ``cross_entropy`` (with a class head) and ``total``."""
        output = model(inputs)
        terms = {
            "mse": masked_channel_mse(
                output.reconstruction, output.target, inputs.mask, slice(0, N_PHOTOMETRY)
            ),
            "wavelength_mse": masked_channel_mse(
                output.reconstruction, output.target, inputs.mask, slice(N_PHOTOMETRY, None)
            ),
        }
        total = terms["mse"] + config.wavelength * terms["wavelength_mse"]
        if output.class_logits is not None and config.classification > 0:
            if target is None:
                msg = "the classification term needs class labels (target), got None"
                raise ValueError(msg)
            terms["cross_entropy"] = F.cross_entropy(output.class_logits.float(), target)
            total = total + config.classification * terms["cross_entropy"]
        terms["total"] = total
        return terms
