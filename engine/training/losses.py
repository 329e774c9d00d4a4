"""ATCAT training losses (paper sections 2.3, 2.5, 2.6 and 2.7), all aware of padding.

Notation: ``B`` objects, ``T`` points (padded), ``C`` classes, ``K`` mixture components. The
classifier emits ``C + 1`` logits per point: the classes, then "unsure". ``mask`` (B, T) is True
on real points; padding is at the end, so an object's last point is at ``mask.sum(1) - 1``.
Targets are class indices in ``[0, C)``; the unsure logit is never a target but takes
probability mass from the classes, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch.nn import functional as F

from engine.data.batching import Batch
from engine.models.atcat.model import ATCAT, ATCATOutput, gather_last, next_point_queries
from engine.models.atcat.mog import squash, squash_err


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms and their options.

    Attributes
    ----------
    log_loss : weight of the log-loss at the last point
    soft_f1 : weight of ``1 - soft macro F1`` at the last point
    early_detection : weight of the per-point log-loss (all points but the first); the
        last-point log-loss is added with a third of this weight (paper section 2.6)
    generative : weight of the next-point flux negative log-likelihood (section 2.5)
    metadata_l1 : L1 penalty on the metadata encoder's input weights (section 2.2.2)
    focal_gamma : 0 for plain log-loss; > 0 for focal loss with detached weights
        ``(1 - q_true) ** gamma`` (section 2.7; the paper found 0.5 well calibrated)
    soft_f1_weighting : ``"balanced"`` weights each example by the inverse count of its class in
        the batch (the class-balanced confusion matrix of section 2.3.1), ``"uniform"`` does not
    """

    log_loss: float = 1.0
    soft_f1: float = 1.0
    early_detection: float = 0.0
    generative: float = 0.0
    metadata_l1: float = 0.0
    focal_gamma: float = 0.0
    soft_f1_weighting: Literal["balanced", "uniform"] = "balanced"

    def __post_init__(self) -> None:
        for name in ("log_loss", "soft_f1", "early_detection", "generative", "metadata_l1"):
            value = getattr(self, name)
            if not value >= 0.0:
                msg = f"loss weight {name} must be >= 0, got {value!r}"
                raise ValueError(msg)
        if not (self.classifies or self.generative > 0):
            msg = "log_loss, soft_f1, early_detection and generative are all 0: nothing to train"
            raise ValueError(msg)
        if not self.focal_gamma >= 0.0:
            msg = f"focal_gamma must be >= 0, got {self.focal_gamma!r}"
            raise ValueError(msg)
        if self.soft_f1_weighting not in ("balanced", "uniform"):
            msg = (
                f"soft_f1_weighting must be 'balanced' or 'uniform', got {self.soft_f1_weighting!r}"
            )
            raise ValueError(msg)

    @property
    def classifies(self) -> bool:
        """Whether any classification term is on (the run then needs labels)."""
        return self.log_loss > 0 or self.soft_f1 > 0 or self.early_detection > 0


def _nll(log_probs: torch.Tensor, target: torch.Tensor, focal_gamma: float) -> torch.Tensor:
    """Per-example negative log-likelihood of ``target``: (..., C + 1), (...) -> (...).

    With ``focal_gamma > 0`` each term is multiplied by ``(1 - q_true) ** gamma``, detached from
    the graph as the paper found slightly better.
    """
    log_q = log_probs.gather(-1, target[..., None]).squeeze(-1)
    if focal_gamma == 0.0:
        return -log_q
    weight = (1.0 - log_q.detach().exp()).clamp_min(0.0) ** focal_gamma
    return -weight * log_q


def last_point_log_loss(
    logits: torch.Tensor, mask: torch.Tensor, target: torch.Tensor, *, focal_gamma: float = 0.0
) -> torch.Tensor:
    """Mean log-loss of the classification at each object's last point: (B, T, C + 1) -> ()."""
    log_probs = F.log_softmax(gather_last(logits, mask).float(), dim=-1)  # (B, C + 1)
    return _nll(log_probs, target, focal_gamma).mean()


def soft_f1_loss(
    logits: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    *,
    weighting: Literal["balanced", "uniform"] = "balanced",
) -> torch.Tensor:
    """``1 -`` soft macro F1 at the last point, over the classes present in the batch.

    The confusion matrix counts softmax probabilities instead of hard predictions (section
    2.3.2): for class i, ``TP = Σ w q_i [y = i]``, predicted mass ``Σ w q_i``, actual mass
    ``Σ w [y = i]``, and ``F1_i = 2 TP / (predicted + actual)``. Mass on "unsure" counts as a
    miss. With one-hot predictions this is exactly ``1 -`` sklearn's macro F1 restricted to
    the present classes (with the same sample weights).
    """
    probs = F.softmax(gather_last(logits, mask).float(), dim=-1)  # (B, C + 1)
    n_classes = probs.shape[-1] - 1
    onehot = F.one_hot(target, n_classes).to(probs.dtype)  # (B, C)
    if weighting == "balanced":
        weight = 1.0 / onehot.sum(dim=0)[target]  # (B,) inverse class count in this batch
    else:
        weight = torch.ones_like(target, dtype=probs.dtype)
    q = probs[:, :n_classes] * weight[:, None]  # (B, C)
    true_positive = (q * onehot).sum(dim=0)
    actual = (onehot * weight[:, None]).sum(dim=0)
    f1 = 2.0 * true_positive / (q.sum(dim=0) + actual).clamp_min(1e-12)
    present = actual > 0
    return 1.0 - f1[present].mean()


def early_detection_loss(
    logits: torch.Tensor, mask: torch.Tensor, target: torch.Tensor, *, focal_gamma: float = 0.0
) -> torch.Tensor:
    """Log-loss at every real point except the first, averaged per object, then over objects.

    Per-object averaging keeps long light curves from dominating (section 2.6); objects with a
    single point have no term. Returns a scalar (0 when no object has two points).
    """
    log_probs = F.log_softmax(logits.float(), dim=-1)  # (B, T, C + 1)
    per_point = _nll(log_probs, target[:, None].expand(-1, logits.shape[1]), focal_gamma)  # (B, T)
    scored = mask.clone()
    scored[:, 0] = False
    count = scored.sum(dim=1)  # (B,)
    per_object = torch.where(scored, per_point, 0.0).sum(dim=1) / count.clamp_min(1)  # (B,)
    has_term = count > 0
    return (per_object * has_term).sum() / has_term.sum().clamp_min(1)


def next_point_nll(log_prob: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the next points, over the (B, T) positions ``valid``.

    ``log_prob`` (B, T) holds at position i the log-density that the model, having seen points
    up to i, gave to the flux of point i + 1 (see
    :func:`engine.models.atcat.model.next_point_queries`).
    """
    return -torch.where(valid, log_prob, 0.0).sum() / valid.sum().clamp_min(1)


def metadata_l1(weights: list[torch.Tensor]) -> torch.Tensor:
    """Sum of absolute values of the metadata encoder's input weights."""
    return sum(w.abs().sum() for w in weights)


def generative_loss(model: ATCAT, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Next-point NLL of the squashed flux under the model's mixture head (section 2.5).

    Each point's hidden state (B, T, d) is queried with the next point's Δt, wavelength and
    flux_err; the target is the next point's squashed flux, with its squashed error widening
    every mixture component (paper section 2.5.2).
    """
    queries = next_point_queries(batch)
    logits = model.next_flux_logits(
        hidden, queries.delta_time, queries.wavelength, queries.flux_err
    )  # (B, T, K)
    log_prob = model.mixture.log_prob(
        logits, squash(queries.target_flux), squash_err(queries.target_flux, queries.flux_err)
    )  # (B, T)
    return next_point_nll(log_prob, queries.valid)


def training_losses(
    model: ATCAT,
    outputs: ATCATOutput,
    batch: Batch,
    target: torch.Tensor | None,
    config: LossConfig,
) -> dict[str, torch.Tensor]:
    """Every loss term with a non-zero weight, plus their weighted sum under ``"total"``.

    ``target`` (B,) class indices; None for unlabelled data, which allows only the generative
    and L1 terms. Terms are returned unweighted, for logging.
    """
    if target is None and config.classifies:
        msg = "classification losses need class labels (target), got None"
        raise ValueError(msg)
    logits, mask, gamma = outputs.class_logits, batch.mask, config.focal_gamma
    terms: dict[str, torch.Tensor] = {}
    weights: dict[str, float] = {}
    if config.log_loss > 0 or config.early_detection > 0:
        terms["log_loss"] = last_point_log_loss(logits, mask, target, focal_gamma=gamma)
        # the early-detection recipe adds the last-point log-loss back at 1/3 of its weight
        weights["log_loss"] = config.log_loss + config.early_detection / 3.0
    if config.soft_f1 > 0:
        terms["soft_f1"] = soft_f1_loss(logits, mask, target, weighting=config.soft_f1_weighting)
        weights["soft_f1"] = config.soft_f1
    if config.early_detection > 0:
        terms["early_detection"] = early_detection_loss(logits, mask, target, focal_gamma=gamma)
        weights["early_detection"] = config.early_detection
    if config.generative > 0:
        terms["generative"] = generative_loss(model, outputs.hidden, batch)
        weights["generative"] = config.generative
    if config.metadata_l1 > 0 and model.metadata is not None:
        terms["metadata_l1"] = metadata_l1(model.metadata.input_weights())
        weights["metadata_l1"] = config.metadata_l1
    terms["total"] = sum(weights[name] * terms[name] for name in weights)
    return terms
