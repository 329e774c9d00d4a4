"""Small tensor helpers shared by the Astromer 2, Astra-CLR and RTF models.

Notation: ``B`` sequences, ``T`` points, ``d`` width. Boolean attention masks are True where a
query (row) may attend to a key (column), as in :mod:`engine.models.atcat.attention`.
"""

from __future__ import annotations

import torch


def bidirectional_mask(keys: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, T) mask from the keys every query may see, (B, T); each query also sees itself.

    Seeing itself keeps every row non-empty (padding rows too), so the softmax stays finite.
    """
    eye = torch.eye(keys.shape[1], dtype=torch.bool, device=keys.device)
    return (keys[:, None, :] | eye)[:, None]  # (B, T, T) -> (B, 1, T, T)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, T, d) over the True points of each row of mask (B, T) -> (B, d); 0 if none."""
    total = (values * mask[..., None].to(values.dtype)).sum(dim=1)
    return total / mask.sum(dim=1, keepdim=True).clamp_min(1).to(values.dtype)
