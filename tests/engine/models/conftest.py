"""Shared fixtures of the model tests: a seed, a small ATCAT config and a random batch factory."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from engine.data.batching import Batch
from engine.models.atcat import ATCATConfig

LSST_WAVELENGTHS = torch.tensor([3671.0, 4827.0, 6223.0, 7546.0, 8691.0, 9710.0])

BatchFactory = Callable[..., Batch]


@pytest.fixture(autouse=True)
def seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def small_config() -> ATCATConfig:
    return ATCATConfig(
        d_model=32,
        n_layers=4,
        n_heads=2,
        head_dim=8,
        class_names=("SNIa", "SNII", "AGN"),
        metadata_names=("hostgal_photoz", "mwebv"),
        n_mixture=16,
        max_points=64,
    )


def random_batch(
    lengths: list[int],
    *,
    width: int | None = None,
    n_metadata: int = 0,
    span: float = 60.0,
    seed: int = 0,
) -> Batch:
    """Random light curves of the given lengths, padded to ``width`` with garbage values.

    Padding holds large random numbers (not zeros) so that a test can see it being ignored.
    """
    g = torch.Generator().manual_seed(seed)
    b, t = len(lengths), width or max(max(lengths), 1)
    time = torch.sort(torch.rand(b, t, generator=g) * span, dim=1).values
    time = time - time[:, :1]
    flux = torch.randn(b, t, generator=g) * 10 ** torch.rand(b, t, generator=g).mul(4)
    flux_err = torch.rand(b, t, generator=g) * 20 + 0.5
    wavelength = LSST_WAVELENGTHS[torch.randint(0, 6, (b, t), generator=g)]
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    garbage = torch.rand(b, t, generator=g) * 1e4
    metadata = torch.randn(b, n_metadata, generator=g) if n_metadata else None
    return Batch(
        time=torch.where(mask, time, garbage),
        flux=torch.where(mask, flux, garbage),
        flux_err=torch.where(mask, flux_err, garbage),
        wavelength=torch.where(mask, wavelength, garbage),
        mask=mask,
        metadata=metadata,
    )


@pytest.fixture
def make_batch() -> BatchFactory:
    return random_batch
