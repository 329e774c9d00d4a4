"""The next-flux distribution of ATCAT: a squashing of flux and a fixed-grid mixture of Gaussians.

Section 2.5.1 of the ATCAT paper. Fluxes span six decades, so the generative head works on
``f(flux)``, a monotone squash that is linear-ish near 0 and logarithmic in the tails; its
predictive distribution is a mixture of ``K`` Gaussians whose means and widths are fixed from the
training fluxes and whose weights the model predicts. Notation: ``...`` any leading shape, ``K``
mixture components, ``Q`` quantile levels, ``N`` samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

FLUX_SCALE = 10.0
"""Fluxes are divided by this before squashing: |flux| <= 10 FLUXCAL is the tanh part."""
_TANH1 = math.tanh(1.0)
_SECH2_1 = 1.0 - _TANH1**2
SIGMA_FLOOR = 1e-3
"""Smallest component width in squashed units (0.01 FLUXCAL near 0): ties in the training
fluxes would otherwise give zero-width components."""
UNFITTED_RANGE = 1e6
"""Before :meth:`MixtureGrid.fit` the grid spreads evenly over squash(±1e6 FLUXCAL)."""


def squash(flux: torch.Tensor) -> torch.Tensor:
    """f(flux): with y = flux / 10, tanh(y) for |y| <= 1, else sign(y)(tanh 1 + sech²1 · log|y|).

    Value and first derivative match at |y| = 1; f(2.57e6) ≈ 6.
    """
    y = flux / FLUX_SCALE
    tail = _TANH1 + _SECH2_1 * torch.log(y.abs().clamp(min=1.0))
    return torch.where(y.abs() <= 1.0, torch.tanh(y), torch.sign(y) * tail)


def unsquash(z: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`squash`."""
    core = torch.atanh(z.clamp(-_TANH1, _TANH1))
    tail = torch.sign(z) * torch.exp((z.abs() - _TANH1) / _SECH2_1)
    return FLUX_SCALE * torch.where(z.abs() <= _TANH1, core, tail)


def squash_err(flux: torch.Tensor, flux_err: torch.Tensor) -> torch.Tensor:
    """Squashed error ``(f(x + e) - f(x - e)) / 2`` (paper, equation 2)."""
    return (squash(flux + flux_err) - squash(flux - flux_err)) / 2.0


def unsquash_err(z: torch.Tensor, z_err: torch.Tensor) -> torch.Tensor:
    """Map a squashed error back to flux units: ``(f⁻¹(z + s) - f⁻¹(z - s)) / 2``."""
    return (unsquash(z + z_err) - unsquash(z - z_err)) / 2.0


def log_squash_derivative(flux: torch.Tensor) -> torch.Tensor:
    """Log df/dflux, the log-Jacobian that turns a density in squashed units into one in flux."""
    y = flux / FLUX_SCALE
    core = -2.0 * torch.log(torch.cosh(y.clamp(-1.0, 1.0)))
    tail = math.log(_SECH2_1) - torch.log(y.abs().clamp(min=1.0))
    return torch.where(y.abs() <= 1.0, core, tail) - math.log(FLUX_SCALE)


def _grid(
    quantile: Callable[[np.ndarray], np.ndarray], n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Means ``quantile(linspace(1/2n, 1 - 1/2n, n))`` and sigmas ``0.7 · diff(means(n + 1))``."""

    def means(m: int) -> np.ndarray:
        return quantile(np.linspace(1.0 / (2 * m), 1.0 - 1.0 / (2 * m), m))

    sigmas = np.maximum(0.7 * np.diff(means(n + 1)), SIGMA_FLOOR)
    return (
        torch.as_tensor(means(n), dtype=torch.float32),
        torch.as_tensor(sigmas, dtype=torch.float32),
    )


class MixtureGrid(nn.Module):
    """Mixture of ``K`` Gaussians with fixed means and sigmas in squashed-flux space.

    The means and sigmas are buffers (saved with the model's state dict) set by :meth:`fit`
    from training fluxes; the model only predicts the K mixture logits. Every density is
    conditioned on the observation's own noise: the squashed ``flux_err`` of the predicted point
    is added in quadrature to each component's sigma (paper, section 2.5.2), so the model can
    widen its prediction for a noisy point without being punished for the noise.
    """

    def __init__(self, n_components: int) -> None:
        super().__init__()
        if n_components < 2:
            msg = f"n_components must be at least 2, got {n_components}"
            raise ValueError(msg)
        edge = float(squash(torch.tensor(UNFITTED_RANGE, dtype=torch.float64)))
        means, sigmas = _grid(lambda q: -edge + 2.0 * edge * q, n_components)
        self.register_buffer("means", means)
        self.register_buffer("sigmas", sigmas)

    @property
    def n_components(self) -> int:
        """Number of mixture components K."""
        return self.means.numel()

    @torch.no_grad()
    def fit(self, flux: np.ndarray | torch.Tensor) -> MixtureGrid:
        """Set means and sigmas from the quantiles of squashed training fluxes (FLUXCAL)."""
        z = squash(torch.as_tensor(flux, dtype=torch.float64).flatten()).numpy()
        z = z[np.isfinite(z)]
        if z.size < 2:
            msg = f"fit needs at least 2 finite flux values, got {z.size}"
            raise ValueError(msg)
        means, sigmas = _grid(lambda q: np.quantile(z, q), self.n_components)
        self.means.copy_(means)
        self.sigmas.copy_(sigmas)
        return self

    def _stddev(self, target_err: torch.Tensor | None) -> torch.Tensor:
        """Component widths (..., K) with the observation's squashed error added in quadrature."""
        if target_err is None:
            return self.sigmas
        return torch.sqrt(self.sigmas**2 + target_err.float().unsqueeze(-1) ** 2)

    def log_prob(
        self,
        logits: torch.Tensor,
        target: torch.Tensor,
        target_err: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Log density in squashed units of ``target`` (...) under logits (..., K) -> (...).

        ``target_err`` (...) is the squashed observational error of the target (see class doc).
        Computed in float32 whatever the autocast dtype.
        """
        std = self._stddev(target_err)  # (..., K)
        z = (target.float().unsqueeze(-1) - self.means) / std
        components = -0.5 * z**2 - torch.log(std) - 0.5 * math.log(2.0 * math.pi)
        return torch.logsumexp(torch.log_softmax(logits.float(), dim=-1) + components, dim=-1)

    def log_prob_flux(
        self, logits: torch.Tensor, flux: torch.Tensor, flux_err: torch.Tensor
    ) -> torch.Tensor:
        """Log density in FLUXCAL⁻¹ of the observed ``flux`` given its ``flux_err`` -> (...).

        The squashed density plus the log-Jacobian of the squash, so the number is comparable
        with a Gaussian-process baseline's log-likelihood in flux units.
        """
        flux = flux.float()
        squashed = self.log_prob(logits, squash(flux), squash_err(flux, flux_err.float()))
        return squashed + log_squash_derivative(flux)

    def cdf(
        self, logits: torch.Tensor, value: torch.Tensor, target_err: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mixture CDF in squashed units at ``value`` (..., Q) for logits (..., K) -> (..., Q)."""
        weights = torch.softmax(logits.float(), dim=-1).unsqueeze(-2)  # (..., 1, K)
        std = self._stddev(target_err).unsqueeze(-2)  # (..., 1, K) or (1, K)
        z = (value.float().unsqueeze(-1) - self.means) / std  # (..., Q, K)
        return (weights * torch.special.ndtr(z)).sum(dim=-1)

    def quantiles(
        self,
        logits: torch.Tensor,
        levels: torch.Tensor,
        target_err: torch.Tensor | None = None,
        *,
        n_steps: int = 60,
    ) -> torch.Tensor:
        """Quantiles in squashed units at ``levels`` (Q,) for logits (..., K) -> (..., Q).

        Found by vectorised bisection on the CDF. The squash is monotone, so
        ``unsquash(quantiles(...))`` are exactly the quantiles in flux units.
        """
        levels = torch.as_tensor(levels, dtype=torch.float32, device=logits.device)
        std = self._stddev(target_err)
        shape = (*logits.shape[:-1], levels.numel())
        low = torch.full(shape, float(self.means.min() - 10 * std.max()), device=logits.device)
        high = torch.full(shape, float(self.means.max() + 10 * std.max()), device=logits.device)
        for _ in range(n_steps):
            middle = (low + high) / 2
            below = self.cdf(logits, middle, target_err) < levels
            low = torch.where(below, middle, low)
            high = torch.where(below, high, middle)
        return (low + high) / 2

    def sample(
        self,
        logits: torch.Tensor,
        n: int,
        target_err: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` draws in squashed units from logits (..., K) -> (..., n).

        With ``target_err`` the draws include the observational noise, like a new observation.
        """
        probs = torch.softmax(logits.float(), dim=-1).reshape(-1, self.n_components)  # (P, K)
        picks = torch.multinomial(probs, n, replacement=True, generator=generator)  # (P, n)
        picks = picks.reshape(*logits.shape[:-1], n)  # (..., n)
        std = self._stddev(target_err).expand(*logits.shape[:-1], -1)  # (..., K)
        noise = torch.randn(picks.shape, generator=generator, device=logits.device)
        return self.means[picks] + torch.gather(std, -1, picks) * noise
