"""Light-curve models (one subpackage per family) and their self-describing checkpoints."""

from engine.models.checkpoint import MODEL_FAMILIES, load_model, read_extra, save_model

__all__ = ["MODEL_FAMILIES", "load_model", "read_extra", "save_model"]
