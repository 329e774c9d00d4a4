"""Attention masks, masked self-attention and the pre-norm transformer block of ATCAT.

Notation: ``B`` objects, ``T`` points, ``S`` sequence length (``T`` or ``T + 1`` with the [META]
token at position 0), ``H`` heads, ``hd`` head width, ``d`` model width. Boolean masks are True
where a query (row) may attend to a key (column).

Rules (paper, section 2.2.4): every layer is causal (query i sees key j only if j <= i); a local
layer also needs ``|t_i - t_j| <= window``; padding keys are never seen. The [META] token only
sees itself; points see it in global layers but not in local ones. Every query also sees itself,
so that no row is empty (padding rows would otherwise have nothing to attend to), which keeps
the softmax finite without relying on a particular PyTorch version's handling of empty rows.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def time_gaps(time: torch.Tensor) -> torch.Tensor:
    """Absolute time differences (B, T, T) in days between every pair of points."""
    return (time[:, :, None] - time[:, None, :]).abs()


def point_mask(time: torch.Tensor, mask: torch.Tensor, *, window: float | None) -> torch.Tensor:
    """Point-to-point mask (B, T, T) from times (B, T) in days and validity (B, T).

    ``window=None`` gives a global (causal only) layer.
    """
    n = time.shape[1]
    index = torch.arange(n, device=time.device)
    allowed = (index[None, :] <= index[:, None]) & mask[:, None, :]  # (T, T) & (B, 1, T)
    if window is not None:
        allowed = allowed & (time_gaps(time) <= window)
    return allowed | torch.eye(n, dtype=torch.bool, device=time.device)


def add_meta_token(points: torch.Tensor, *, points_see_meta: bool) -> torch.Tensor:
    """Extend a point mask (B, T, T) to (B, T + 1, T + 1) with [META] at position 0.

    [META] attends only to itself; points attend to it when ``points_see_meta``.
    """
    extended = F.pad(points, (1, 0, 1, 0), value=points_see_meta)  # new first row and column
    extended[:, 0] = False
    extended[:, 0, 0] = True
    return extended


def layer_masks(
    time: torch.Tensor,
    mask: torch.Tensor,
    *,
    local_windows: tuple[float, ...],
    n_layers: int,
    with_meta: bool,
) -> list[torch.Tensor]:
    """Build one (B, 1, S, S) mask per layer: local layers first, then the shared global one.

    The causal mask and the time gaps are computed once for every layer (the same values as
    :func:`point_mask` per window: the diagonal has gap 0, so it stays allowed).
    """
    causal = point_mask(time, mask, window=None)

    def finish(points: torch.Tensor, *, see_meta: bool) -> torch.Tensor:
        if with_meta:
            points = add_meta_token(points, points_see_meta=see_meta)
        return points.unsqueeze(1)  # (B, 1, S, S), broadcast over heads

    local = []
    if local_windows:
        gap = time_gaps(time)
        local = [finish(causal & (gap <= w), see_meta=False) for w in local_windows]
    global_mask = finish(causal, see_meta=True)
    return local + [global_mask] * (n_layers - len(local_windows))


class MaskedSelfAttention(nn.Module):
    """Multi-head self-attention with a boolean mask and no bias in the q/k/v projections.

    Uses ``F.scaled_dot_product_attention`` (forward and backward on CPU and CUDA). When the
    attention weights are asked for, they are computed explicitly and also used for the output,
    so the returned maps are exactly the ones that produced it. ``query`` restricts the
    queries to some rows (keys and values are still every token): outputs that only need the
    last point then skip the other rows' queries, attention and feed-forward.
    """

    def __init__(self, d_model: int, *, n_heads: int, head_dim: int, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.head_dim, self.dropout = n_heads, head_dim, dropout
        self.qkv = nn.Linear(d_model, 3 * n_heads * head_dim, bias=False)
        self.out = nn.Linear(n_heads * head_dim, d_model)

    def _heads(self, values: torch.Tensor, parts: int) -> torch.Tensor:
        """(B, S, parts·H·hd) -> (parts, B, H, S, hd)."""
        b, s, _ = values.shape
        return values.view(b, s, parts, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        *,
        query: torch.Tensor | None = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend over x (B, S, d) -> output (B, Q, d) and weights (B, H, Q, S) or None.

        ``query`` (B, Q, d) holds the query rows (default ``x`` itself, Q = S); ``mask`` is
        (B, 1, Q, S).
        """
        if query is None:
            q, k, v = self._heads(self.qkv(x), 3).unbind(0)
        else:
            width = self.n_heads * self.head_dim
            w_query, w_key_value = self.qkv.weight.split([width, 2 * width])
            q = self._heads(F.linear(query, w_query), 1)[0]
            k, v = self._heads(F.linear(x, w_key_value), 2).unbind(0)
        p = self.dropout if self.training else 0.0
        weights = None
        if return_weights:
            scores = (q @ k.transpose(-2, -1)).float() / math.sqrt(self.head_dim)  # (B, H, Q, S)
            weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = F.dropout(weights, p, self.training).to(v.dtype) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        b, _, n_queries, _ = q.shape
        y = y.transpose(1, 2).reshape(b, n_queries, self.n_heads * self.head_dim)
        return self.out(y), weights


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + FFN(LN(x)) with a GELU FFN."""

    def __init__(
        self, d_model: int, *, n_heads: int, head_dim: int, ffn_mult: int, dropout: float
    ) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(d_model)
        self.attn = MaskedSelfAttention(
            d_model, n_heads=n_heads, head_dim=head_dim, dropout=dropout
        )
        self.ln_ffn = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, ffn_mult * d_model),
            nn.GELU(),
            nn.Linear(ffn_mult * d_model, d_model),
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        *,
        rows: torch.Tensor | None = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """X (B, S, d), mask (B, 1, S, S) -> (B, S, d) and the attention weights if asked.

        ``rows`` (B, Q) computes only those rows of the output, (B, Q, d): the same values as
        the full output at those rows, for a fraction of the cost.
        """
        normalised = self.ln_attn(x)
        query = None
        if rows is not None:
            x = x.gather(1, rows[..., None].expand(-1, -1, x.shape[-1]))  # (B, Q, d)
            query = normalised.gather(1, rows[..., None].expand(-1, -1, x.shape[-1]))
            mask = mask.gather(2, rows[:, None, :, None].expand(-1, 1, -1, mask.shape[-1]))
        attended, weights = self.attn(normalised, mask, query=query, return_weights=return_weights)
        x = x + self.drop(attended)
        return x + self.drop(self.ffn(self.ln_ffn(x))), weights


def block_stack(config, n_layers: int | None = None) -> nn.ModuleList:
    """``n_layers`` (default ``config.n_layers``) :class:`Block` s sized by a model config.

    Any config with ``d_model``, ``n_heads``, ``head_dim``, ``ffn_mult`` and ``dropout`` works,
    so every model family builds its transformer the same way.
    """
    return nn.ModuleList(
        Block(
            config.d_model,
            n_heads=config.n_heads,
            head_dim=config.head_dim,
            ffn_mult=config.ffn_mult,
            dropout=config.dropout,
        )
        for _ in range(config.n_layers if n_layers is None else n_layers)
    )
