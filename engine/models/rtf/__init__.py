"""RTF, the transformer autoencoder of light curves with a fixed latent: config and model."""

from engine.models.rtf.config import RTFConfig
from engine.models.rtf.model import (
    CHANNELS,
    N_PHOTOMETRY,
    RTF,
    RTFOutput,
    photometry_error,
    point_channels,
)

__all__ = [
    "CHANNELS",
    "N_PHOTOMETRY",
    "RTF",
    "RTFConfig",
    "RTFOutput",
    "photometry_error",
    "point_channels",
]
