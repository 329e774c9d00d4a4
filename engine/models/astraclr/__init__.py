"""Astra-CLR, a multi-band encoder trained with NT-Xent over multi-scale views: config and model."""

from engine.models.astraclr.config import AstraCLRConfig
from engine.models.astraclr.model import AstraCLR, AstraCLROutput, normalise_flux

__all__ = ["AstraCLR", "AstraCLRConfig", "AstraCLROutput", "normalise_flux"]
