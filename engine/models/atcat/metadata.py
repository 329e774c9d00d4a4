"""The [META] token: host-galaxy and survey metadata embedded as one d-dimensional vector.

Notation: ``B`` objects, ``M`` metadata features, ``d`` model width.
Section 2.2.2 of the ATCAT paper: a base affine map plus a residual (affine, leaky ReLU, affine).
Inputs are expected already standardised by the training code (the paper feeds quantile scores);
missing and infinite values are kept and each gets its own learned vector per feature.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MetadataEncoder(nn.Module):
    """(B, M) floats with NaN / ±inf kept -> (B, d) [META] token.

    A NaN (missing), +inf or -inf value contributes its feature's learned vector for that case
    and 0 to the numeric path, so "missing" is never confused with "equal to the mean".
    """

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__()
        if n_features < 1:
            msg = f"n_features must be at least 1, got {n_features}"
            raise ValueError(msg)
        self.n_features = n_features
        self.base = nn.Linear(n_features, d_model)
        self.residual_in = nn.Linear(n_features, d_model)
        self.residual_out = nn.Linear(d_model, d_model)
        # (3, M, d): vectors for NaN, +inf and -inf of each feature.
        self.special = nn.Parameter(torch.randn(3, n_features, d_model) * 0.02)

    def input_weights(self) -> list[torch.Tensor]:
        """Return the weights that read the raw features (the paper L1-penalises them)."""
        return [self.base.weight, self.residual_in.weight]

    def forward(self, metadata: torch.Tensor) -> torch.Tensor:
        """(B, M) -> (B, d)."""
        if metadata.ndim != 2 or metadata.shape[1] != self.n_features:
            msg = (
                f"metadata must have shape (batch, {self.n_features}), got {tuple(metadata.shape)}"
            )
            raise ValueError(msg)
        metadata = metadata.float()
        # (B, M, 3): which special case, if any, each value is in.
        cases = torch.stack([metadata.isnan(), metadata.isposinf(), metadata.isneginf()], dim=-1)
        numeric = torch.where(cases.any(dim=-1), 0.0, metadata)  # (B, M), all finite
        token = self.base(numeric) + self.residual_out(F.leaky_relu(self.residual_in(numeric)))
        # Sum the special vectors that apply: (B, M, 3) x (3, M, d) -> (B, d).
        special = torch.einsum("bmc,cmd->bd", cases.to(self.special.dtype), self.special)
        return token + special.to(token.dtype)

    def missing(self, batch_size: int, *, device: torch.device) -> torch.Tensor:
        """Return the all-missing input (B, M) of NaN, used when a batch carries no metadata."""
        return torch.full((batch_size, self.n_features), float("nan"), device=device)
