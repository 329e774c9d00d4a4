import math

import numpy as np
import pytest
import torch

from engine.models.atcat.mog import (
    SIGMA_FLOOR,
    MixtureGrid,
    log_squash_derivative,
    squash,
    squash_err,
    unsquash,
    unsquash_err,
)

FLUXES = torch.tensor(
    [
        -2.57e6,
        -1e5,
        -123.4,
        -10.0,
        -3.0,
        -1e-3,
        0.0,
        1e-3,
        0.5,
        9.99,
        10.0,
        10.01,
        77.0,
        1e4,
        2.57e6,
    ],
    dtype=torch.float64,
)


@pytest.fixture
def grid() -> MixtureGrid:
    rng = np.random.default_rng(0)
    flux = np.concatenate([rng.normal(0, 5, 4000), rng.lognormal(4, 2, 2000)])
    return MixtureGrid(24).fit(flux)


def test_squash_round_trip_and_paper_values():
    torch.testing.assert_close(unsquash(squash(FLUXES)), FLUXES, rtol=1e-10, atol=1e-9)
    assert squash(torch.tensor(2.57e6, dtype=torch.float64)).item() == pytest.approx(6.0, abs=0.02)
    assert (squash(FLUXES).diff() > 0).all()  # strictly monotone
    torch.testing.assert_close(squash(-FLUXES), -squash(FLUXES))  # odd


def test_squash_value_and_derivative_are_continuous_at_the_glue_point():
    for glue in (10.0, -10.0):
        x = torch.tensor([glue - 1e-6, glue, glue + 1e-6], dtype=torch.float64, requires_grad=True)
        y = squash(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        assert (y[2] - y[0]).abs() < 1e-6
        torch.testing.assert_close(grad[0], grad[2], rtol=1e-5, atol=0)
    analytic = log_squash_derivative(FLUXES).exp()
    x = FLUXES.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(squash(x).sum(), x)
    torch.testing.assert_close(analytic, autograd)


def test_squashed_error_maps_back_to_about_the_flux_error():
    flux = torch.tensor([0.0, 50.0, 5e4], dtype=torch.float64)
    err = torch.tensor([1.0, 2.0, 100.0], dtype=torch.float64)
    back = unsquash_err(squash(flux), squash_err(flux, err))
    torch.testing.assert_close(back, err, rtol=0.02, atol=0)


def test_fit_sets_sorted_quantile_means_and_floored_sigmas():
    flux = np.concatenate([np.zeros(500), np.linspace(-50, 5000, 500)])
    grid = MixtureGrid(16).fit(flux)
    assert (grid.means.diff() >= 0).all()
    assert (grid.sigmas >= SIGMA_FLOOR).all()
    assert grid.means[0] >= squash(torch.tensor(-50.0)) and grid.means[-1] <= squash(
        torch.tensor(5000.0)
    )
    with pytest.raises(ValueError, match="at least 2"):
        MixtureGrid(16).fit(np.array([math.nan, 1.0]))


@pytest.mark.parametrize("err", [None, 0.3])
def test_log_prob_integrates_to_one(grid, err):
    logits = torch.randn(3, grid.n_components) * 2
    z = torch.linspace(-12, 12, 40001)
    target_err = None if err is None else torch.full((3, 1), err)
    density = grid.log_prob(logits[:, None, :], z[None, :], target_err).exp()  # (3, Z)
    integral = torch.trapezoid(density, z, dim=-1)
    torch.testing.assert_close(integral, torch.ones(3), atol=2e-3, rtol=0)


def test_log_prob_flux_is_a_density_in_flux_units(grid):
    logits = torch.randn(2, grid.n_components)
    # Integrate over flux by substituting flux = unsquash(z), with a numerical dflux/dz so the
    # check does not reuse the log-Jacobian under test.
    z = torch.linspace(-8.0, 8.0, 80001, dtype=torch.float64)
    flux = unsquash(z)
    dflux_dz = torch.gradient(flux, spacing=(z,))[0]
    zero = torch.zeros_like(flux, dtype=torch.float32)
    density = grid.log_prob_flux(logits[:, None, :], flux.float()[None], zero[None]).exp()
    integral = torch.trapezoid(density.double() * dflux_dz, z, dim=-1)
    torch.testing.assert_close(integral, torch.ones(2, dtype=torch.float64), atol=5e-3, rtol=0)


def test_samples_match_quantiles_and_cdf(grid):
    logits = torch.randn(2, grid.n_components)
    err = torch.tensor([0.0, 0.5])
    levels = torch.tensor([0.1, 0.5, 0.9])
    quantiles = grid.quantiles(logits, levels, err)  # (2, 3)
    torch.testing.assert_close(
        grid.cdf(logits, quantiles, err), levels.expand(2, 3), atol=1e-4, rtol=0
    )
    draws = grid.sample(logits, 20000, err, generator=torch.Generator().manual_seed(1))
    assert draws.shape == (2, 20000)
    empirical = torch.quantile(draws, levels, dim=-1).T  # (2, 3)
    torch.testing.assert_close(empirical, quantiles, atol=0.05, rtol=0)
