"""RTF: a transformer autoencoder compressing a light curve into a fixed latent vector.

Notation: ``B`` objects, ``T`` points, ``d`` model width, ``k`` latent width, ``C`` classes,
``K = 5`` point channels.

Each point is described by K channels (:data:`CHANNELS`): ``log1p`` of the time since the first
point and since the previous point, the signed log flux ``sign(f) log1p(|f|)`` (RTF's log flux,
extended to the 43 % of PLAsTiCC fluxes that are <= 0), ``log`` flux_err, and the band as its
wavelength mapped from ``wavelength_range`` to [0, 1]. RTF one-hot encodes ZTF's g/r/i; a
wavelength channel instead takes any survey's bands and orders them physically. The channels
are standardised with means and deviations fitted on the training points (:meth:`RTF.fit_channels`,
stored as buffers with the weights).

Encoder: ``Linear(K, d)`` of the channels plus ATCAT's sin/cos time embedding (RTF's Time2Vec),
a learned [CLS] token in front, pre-norm blocks without a causal mask; ``LayerNorm`` of [CLS]
then ``Linear(d, k)`` is the latent (RTF's plain AE bottleneck, which beat its VAE and VQ-VAE).
Decoder: ``Linear(k, d)`` of the latent broadcast to every position plus a learned position
embedding, 2 blocks, and a head predicting all K standardised channels: the four photometric
ones are RTF's MSE head, the wavelength one replaces its band cross-entropy head. An optional
classifier ``Linear(k, k)-ReLU-Linear(k, C)`` reads the latent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.data.batching import Batch
from engine.models.atcat.attention import block_stack
from engine.models.atcat.encoding import TimeEmbedding
from engine.models.layers import bidirectional_mask
from engine.models.rtf.config import RTFConfig

#: point channels, in order; the first N_PHOTOMETRY are the photometry the MSE head reconstructs
CHANNELS = ("log1p_dt", "log1p_dt_prev", "signed_log_flux", "log_flux_err", "wavelength")
N_PHOTOMETRY = 4


@dataclass
class RTFOutput:
    """What :meth:`RTF.forward` returns.

    Attributes
    ----------
    latent : (B, k) the bottleneck vector, the embedding
    reconstruction : (B, T, K) predicted standardised channels of every position
    target : (B, T, K) the standardised channels of the input (what should be reconstructed)
    class_logits : (B, C) or None without a classification head
    """

    latent: torch.Tensor
    reconstruction: torch.Tensor
    target: torch.Tensor
    class_logits: torch.Tensor | None


def point_channels(batch: Batch, wavelength_range: tuple[float, float]) -> torch.Tensor:
    """Raw (unstandardised) channels (B, T, K) of every point; padding positions are 0."""
    time = batch.time.float().clamp_min(0.0)
    previous = torch.cat([time[:, :1], time[:, :-1]], dim=1)  # (B, T): the first point is its own
    flux = batch.flux.float()
    blue, red = wavelength_range
    channels = torch.stack(
        [
            torch.log1p(time),
            torch.log1p((time - previous).clamp_min(0.0)),
            torch.sign(flux) * torch.log1p(flux.abs()),
            torch.log(batch.flux_err.float().clamp_min(1e-3)),
            (batch.wavelength.float() - blue) / (red - blue),
        ],
        dim=-1,
    )
    return torch.where(batch.mask[..., None], channels, 0.0)


class RTF(nn.Module):
    """The RTF autoencoder, built from an :class:`RTFConfig`.

    Call :meth:`fit_channels` once on training data before training. Losses (MSE, wavelength
    and class terms) belong to :mod:`engine.training.objectives.rtf`.
    """

    family = "rtf"

    def __init__(self, config: RTFConfig) -> None:
        super().__init__()
        self.config = config
        d, k, n = config.d_model, config.latent_dim, len(CHANNELS)
        self.register_buffer("channel_mean", torch.zeros(n))
        self.register_buffer("channel_std", torch.ones(n))
        self.input = nn.Linear(n, d)
        self.time = TimeEmbedding(d, t_max=config.t_max, exponents=config.time_exponent_range)
        self.cls = nn.Parameter(torch.zeros(d))
        nn.init.normal_(self.cls, std=0.02)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = block_stack(config)
        self.encoder_norm = nn.LayerNorm(d)
        self.bottleneck = nn.Linear(d, k)
        self.expand = nn.Linear(k, d)
        self.positions = nn.Embedding(config.max_points, d)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.decoder = block_stack(config, config.decoder_layers)
        self.decoder_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, n)
        self.classifier = (
            nn.Sequential(nn.Linear(k, k), nn.ReLU(), nn.Linear(k, len(config.class_names)))
            if config.class_names
            else None
        )

    @property
    def embedding_dim(self) -> int:
        """Width of :meth:`embed`'s output."""
        return self.config.embedding_dim

    @torch.no_grad()
    def fit_channels(self, batch: Batch) -> RTF:
        """Set the channel means and deviations from the real points of ``batch``."""
        values = point_channels(batch, self.config.wavelength_range)[batch.mask]  # (P, K)
        if len(values) < 2:
            msg = f"fit_channels needs at least 2 points, got {len(values)}"
            raise ValueError(msg)
        self.channel_mean.copy_(values.mean(dim=0))
        self.channel_std.copy_(values.std(dim=0).clamp_min(1e-3))
        return self

    def channels(self, batch: Batch) -> torch.Tensor:
        """Standardised channels (B, T, K); padding positions are 0."""
        raw = point_channels(batch, self.config.wavelength_range)
        return torch.where(batch.mask[..., None], (raw - self.channel_mean) / self.channel_std, 0.0)

    def _check(self, batch: Batch) -> None:
        length = batch.time.shape[1]
        if length > self.config.max_points:
            msg = (
                f"batch has {length} points per object but this model takes at most "
                f"max_points={self.config.max_points}; collate with that max_points"
            )
            raise ValueError(msg)

    def encode(self, batch: Batch, channels: torch.Tensor | None = None) -> torch.Tensor:
        """Latent vectors (B, k) of a batch (``channels`` from :meth:`channels` if known)."""
        self._check(batch)
        channels = self.channels(batch) if channels is None else channels
        x = self.input(channels) + self.time(batch.time)  # (B, T, d)
        cls = self.cls.to(x.dtype).expand(x.shape[0], 1, -1)  # (B, 1, d)
        x = self.drop(torch.cat([cls, x], dim=1))  # (B, T + 1, d)
        keys = torch.cat([torch.ones_like(batch.mask[:, :1]), batch.mask], dim=1)  # (B, T + 1)
        mask = bidirectional_mask(keys)
        for block in self.encoder:
            x, _ = block(x, mask)
        return self.bottleneck(self.encoder_norm(x[:, 0]))

    def decode(self, latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Standardised channels (B, T, K) at the T positions of ``mask`` (B, T) from (B, k)."""
        length = mask.shape[1]
        x = self.expand(latent)[:, None, :] + self.positions.weight[:length]  # (B, T, d)
        attention = bidirectional_mask(mask)
        for block in self.decoder:
            x, _ = block(x, attention)
        return self.head(self.decoder_norm(x))

    def forward(self, batch: Batch) -> RTFOutput:
        """Encode, decode and (with a head) classify a padded batch."""
        target = self.channels(batch)
        latent = self.encode(batch, target)
        return RTFOutput(
            latent=latent,
            reconstruction=self.decode(latent, batch.mask),
            target=target,
            class_logits=None if self.classifier is None else self.classifier(latent),
        )

    def embed(self, batch: Batch) -> torch.Tensor:
        """Return the latent vectors (B, k), the embedding."""
        return self.encode(batch).float()

    def reconstruction_error(self, batch: Batch) -> torch.Tensor:
        """Per-object mean squared error of the photometric channels over its points, (B,).

        The four standardised photometric channels (times, flux, flux_err) are compared; an
        object without points gets 0.
        """
        output = self(batch)
        return photometry_error(output.reconstruction, output.target, batch.mask)

    def embed_and_error(self, batch: Batch) -> torch.Tensor:
        """Latent vectors and reconstruction errors of one forward pass, (B, k + 1).

        Columns ``:k`` equal :meth:`embed`, the last :meth:`reconstruction_error`: a catalogue
        needs both, and asking for them apart encodes every object twice.
        """
        output = self(batch)
        error = photometry_error(output.reconstruction, output.target, batch.mask)
        return torch.cat([output.latent.float(), error.float()[:, None]], dim=1)


def photometry_error(
    reconstruction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Mean over each object's real points of the photometric channels' squared error, (B,)."""
    squared = (reconstruction.float() - target.float())[..., :N_PHOTOMETRY] ** 2  # (B, T, 4)
    per_point = squared.mean(dim=-1)  # (B, T)
    return torch.where(mask, per_point, 0.0).sum(dim=1) / mask.sum(dim=1).clamp_min(1)
