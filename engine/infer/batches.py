"""Batching for inference: group objects of similar length so no batch pays for padding.

Objects are sorted by (subsampled) length and cut into batches holding at most ``max_tokens``
points of padded area, so short curves travel in large batches and long ones in small batches.
Results are scattered back to the caller's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.data.batching import Batch, collate
from engine.data.packed import PackedLightCurves


@dataclass(frozen=True)
class InferenceSettings:
    """How inference runs: device, precision and batch size.

    Attributes
    ----------
    device : ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; ``None`` picks CUDA when available
    precision : ``"bf16"`` runs the transformer under bfloat16 autocast (2-7x faster on CPUs
        with AMX or AVX-512 and on GPUs), ``"fp32"`` in full precision
    max_tokens : most padded points in one batch (batch size x longest curve)
    max_batch : most objects in one batch
    """

    device: str | None = None
    precision: str = "fp32"
    max_tokens: int = 65_536
    max_batch: int = 512

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "bf16"):
            msg = f"precision must be 'fp32' or 'bf16', got {self.precision!r}"
            raise ValueError(msg)
        if self.max_tokens < 1 or self.max_batch < 1:
            msg = f"max_tokens and max_batch must be positive, got {self.max_tokens}, {self.max_batch}"
            raise ValueError(msg)

    @property
    def torch_device(self) -> torch.device:
        """The device to run on."""
        if self.device is None:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def autocast(self) -> torch.autocast:
        """The autocast context for the chosen precision (disabled for fp32)."""
        device = self.torch_device
        return torch.autocast(
            device_type=device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        )


def length_sorted_batches(
    lengths: np.ndarray, *, max_points: int, max_tokens: int, max_batch: int
) -> list[np.ndarray]:
    """Object indices grouped into batches of similar length, longest first.

    Each batch's padded area (objects x longest length, capped at ``max_points``) is at most
    ``max_tokens``, and it holds at most ``max_batch`` objects.
    """
    capped = np.minimum(lengths, max_points)
    order = np.argsort(-capped, kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = max(int(capped[order[start]]), 1)
        size = max(1, min(max_batch, max_tokens // longest))
        batches.append(order[start : start + size])
        start += size
    return batches


def iter_batches(
    packed: PackedLightCurves,
    settings: InferenceSettings,
    *,
    max_points: int,
    metadata_names: tuple[str, ...] = (),
) -> Iterator[tuple[np.ndarray, Batch]]:
    """Yield ``(object indices, batch on the device)`` over all objects of ``packed``."""
    device = settings.torch_device
    for index in length_sorted_batches(
        packed.lengths,
        max_points=max_points,
        max_tokens=settings.max_tokens,
        max_batch=settings.max_batch,
    ):
        batch = collate(packed, index, max_points=max_points, metadata_names=metadata_names)
        yield index, batch.to(device)
