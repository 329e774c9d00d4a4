"""Padded tensor batches of light curves, the input every model takes.

Notation: ``B`` objects in a batch, ``T`` points of the longest one, ``M`` metadata features.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from engine.data.packed import PackedLightCurves


@dataclass(frozen=True)
class Batch:
    """A batch of light curves padded to a common length.

    Attributes
    ----------
    time : (B, T) float32, days since the object's first point (0 at the first point)
    flux, flux_err : (B, T) float32, FLUXCAL
    wavelength : (B, T) float32, band central wavelength in Ångström
    mask : (B, T) bool, True on real points, False on padding (padding is at the end)
    metadata : (B, M) float32 or None; NaN and ±inf are kept (the model has vectors for them)
    """

    time: torch.Tensor
    flux: torch.Tensor
    flux_err: torch.Tensor
    wavelength: torch.Tensor
    mask: torch.Tensor
    metadata: torch.Tensor | None = None

    @property
    def lengths(self) -> torch.Tensor:
        """Number of real points per object, (B,) int64."""
        return self.mask.sum(dim=1)

    def to(self, device: torch.device | str) -> Batch:
        """Return the same batch on ``device``."""
        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=True)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }
        return replace(self, **moved)


def evenly_subsample(length: int, max_points: int) -> np.ndarray:
    """Pick at most ``max_points`` of ``length`` point indices, evenly spread, first and last kept.

    This is catscope's documented rule for light curves longer than a model's maximum: keep the
    whole time span at a coarser cadence rather than cutting one end off.
    """
    if length <= max_points:
        return np.arange(length)
    return np.unique(np.round(np.linspace(0, length - 1, max_points)).astype(np.int64))


def collate(
    packed: PackedLightCurves,
    index: np.ndarray,
    *,
    max_points: int,
    metadata_names: tuple[str, ...] = (),
) -> Batch:
    """Pad objects ``index`` of ``packed`` into a :class:`Batch`.

    Objects longer than ``max_points`` are subsampled with :func:`evenly_subsample`. Times are
    shifted so that each object starts at 0.
    """
    index = np.asarray(index, dtype=np.int64)
    points = []
    for k in index:
        sl = packed.slice_points(int(k))
        chosen = evenly_subsample(sl.stop - sl.start, max_points) + sl.start
        points.append(chosen)
    lengths = np.array([len(p) for p in points], dtype=np.int64)
    width = max(int(lengths.max(initial=0)), 1)
    flat = np.concatenate(points) if points else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(len(index)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)

    def pad(values: np.ndarray) -> torch.Tensor:
        out = np.zeros((len(index), width), dtype=np.float32)
        out[rows, cols] = values[flat]
        return torch.from_numpy(out)

    first_time = packed.time[packed.offsets[index]] if len(flat) else np.zeros(0)
    time = np.zeros((len(index), width), dtype=np.float32)
    time[rows, cols] = packed.time[flat] - np.repeat(first_time, lengths)
    mask = np.zeros((len(index), width), dtype=bool)
    mask[rows, cols] = True
    metadata = None
    if metadata_names:
        columns = [
            packed.metadata.get(name, np.full(len(packed), np.nan))[index]
            for name in metadata_names
        ]
        metadata = torch.from_numpy(np.stack(columns, axis=1).astype(np.float32))
    return Batch(
        time=torch.from_numpy(time),
        flux=pad(packed.flux),
        flux_err=pad(packed.flux_err),
        wavelength=pad(packed.wavelength),
        mask=torch.from_numpy(mask),
        metadata=metadata,
    )
