"""ATCAT's point encoder: one d-dimensional token per (time, flux, flux_err, wavelength) point.

Notation: ``B`` objects, ``T`` points, ``d`` model width; ``...`` is any leading shape.
Section 2.2.1 of the ATCAT paper, with the details read from its public ONNX export.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.models.atcat.config import ATCATConfig


def time_frequencies(
    n_frequencies: int, *, t_max: float, exponents: tuple[float, float]
) -> torch.Tensor:
    """Angular frequencies ω_k = (1 / (10 t_max)) ** p_k of the sin/cos time features.

    The exponents p_k are piecewise linear: the first half runs from ``exponents[0]`` (< 0) up to,
    not including, 0, so those frequencies are above 1 per day and resolve the sub-day gaps
    between points; the second half runs from 0 to ``exponents[1]``, down to periods of about
    ``10 t_max`` days. Returns (n_frequencies,) float32.
    """
    low, high = exponents
    n_fast = n_frequencies // 2
    p = torch.cat(
        [
            torch.linspace(low, 0.0, n_fast + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.0, high, n_frequencies - n_fast, dtype=torch.float64),
        ]
    )
    return ((1.0 / (10.0 * t_max)) ** p).float()


class TimeEmbedding(nn.Module):
    """Times in days -> ``concat(sin(ω t), cos(ω t)) / 10`` -> Linear(d, d).

    The division by 10 keeps the L2 norm of the d features near 1 (paper, step ii).
    """

    def __init__(self, d_model: int, *, t_max: float, exponents: tuple[float, float]) -> None:
        super().__init__()
        self.register_buffer(
            "frequencies", time_frequencies(d_model // 2, t_max=t_max, exponents=exponents)
        )
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, time: torch.Tensor) -> torch.Tensor:
        """(...,) days -> (..., d)."""
        # (..., 1) * (d/2,) -> (..., d/2); computed in float32 even under autocast: t·ω reaches
        # thousands of radians, far beyond what bfloat16 resolves.
        angles = time.float().unsqueeze(-1) * self.frequencies
        features = torch.cat([angles.sin(), angles.cos()], dim=-1) / 10.0  # (..., d)
        return self.proj(features)


class FloatEmbedding(nn.Module):
    """A value in FLUXCAL -> ``[tanh(x / s_k)]_k`` -> Linear(K, d) with a zero-initialised bias.

    The paper writes ``tanh(s_k x)`` with s_k in (1, 10, 1e3, 1e5); FLUXCAL fluxes span about
    1e0 to 1e6, so we read the scales as divisors: each feature ``tanh(x / s_k)`` is close to
    linear for ``|x| < s_k`` and saturates beyond, so one of the K features stays linear in any
    dynamic range while no value can push an activation past 1 (outliers do not saturate the
    residual stream).
    """

    def __init__(self, d_model: int, *, scales: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("inv_scales", 1.0 / torch.tensor(scales, dtype=torch.float32))
        self.proj = nn.Linear(len(scales), d_model)
        nn.init.zeros_(self.proj.bias)

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        """(...,) -> (..., d)."""
        features = torch.tanh(value.float().unsqueeze(-1) * self.inv_scales)  # (..., K)
        return self.proj(features)


class WavelengthRotation(nn.Module):
    """Rotary rotation of an embedding by the band's wavelength, with learned per-pair angles.

    The wavelength is mapped to a rotary "position" ``m = rotation · (λ − λ_blue) / (λ_red −
    λ_blue)`` and each pair of channels (i, i + d/2) is rotated by ``m · θ_i``. Using the
    wavelength itself rather than a band index means any survey's bands (and the redshift
    augmentation, which moves wavelengths) are encoded without a lookup table. θ starts from the
    standard rotary schedule ``10000^(-2i/d)``; the paper found it as good as its own.
    """

    def __init__(
        self, d_model: int, *, wavelength_range: tuple[float, float], rotation: float
    ) -> None:
        super().__init__()
        half = d_model // 2
        self.angles = nn.Parameter(10000.0 ** (-torch.arange(half, dtype=torch.float32) / half))
        self.blue, self.red = wavelength_range
        self.rotation = rotation

    def forward(self, x: torch.Tensor, wavelength: torch.Tensor) -> torch.Tensor:
        """Rotate x (..., d) by wavelength (...,) in Ångström."""
        position = self.rotation * (wavelength.float() - self.blue) / (self.red - self.blue)
        theta = position.unsqueeze(-1) * self.angles  # (..., d/2)
        cos, sin = theta.cos().to(x.dtype), theta.sin().to(x.dtype)
        first, second = x.chunk(2, dim=-1)  # each (..., d/2)
        return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


class PointEncoder(nn.Module):
    """Embed light-curve points, and the next-point queries of the generative head.

    A point's token is ``w_t · rotate(time(t), λ) + w_f · flux(f) + w_e · flux_err(e)`` with
    learned scalar mixing weights w. A query (:meth:`encode_query`) uses the same embedders
    without the flux, plus a learned type vector that tells it apart from a point.
    """

    def __init__(self, config: ATCATConfig) -> None:
        super().__init__()
        d = config.d_model
        self.time = TimeEmbedding(d, t_max=config.t_max, exponents=config.time_exponent_range)
        self.flux = FloatEmbedding(d, scales=config.float_scales)
        self.flux_err = FloatEmbedding(d, scales=config.float_scales)
        self.rotation = WavelengthRotation(
            d, wavelength_range=config.wavelength_range, rotation=config.wavelength_rotation
        )
        self.mix = nn.Parameter(torch.ones(3))  # weights of time, flux, flux_err
        self.query_type = nn.Parameter(torch.zeros(d))
        nn.init.normal_(self.query_type, std=0.02)

    def _time_and_error(
        self, time: torch.Tensor, wavelength: torch.Tensor, flux_err: torch.Tensor
    ) -> torch.Tensor:
        rotated = self.rotation(self.time(time), wavelength)
        return self.mix[0] * rotated + self.mix[2] * self.flux_err(flux_err)

    def forward(
        self,
        time: torch.Tensor,
        flux: torch.Tensor,
        flux_err: torch.Tensor,
        wavelength: torch.Tensor,
    ) -> torch.Tensor:
        """Points (B, T) each -> tokens (B, T, d)."""
        return self._time_and_error(time, wavelength, flux_err) + self.mix[1] * self.flux(flux)

    def encode_query(
        self, delta_time: torch.Tensor, wavelength: torch.Tensor, flux_err: torch.Tensor
    ) -> torch.Tensor:
        """Next-point queries (Δt from the current point, λ, flux_err), (B, T) each -> (B, T, d)."""
        return self._time_and_error(delta_time, wavelength, flux_err) + self.query_type
