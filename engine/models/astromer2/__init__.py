"""Astromer 2, the single-band masked-magnitude encoder (Donoso-Oliva et al.): config and model."""

from engine.models.astromer2.config import Astromer2Config
from engine.models.astromer2.model import Astromer2, Astromer2Output, combine_bands
from engine.models.astromer2.windows import BandWindows, asinh_magnitude, split_bands

__all__ = [
    "Astromer2",
    "Astromer2Config",
    "Astromer2Output",
    "BandWindows",
    "asinh_magnitude",
    "combine_bands",
    "split_bands",
]
