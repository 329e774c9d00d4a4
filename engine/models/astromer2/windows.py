"""Cut a multi-band batch into Astromer's single-band windows of zero-mean time and magnitude.

Notation: ``B`` objects, ``T`` points per object (padded), ``P`` real points in the batch,
``N`` (object, band) pairs, ``S`` windows, ``W`` points of the longest window.

Astromer reads one band at a time. Each object's points are grouped by band (points sharing a
wavelength), each band is cut into ``ceil(n / window)`` consecutive windows of balanced size
(a band of 201 points with window 200 gives windows of 101 and 100 points, not 200 and 1), and
every window is normalised on its own as in the paper: times and magnitudes minus their mean.

Magnitudes from fluxes. About 43 % of PLAsTiCC points have flux <= 0, where a logarithmic
magnitude is undefined, so catscope uses asinh magnitudes (Lupton, Gunn & Szalay 1999)::

    m = -2.5 / ln(10) * asinh(f / (2 b)),     σ_m = 2.5 / ln(10) * σ_f / sqrt(4 b² + f²)

which equal ordinary magnitudes (up to a constant, removed by the zero mean) for ``f >> b`` and
stay linear and finite through zero and negative fluxes. The softening ``b`` is the median
flux_err of the window, so ``f / b`` is a signal-to-noise ratio: a light curve and a copy
scaled by any factor (another zero point or distance) get identical inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from engine.data.batching import Batch
from engine.models.layers import masked_mean

#: 2.5 / ln(10): d(magnitude) / d(ln flux)
POGSON = 2.5 / math.log(10.0)


@dataclass(frozen=True)
class BandWindows:
    """Single-band windows of a batch, padded to a common length.

    Attributes
    ----------
    time : (S, W) days, zero mean over each window's points
    magnitude : (S, W) asinh magnitudes, zero mean over each window's points
    magnitude_err : (S, W) asinh magnitude errors
    mask : (S, W) True on real points (padding at the end)
    window_band : (S,) index in ``[0, N)`` of the (object, band) pair each window belongs to
    band_object : (N,) object row of each pair in the batch
    band_wavelength : (N,) wavelength of each pair in Ångström
    n_objects : B, objects of the batch (some may have no window)
    """

    time: torch.Tensor
    magnitude: torch.Tensor
    magnitude_err: torch.Tensor
    mask: torch.Tensor
    window_band: torch.Tensor
    band_object: torch.Tensor
    band_wavelength: torch.Tensor
    n_objects: int

    @property
    def lengths(self) -> torch.Tensor:
        """Points of each window, (S,) int64."""
        return self.mask.sum(dim=1)


def asinh_magnitude(
    flux: torch.Tensor, flux_err: torch.Tensor, softening: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Asinh magnitude and its error (see the module docstring); ``softening`` broadcasts."""
    magnitude = -POGSON * torch.asinh(flux / (2.0 * softening))
    error = POGSON * flux_err / torch.sqrt(4.0 * softening**2 + flux**2)
    return magnitude, error


def _pad(values: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, shape) -> torch.Tensor:
    out = torch.zeros(shape, dtype=values.dtype, device=values.device)
    out[rows, cols] = values
    return out


def split_bands(batch: Batch, *, window: int) -> BandWindows:
    """Group each object's points by band and cut them into normalised windows (module doc)."""
    if window < 1:
        msg = f"window must be a positive number of points, got {window}"
        raise ValueError(msg)
    device = batch.mask.device
    rows, cols = batch.mask.nonzero(as_tuple=True)  # (P,) each, by object then time
    wavelength = batch.wavelength[rows, cols]
    _, band_code = torch.unique(wavelength, return_inverse=True)  # (P,)
    n_codes = int(band_code.max()) + 1 if len(band_code) else 1
    # a stable sort by (object, band) keeps each band's points in time order
    order = torch.sort(rows * n_codes + band_code, stable=True).indices
    rows, cols, wavelength = rows[order], cols[order], wavelength[order]
    pair_key = rows * n_codes + band_code[order]
    _, pair = torch.unique_consecutive(pair_key, return_inverse=True)  # (P,) in [0, N)
    pair_count = torch.bincount(pair)  # (N,)
    pair_start = torch.cumsum(pair_count, 0) - pair_count
    rank = torch.arange(len(pair), device=device) - pair_start[pair]  # position in its band
    n_windows = -(-pair_count // window)  # (N,) ceil
    chunk = rank * n_windows[pair] // pair_count[pair]  # balanced consecutive windows
    most = int(n_windows.max()) if len(n_windows) else 1
    _, win = torch.unique_consecutive(pair * most + chunk, return_inverse=True)  # (P,) in [0, S)
    win_count = torch.bincount(win)
    win_start = torch.cumsum(win_count, 0) - win_count
    position = torch.arange(len(win), device=device) - win_start[win]
    shape = (len(win_count), max(int(win_count.max()) if len(win_count) else 0, 1))
    mask = _pad(torch.ones_like(win, dtype=torch.bool), win, position, shape)
    time = _pad(batch.time[rows, cols].float(), win, position, shape)
    flux = _pad(batch.flux[rows, cols].float(), win, position, shape)
    flux_err = _pad(batch.flux_err[rows, cols].float(), win, position, shape)
    # softening b: median flux_err of the window (padding as NaN is ignored by nanmedian)
    softening = torch.where(mask, flux_err, torch.nan).nanmedian(dim=1, keepdim=True).values
    magnitude, magnitude_err = asinh_magnitude(flux, flux_err, softening.clamp_min(1e-6))
    window_band = torch.zeros(shape[0], dtype=torch.long, device=device)
    window_band[win] = pair
    first = pair_start  # first point of each pair in the sorted order
    return BandWindows(
        time=torch.where(mask, time - masked_mean(time[..., None], mask), 0.0),
        magnitude=torch.where(mask, magnitude - masked_mean(magnitude[..., None], mask), 0.0),
        magnitude_err=torch.where(mask, magnitude_err, 0.0),
        mask=mask,
        window_band=window_band,
        band_object=rows[first],
        band_wavelength=wavelength[first],
        n_objects=batch.mask.shape[0],
    )
