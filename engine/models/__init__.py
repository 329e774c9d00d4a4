"""Light-curve models (one subpackage per family) and their self-describing checkpoints."""

from engine.models.checkpoint import load_model, read_extra, save_model
from engine.models.families import FAMILIES, Family

__all__ = ["FAMILIES", "Family", "load_model", "read_extra", "save_model"]
