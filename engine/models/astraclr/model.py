"""Astra-CLR: a multi-band transformer encoder trained contrastively (the loss is elsewhere).

Notation: ``B`` objects, ``T`` points, ``d`` model width, ``p`` projection width.

Input. Astra-CLR feeds magnitudes minus their inverse-variance-weighted mean, so a light
curve's shape and colours count but not its overall brightness. Fluxes <= 0 (43 % of PLAsTiCC
points) have no magnitude, so catscope uses the flux analogue: flux and flux_err divided by the
curve's inverse-variance-weighted RMS flux ``s = sqrt(Σ w f² / Σ w)``, ``w = 1 / σ²`` (at least
the weighted RMS error, so a curve of pure noise is measured in noise units). Dividing by ``s``
is what subtracting a mean magnitude does to fluxes, and it stays defined through zero.

Encoder. ATCAT's :class:`~engine.models.atcat.encoding.PointEncoder` embeds each (time,
flux, flux_err, wavelength) point, its wavelength rotation standing for the paper's
log-wavelength band encoding, so any survey's bands work. ATCAT's pre-norm blocks run without a
causal mask (every point sees every real point). The representation is the mean over points of
the final normalised states; the projection head (Linear-GELU-Linear, as in SimCLR) is used
only by the contrastive loss, and the representation before it is the embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.data.batching import Batch
from engine.models.astraclr.config import AstraCLRConfig
from engine.models.atcat.attention import block_stack
from engine.models.atcat.encoding import PointEncoder
from engine.models.layers import bidirectional_mask, masked_mean


@dataclass
class AstraCLROutput:
    """What :meth:`AstraCLR.forward` returns: representation (B, d) and projection (B, p)."""

    representation: torch.Tensor
    projection: torch.Tensor


def normalise_flux(
    flux: torch.Tensor, flux_err: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flux and flux_err (B, T) divided by each curve's scale ``s`` (see the module docstring)."""
    flux, flux_err = flux.float(), flux_err.float()
    weight = torch.where(mask, 1.0 / flux_err.clamp_min(1e-6) ** 2, 0.0)  # (B, T)
    total = weight.sum(dim=1, keepdim=True).clamp_min(1e-30)
    signal = torch.sqrt((weight * flux**2).sum(dim=1, keepdim=True) / total)
    noise = torch.sqrt(mask.sum(dim=1, keepdim=True) / total)
    scale = torch.maximum(signal, noise).clamp_min(1e-6)  # (B, 1)
    return torch.where(mask, flux / scale, 0.0), torch.where(mask, flux_err / scale, 0.0)


class AstraCLR(nn.Module):
    """The Astra-CLR encoder and projection head, built from an :class:`AstraCLRConfig`."""

    family = "astraclr"

    def __init__(self, config: AstraCLRConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.encoder = PointEncoder(config.point_encoder_config())
        self.drop = nn.Dropout(config.dropout)
        self.blocks = block_stack(config)
        self.norm = nn.LayerNorm(d)
        self.projection = nn.Sequential(
            nn.Linear(d, d), nn.GELU(), nn.Linear(d, config.projection_dim)
        )

    @property
    def embedding_dim(self) -> int:
        """Width of :meth:`embed`'s output."""
        return self.config.embedding_dim

    def forward(self, batch: Batch) -> AstraCLROutput:
        """Representation and projection of every object of a padded batch."""
        flux, flux_err = normalise_flux(batch.flux, batch.flux_err, batch.mask)
        x = self.drop(self.encoder(batch.time, flux, flux_err, batch.wavelength))  # (B, T, d)
        mask = bidirectional_mask(batch.mask)
        for block in self.blocks:
            x, _ = block(x, mask)
        representation = masked_mean(self.norm(x), batch.mask)  # (B, d)
        return AstraCLROutput(representation, self.projection(representation))

    def embed(self, batch: Batch) -> torch.Tensor:
        """Pooled representation (B, d), the embedding."""
        return self(batch).representation.float()
