"""ATCAT, the causal light-curve transformer of Boone et al.: config, encoders, attention, model."""

from engine.models.atcat.config import ATCATConfig
from engine.models.atcat.model import (
    ATCAT,
    ATCATOutput,
    NextPointQueries,
    gather_last,
    next_point_queries,
)
from engine.models.atcat.mog import MixtureGrid, squash, squash_err, unsquash, unsquash_err

__all__ = [
    "ATCAT",
    "ATCATConfig",
    "ATCATOutput",
    "MixtureGrid",
    "NextPointQueries",
    "gather_last",
    "next_point_queries",
    "squash",
    "squash_err",
    "unsquash",
    "unsquash_err",
]
