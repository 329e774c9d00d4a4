"""Astromer 2's objective: predict probed magnitudes, scored by an error-weighted RMSE.

Notation: ``S`` single-band windows, ``W`` points per window, ``n`` real points of a window.

Probing (paper section 2.3). In every window, ``round(probe_fraction · n)`` random points are
probed (at least one when ``n >= 2``, and never all, so one point stays visible). Of the probed
points, ``masked_share`` get the [MASK] token and are hidden from attention, ``random_share``
get the magnitude of a random point of the same window (a realistic wrong value), and the rest
keep their magnitude. With the defaults that is the paper's 50 % probed = 30 % masked + 10 %
random + 10 % kept. Windows of one point are not probed.

Loss (paper eq. 5). The squared errors of the probed points are weighted by the reciprocal of
their magnitude errors normalised to (0, 1] (divided by the window's largest error, errors
floored at ``error_floor``), and ``sqrt(Σ w r² / Σ w)`` is returned: a weighted RMSE in
magnitudes. The paper divides by the number of samples instead of the weights; dividing by the
weights keeps the value an RMSE whatever the batch holds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from engine.data.batching import Batch
from engine.models.astromer2.model import Astromer2
from engine.training.objectives.base import Objective
from engine.training.objectives.settings import MaskedMagnitudeConfig

if TYPE_CHECKING:
    from engine.training.config import TrainConfig
    from engine.training.data import TrainingData


@dataclass(frozen=True)
class Probe:
    """Which points of each window are probed, and how; (S, W) bool each.

    ``masked`` and ``randomised`` are disjoint subsets of ``probed``; the rest of ``probed``
    is kept as observed.
    """

    probed: torch.Tensor
    masked: torch.Tensor
    randomised: torch.Tensor


def probe_points(
    mask: torch.Tensor,
    *,
    probe_fraction: float,
    masked_share: float,
    random_share: float,
    generator: torch.Generator | None = None,
) -> Probe:
    """Draw the probed, masked and randomised points of windows with real points ``mask``."""
    n = mask.sum(dim=1).float()  # (S,)
    n_probe = torch.round(probe_fraction * n).clamp(max=n - 1).clamp_min(0)
    n_probe = torch.where(n >= 2, n_probe.clamp_min(1), 0.0)
    n_masked = torch.round(masked_share * n_probe)
    n_random = torch.minimum(torch.round(random_share * n_probe), n_probe - n_masked)
    scores = torch.rand(mask.shape, generator=generator, device=mask.device)
    scores = scores.masked_fill(~mask, 2.0)  # padding ranks after every real point
    rank = scores.argsort(dim=1).argsort(dim=1).float()  # (S, W) a random order of the points
    return Probe(
        probed=rank < n_probe[:, None],
        masked=rank < n_masked[:, None],
        randomised=(rank >= n_masked[:, None]) & (rank < (n_masked + n_random)[:, None]),
    )


def weighted_rmse(
    prediction: torch.Tensor,
    target: torch.Tensor,
    error: torch.Tensor,
    mask: torch.Tensor,
    probed: torch.Tensor,
    *,
    error_floor: float,
) -> torch.Tensor:
    """Error-weighted RMSE over the probed points (see the module docstring); (S, W) -> ()."""
    error = error.float().clamp_min(error_floor)
    largest = torch.where(mask, error, 0.0).amax(dim=1, keepdim=True)  # (S, 1)
    weight = torch.where(probed, largest / error, 0.0)  # 1 / (error normalised to (0, 1])
    squared = (prediction.float() - target.float()) ** 2
    # the epsilon keeps the gradient finite when a batch has no probed point
    return torch.sqrt((weight * squared).sum() / weight.sum().clamp_min(1e-12) + 1e-12)


class Astromer2Objective(Objective):
    """Unlabelled masked-magnitude pretraining of :class:`Astromer2`."""

    family = "astromer2"

    def build_model(self, config: TrainConfig, data: TrainingData) -> Astromer2:
        """Build a fresh model from ``config.model`` (nothing is fitted on the data)."""
        torch.manual_seed(config.seed)
        return Astromer2(config.model)

    def losses(
        self,
        model: Astromer2,
        inputs: Batch,
        target: torch.Tensor | None,
        config: MaskedMagnitudeConfig,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """``rmse_weighted`` (the loss, = ``total``) and the plain ``rmse`` of probed points."""
        windows = model.windows(inputs)
        probe = probe_points(
            windows.mask,
            probe_fraction=config.probe_fraction,
            masked_share=config.masked_share,
            random_share=config.random_share,
            generator=generator,
        )
        # randomised points take the magnitude of a uniformly drawn point of their window
        draw = torch.rand(windows.mask.shape, generator=generator, device=windows.mask.device)
        source = (draw * windows.lengths[:, None]).long().clamp(max=windows.mask.shape[1] - 1)
        shown = torch.where(
            probe.randomised, windows.magnitude.gather(1, source), windows.magnitude
        )
        output = model(replace(windows, magnitude=shown), hidden=probe.masked)
        loss = weighted_rmse(
            output.magnitude,
            windows.magnitude,
            windows.magnitude_err,
            windows.mask,
            probe.probed,
            error_floor=config.error_floor,
        )
        squared = torch.where(
            probe.probed, (output.magnitude.float() - windows.magnitude) ** 2, 0.0
        )
        rmse = torch.sqrt(squared.sum() / probe.probed.sum().clamp_min(1))
        return {"rmse_weighted": loss, "rmse": rmse.detach(), "total": loss}
