"""Classify many one-point extensions of one light curve at the cost of a single row each.

Notation: ``B`` extensions (candidate points), ``S`` prefix tokens ([META] included when the
model has one), ``T`` prefix points, ``d`` model width, ``H`` heads, ``hd`` head width.

Planning an observation asks "what would the classifier say if point y came next?" for thousands
of (candidate, sampled flux) pairs that all share the same prefix. Layers are causal, so the
prefix rows never change: its tokens and keys/values are computed once (:func:`encode_prefix`)
and every extension only computes its own new row in each layer (:func:`appended_logits`),
attending to the shared prefix keys without copying them B times. The values equal
:meth:`ATCAT.forward` on the extended light curve at its last point (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from engine.data.batching import Batch
from engine.models.atcat.attention import Block
from engine.models.atcat.model import ATCAT


@dataclass(frozen=True)
class Prefix:
    """A light curve encoded once, ready to be extended by one point.

    Attributes
    ----------
    tokens : every layer's input tokens, one (S, d) tensor per layer
    time : (T,) days since the first point, as in :class:`~engine.data.batching.Batch`
    hidden : (d,) final hidden state at the last point (input of the next-flux head)
    logits : (C + 1,) class logits at the last point
    """

    tokens: list[torch.Tensor]
    time: torch.Tensor
    hidden: torch.Tensor
    logits: torch.Tensor


@torch.no_grad()
def encode_prefix(model: ATCAT, batch: Batch) -> Prefix:
    """Run one object (a batch of one, no padding) through ``model``; keep what extensions need."""
    if batch.time.shape[0] != 1:
        msg = f"encode_prefix takes a batch of one object, got {batch.time.shape[0]}"
        raise ValueError(msg)
    hidden, cache = model.decode_step(batch)  # (1, d), one (1, S, d) per layer
    return Prefix(
        tokens=[layer[0].float() for layer in cache],
        time=batch.time[0].float(),
        hidden=hidden[0].float(),
        logits=model.class_head(hidden.float())[0],
    )


def _extension_row(
    block: Block, prefix: torch.Tensor, row: torch.Tensor, allowed: torch.Tensor
) -> torch.Tensor:
    """One block's output row (B, d) for new rows (B, d) after a shared prefix (S, d).

    ``allowed`` (B, S) says which prefix tokens each new row may attend to; it always sees itself.
    """
    attention = block.attn
    n_heads, head_dim = attention.n_heads, attention.head_dim
    width = n_heads * head_dim
    w_query, w_key_value = attention.qkv.weight.split([width, 2 * width])
    key, value = (
        F.linear(block.ln_attn(prefix), w_key_value).view(-1, 2, n_heads, head_dim).unbind(1)
    )  # (S, H, hd) each
    own = attention.qkv(block.ln_attn(row)).view(-1, 3, n_heads, head_dim)  # (B, 3, H, hd)
    q, own_key, own_value = own.unbind(1)  # (B, H, hd) each
    scale = 1.0 / math.sqrt(head_dim)
    scores = torch.einsum("bhd,shd->bhs", q, key) * scale  # (B, H, S)
    scores = scores.masked_fill(~allowed[:, None, :], float("-inf"))
    own_score = (q * own_key).sum(-1, keepdim=True) * scale  # (B, H, 1)
    weights = torch.cat([scores, own_score], dim=-1).softmax(dim=-1)  # (B, H, S + 1)
    mixed = torch.einsum("bhs,shd->bhd", weights[..., :-1], value)
    mixed = mixed + weights[..., -1:] * own_value  # (B, H, hd)
    x = row + attention.out(mixed.reshape(-1, width))
    return x + block.ffn(block.ln_ffn(x))


def _allowed_keys(model: ATCAT, prefix: Prefix, time: torch.Tensor) -> list[torch.Tensor]:
    """Prefix keys (B, S) a new point at ``time`` (B,) sees in each layer (see attention rules)."""
    config = model.config
    with_meta = model.metadata is not None
    masks = []
    for layer in range(config.n_layers):
        local = layer < len(config.local_windows)
        if local:
            points = (time[:, None] - prefix.time[None, :]).abs() <= config.local_windows[layer]
        else:
            points = torch.ones(len(time), len(prefix.time), dtype=torch.bool, device=time.device)
        if with_meta:  # [META] is seen in global layers only
            points = F.pad(points, (1, 0), value=not local)
        masks.append(points)
    return masks


@torch.no_grad()
def appended_logits(
    model: ATCAT,
    prefix: Prefix,
    *,
    time: torch.Tensor,
    flux: torch.Tensor,
    flux_err: torch.Tensor,
    wavelength: torch.Tensor,
) -> torch.Tensor:
    """Class logits (B, C + 1) after appending each of B new points to ``prefix``.

    The points (B,) each: ``time`` in days since the first point (after the prefix's last),
    ``flux`` and ``flux_err`` in FLUXCAL, ``wavelength`` in Ångström. Computed in float32.
    """
    values = (time, flux, flux_err, wavelength)
    row = model.encoder(*(v.float()[:, None] for v in values))[:, 0]  # (B, d)
    allowed = _allowed_keys(model, prefix, time.float())
    for block, tokens, keys in zip(model.blocks, prefix.tokens, allowed, strict=True):
        row = _extension_row(block, tokens, row, keys)
    return model.class_head(row)
