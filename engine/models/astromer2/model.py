"""Astromer 2 (Donoso-Oliva et al.): a single-band masked-magnitude transformer encoder.

Notation: ``B`` objects, ``S`` single-band windows, ``W`` points per window, ``N`` (object,
band) pairs, ``L`` blocks, ``H`` heads, ``d`` model width.

A window's point token is ``time(t) + Linear(m)``: ATCAT's sin/cos time embedding of the
zero-mean time plus a linear map of the zero-mean asinh magnitude (see
:mod:`engine.models.astromer2.windows`). Points chosen for masking get a trainable [MASK]
vector (zero-initialised, paper section 3.1) in place of the magnitude part, keep their time
part, and are hidden from every attention key, so the model must predict them from the rest.
The blocks are ATCAT's pre-norm blocks without a causal mask.

Weighted block average. The paper's embedding is ``Σ_l γ_l h_l`` over the input embedding
(l = 0) and every block's output, with γ trained by the downstream classifier. catscope trains
without labels, so here ``γ = softmax(layer_weights)`` (zero-initialised: a plain mean) and the
magnitude head reads ``LayerNorm(Σ_l γ_l h_l)``: the pretraining loss itself learns how much
each depth contributes, and the embedding is exactly the representation the model was trained
to predict from. (The paper's head reads the last block.)

Multi-band objects. Each band's embedding is the point-count-weighted mean of its windows'
mean-pooled representations. An object's embedding is ``[mean_b e_b, mean_b (λ̃_b − mean λ̃) e_b]``
over its bands: the band mean and the first wavelength moment, ``λ̃`` being the wavelength
mapped from ``wavelength_range`` to [-1, 1]. The moment tells how the (brightness-free) shape
changes from blue to red bands. Both terms are sums over whatever bands an object has, so the
embedding needs no fixed band order and works for any survey (concatenating per-band
embeddings in LSST order would not). An object seen in a single band has a zero moment.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.data.batching import Batch
from engine.models.astromer2.config import Astromer2Config
from engine.models.astromer2.windows import BandWindows, split_bands
from engine.models.atcat.attention import block_stack
from engine.models.atcat.encoding import TimeEmbedding
from engine.models.layers import bidirectional_mask, masked_mean


@dataclass
class Astromer2Output:
    """What :meth:`Astromer2.forward` returns.

    Attributes
    ----------
    magnitude : (S, W) predicted (zero-mean asinh) magnitude of every point
    hidden : (S, W, d) normalised block-weighted representation of every point
    attention : one (S, H, W, W) map per block when asked for, else None
    """

    magnitude: torch.Tensor
    hidden: torch.Tensor
    attention: list[torch.Tensor] | None = None


def combine_bands(
    band_embedding: torch.Tensor,
    band_object: torch.Tensor,
    band_position: torch.Tensor,
    n_objects: int,
) -> torch.Tensor:
    """Band mean and first wavelength moment per object (see the module docstring).

    band_embedding (N, d), band_object (N,) object rows, band_position (N,) wavelengths mapped
    to [-1, 1] -> (B, 2d); objects without any band get zeros.
    """
    d = band_embedding.shape[1]
    values = band_embedding.float()
    count = torch.zeros(n_objects, device=values.device).index_add_(
        0, band_object, torch.ones_like(band_position)
    )  # (B,)
    per_object = count.clamp_min(1)[:, None]
    mean = torch.zeros(n_objects, d, device=values.device).index_add_(0, band_object, values)
    mean = mean / per_object  # (B, d)
    centre = torch.zeros(n_objects, device=values.device).index_add_(0, band_object, band_position)
    offset = band_position - (centre / count.clamp_min(1))[band_object]  # (N,)
    moment = torch.zeros(n_objects, d, device=values.device).index_add_(
        0, band_object, offset[:, None] * values
    )
    return torch.cat([mean, moment / per_object], dim=1)


class Astromer2(nn.Module):
    """The Astromer 2 encoder with its magnitude head, built from an :class:`Astromer2Config`.

    :meth:`forward` works on single-band windows (:func:`split_bands`); :meth:`embed` takes a
    multi-band :class:`Batch` and returns one embedding per object. Losses (masking, weighted
    RMSE) belong to :mod:`engine.training.objectives.astromer2`.
    """

    family = "astromer2"

    def __init__(self, config: Astromer2Config) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.time = TimeEmbedding(d, t_max=config.t_max, exponents=config.time_exponent_range)
        self.magnitude = nn.Linear(1, d)
        self.mask_token = nn.Parameter(torch.zeros(d))
        self.drop = nn.Dropout(config.dropout)
        self.blocks = block_stack(config)
        self.layer_weights = nn.Parameter(torch.zeros(config.n_layers + 1))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 1)

    @property
    def embedding_dim(self) -> int:
        """Width of :meth:`embed`'s output."""
        return self.config.embedding_dim

    def windows(self, batch: Batch) -> BandWindows:
        """Cut a multi-band batch into the model's single-band windows."""
        return split_bands(batch, window=self.config.window)

    def forward(
        self,
        windows: BandWindows,
        *,
        hidden: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> Astromer2Output:
        """Run the encoder over windows; ``hidden`` (S, W) marks the [MASK] points, if any."""
        magnitude = self.magnitude(windows.magnitude.unsqueeze(-1))  # (S, W, d)
        if hidden is not None:
            magnitude = torch.where(
                hidden[..., None], self.mask_token.to(magnitude.dtype), magnitude
            )
        x = self.drop(self.time(windows.time) + magnitude)
        # keys: real points that are not hidden behind [MASK]
        mask = bidirectional_mask(windows.mask if hidden is None else windows.mask & ~hidden)
        layers, maps = [x], []
        for block in self.blocks:
            x, weights = block(x, mask, return_weights=return_attention)
            layers.append(x)
            maps.append(weights)
        gamma = torch.softmax(self.layer_weights.float(), dim=0).to(x.dtype)  # (L + 1,)
        mixed = torch.einsum("l,lswd->swd", gamma, torch.stack(layers))  # (S, W, d)
        hidden_state = self.norm(mixed)
        return Astromer2Output(
            magnitude=self.head(hidden_state).squeeze(-1),
            hidden=hidden_state,
            attention=maps if return_attention else None,
        )

    def band_position(self, wavelength: torch.Tensor) -> torch.Tensor:
        """Wavelengths (Å) mapped linearly from ``wavelength_range`` to [-1, 1]."""
        blue, red = self.config.wavelength_range
        return 2.0 * (wavelength.float() - blue) / (red - blue) - 1.0

    def embed(self, batch: Batch) -> torch.Tensor:
        """One embedding per object, (B, 2d): band mean and wavelength moment (module doc)."""
        windows = self.windows(batch)
        if not windows.mask.any():  # no object of the batch has a point
            return torch.zeros(windows.n_objects, self.embedding_dim, device=batch.mask.device)
        pooled = masked_mean(self(windows).hidden, windows.mask).float()  # (S, d)
        n_bands = len(windows.band_object)
        weight = windows.lengths.float()  # a band is the point-weighted mean of its windows
        band = torch.zeros(n_bands, pooled.shape[1], device=pooled.device).index_add_(
            0, windows.window_band, pooled * weight[:, None]
        )
        band_points = torch.zeros(n_bands, device=pooled.device).index_add_(
            0, windows.window_band, weight
        )
        band = band / band_points.clamp_min(1)[:, None]  # (N, d)
        return combine_bands(
            band,
            windows.band_object,
            self.band_position(windows.band_wavelength),
            windows.n_objects,
        )
