"""ATCAT: a causal transformer with one token per light-curve point (Boone et al., ATCAT paper).

Notation: ``B`` objects, ``T`` points, ``S`` sequence length (``T + 1`` with [META]), ``d`` model
width, ``C`` classes, ``K`` mixture components, ``H`` heads.

The sequence is ``[META] point_0 point_1 ...`` (no [META] without metadata features). Layers are
causal, the first ones local in time (see :mod:`engine.models.atcat.attention`), so the hidden
state at point i summarises the light curve up to and including point i: one forward pass gives
a classification after every point (early detection) and an embedding at the last one.

Deviation from the paper, generative head. The paper interleaves a [PRED] token after every
point (``[META] LC0 PRED1 LC1 PRED2 ...``) carrying the next point's time, wavelength and
flux_err, which doubles the sequence and needs per-object index bookkeeping, and makes the
pretraining sequence differ from the classification one. Here the same query (Δt to the next
point, its wavelength and flux_err, embedded with the same embedders plus a learned type vector)
is instead concatenated with the hidden state of the current point and mapped by a 2-layer MLP
to the K mixture logits. Attention cost stays that of T tokens and a single forward pass serves
both classification and next-flux prediction. The query cannot influence attention (it only
meets the hidden state at the end), which the paper's [PRED] tokens could.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.data.batching import Batch
from engine.models.atcat.attention import block_stack, layer_masks
from engine.models.atcat.config import ATCATConfig
from engine.models.atcat.encoding import PointEncoder
from engine.models.atcat.metadata import MetadataEncoder
from engine.models.atcat.mog import MixtureGrid


@dataclass
class ATCATOutput:
    """What :meth:`ATCAT.forward` returns.

    Attributes
    ----------
    hidden : (B, T, d) final hidden state of every point ([META] dropped)
    class_logits : (B, T, C + 1) class logits after every point; the last logit is "unsure"
    attention : one (B, H, S, S) map per layer when asked for, else None; with metadata,
        row and column 0 are the [META] token
    """

    hidden: torch.Tensor
    class_logits: torch.Tensor
    attention: list[torch.Tensor] | None = None


@dataclass(frozen=True)
class NextPointQueries:
    """Queries and targets of next-flux prediction, aligned with the point that asks, (B, T) each.

    Position i holds what point i + 1 looks like: its time gap from point i, wavelength and
    flux_err (the query) and its flux (the target). ``valid`` is False where point i + 1 does not
    exist (last point and padding).
    """

    delta_time: torch.Tensor
    wavelength: torch.Tensor
    flux_err: torch.Tensor
    target_flux: torch.Tensor
    valid: torch.Tensor


def next_point_queries(batch: Batch) -> NextPointQueries:
    """Shift a batch by one point to build the next-flux queries and targets."""

    def ahead(values: torch.Tensor) -> torch.Tensor:
        # (B, T) -> (B, T): values[:, i + 1] at position i, zero (or False) at the end.
        return torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)

    return NextPointQueries(
        delta_time=ahead(batch.time) - batch.time,
        wavelength=ahead(batch.wavelength),
        flux_err=ahead(batch.flux_err),
        target_flux=ahead(batch.flux),
        valid=ahead(batch.mask) & batch.mask,
    )


def gather_last(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Values (B, T, ...) at each object's last valid point -> (B, ...).

    Rows without any valid point give position 0 (finite, but meaningless).
    """
    last = (mask.sum(dim=1) - 1).clamp(min=0)  # (B,)
    index = last.view(-1, 1, *([1] * (values.ndim - 2))).expand(-1, 1, *values.shape[2:])
    return values.gather(1, index).squeeze(1)


class NextFluxHead(nn.Module):
    """Mixture logits for the next point's flux from (hidden state, next-point query).

    ``MLP(concat(LayerNorm(hidden), query))`` with one GELU hidden layer of width d.
    """

    def __init__(self, d_model: int, n_components: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(2 * d_model, d_model), nn.GELU(), nn.Linear(d_model, n_components)
        )

    def forward(self, hidden: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Hidden (B, T, d), query (B, T, d) -> logits (B, T, K)."""
        return self.mlp(torch.cat([self.norm(hidden), query], dim=-1))


class ATCAT(nn.Module):
    """The ATCAT light-curve transformer, built from an :class:`ATCATConfig`.

    The model returns hidden states and logits; losses (class, next-flux negative log-likelihood
    through :attr:`mixture`) belong to the training code. Call ``mixture.fit(train_flux)`` once
    before pretraining so the fixed mixture grid matches the data; it is saved with the weights.
    """

    family = "atcat"

    def __init__(self, config: ATCATConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.encoder = PointEncoder(config)
        self.metadata = (
            MetadataEncoder(len(config.metadata_names), d) if config.has_metadata else None
        )
        self.drop = nn.Dropout(config.dropout)
        self.blocks = block_stack(config)
        self.class_head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, config.n_logits))
        self.flux_head = NextFluxHead(d, config.n_mixture)
        self.mixture = MixtureGrid(config.n_mixture)

    def _check(self, batch: Batch) -> None:
        length = batch.time.shape[1]
        if length > self.config.max_points:
            msg = (
                f"batch has {length} points per object but this model takes at most "
                f"max_points={self.config.max_points}; collate with max_points="
                f"{self.config.max_points}"
            )
            raise ValueError(msg)
        if batch.metadata is not None and self.metadata is None:
            msg = (
                "batch carries metadata but the model has no metadata_names; "
                "collate without metadata_names for this model"
            )
            raise ValueError(msg)

    def _tokens(self, batch: Batch) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Input tokens (B, S, d) of a batch and the attention mask (B, 1, S, S) of each layer."""
        self._check(batch)
        x = self.encoder(batch.time, batch.flux, batch.flux_err, batch.wavelength)  # (B, T, d)
        if self.metadata is not None:
            metadata = batch.metadata
            if metadata is None:
                metadata = self.metadata.missing(x.shape[0], device=x.device)
            meta = self.metadata(metadata).to(x.dtype)  # (B, d)
            x = torch.cat([meta.unsqueeze(1), x], dim=1)  # (B, S, d)
        return self.drop(x), self._masks(batch)

    def _masks(self, batch: Batch) -> list[torch.Tensor]:
        """Build the attention mask (B, 1, S, S) of each layer for a batch."""
        return layer_masks(
            batch.time,
            batch.mask,
            local_windows=self.config.local_windows,
            n_layers=self.config.n_layers,
            with_meta=self.metadata is not None,
        )

    def forward(self, batch: Batch, *, return_attention: bool = False) -> ATCATOutput:
        """Run the transformer over a padded batch (see :class:`ATCATOutput`)."""
        x, masks = self._tokens(batch)
        maps = []
        for block, mask in zip(self.blocks, masks, strict=True):
            x, weights = block(x, mask, return_weights=return_attention)
            maps.append(weights)
        hidden = x[:, 1:] if self.metadata is not None else x  # (B, T, d)
        return ATCATOutput(
            hidden=hidden,
            class_logits=self.class_head(hidden),
            attention=maps if return_attention else None,
        )

    def last_point(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits (B, C + 1) and hidden state (B, d) at each object's last valid point.

        The same values as :meth:`forward` at that point, but the last layer computes only
        that row (its query, attention and feed-forward): a quarter less work with 4 layers,
        for predictions and embeddings, which need nothing else.
        """
        x, masks = self._tokens(batch)
        for block, mask in zip(self.blocks[:-1], masks[:-1], strict=True):
            x, _ = block(x, mask)
        last = (batch.mask.sum(dim=1) - 1).clamp(min=0) + int(self.metadata is not None)
        hidden = self.blocks[-1](x, masks[-1], rows=last[:, None])[0][:, 0]  # (B, d)
        return self.class_head(hidden), hidden

    def decode_step(
        self, batch: Batch, cache: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Hidden state (B, d) at the last point of ``batch``, and the cache for the next step.

        For autoregressive generation, where each call appends one point to every object.
        ``cache`` holds every layer's input tokens for all points but the last (returned by the
        previous call; ``None`` on the first, which runs the whole sequence). With a cache only
        the new point is encoded and only its row is computed in each layer: layers are causal,
        so earlier rows never change. The values equal :meth:`forward` at the last point.
        Objects must have no padding (every ``batch.mask`` True), as in generation.
        """
        if not bool(batch.mask.all()):
            msg = "decode_step needs objects without padding (every mask True)"
            raise ValueError(msg)
        if cache is None:
            x, masks = self._tokens(batch)
            cache = []
            for block, mask in zip(self.blocks, masks, strict=True):
                cache.append(x)
                x, _ = block(x, mask)
            return x[:, -1], cache
        self._check(batch)
        masks = self._masks(batch)
        newest = [batch.time, batch.flux, batch.flux_err, batch.wavelength]
        row = self.drop(self.encoder(*(values[:, -1:] for values in newest)))  # (B, 1, d)
        last = torch.full((row.shape[0], 1), masks[0].shape[-1] - 1, device=row.device)
        extended = []
        for block, mask, earlier in zip(self.blocks, masks, cache, strict=True):
            tokens = torch.cat([earlier, row.to(earlier.dtype)], dim=1)
            extended.append(tokens)
            row, _ = block(tokens, mask, rows=last)
        return row[:, 0], extended

    def next_flux_logits(
        self,
        hidden: torch.Tensor,
        query_time: torch.Tensor,
        query_wavelength: torch.Tensor,
        query_flux_err: torch.Tensor,
    ) -> torch.Tensor:
        """Mixture logits (B, T, K) for the flux of the point that follows each position.

        hidden (B, T, d) from :meth:`forward`; the queries (B, T) are the next point's Δt in
        days from the current point, its wavelength in Ångström and its flux_err in FLUXCAL
        (see :func:`next_point_queries`). Evaluate with :attr:`mixture`.
        """
        query = self.encoder.encode_query(query_time, query_wavelength, query_flux_err)
        return self.flux_head(hidden, query.to(hidden.dtype))

    def embed(self, batch: Batch) -> torch.Tensor:
        """Hidden state (B, d) at each object's last valid point, the classifier's input."""
        return self.last_point(batch)[1]
