"""Which models are available and what each can do.

A model is a directory holding ``config.json`` (with a ``family`` key) and ``model.safetensors``
(:mod:`engine.models.checkpoint`).
Shipped models live in ``assets/models/``; any other directory can be passed by path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelNotFoundError
from engine.models.checkpoint import CONFIG_FILE, WEIGHTS_FILE, read_config
from engine.models.families import FAMILIES

#: the repository's shipped models
ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
MODELS_DIR = ASSETS_DIR / "models"


@dataclass(frozen=True)
class ModelInfo:
    """A model directory and what it can do."""

    name: str
    family: str
    path: Path
    capabilities: frozenset[str]
    description: str = ""
    #: the classes it predicts, in code order (empty for a model trained without labels)
    classes: tuple[str, ...] = ()

    def can(self, capability: str) -> bool:
        """Tell whether the model supports ``capability`` (e.g. ``"classify"``)."""
        return capability in self.capabilities

    @property
    def classifies(self) -> bool:
        """Whether the model classifies: its family can, and it was trained with classes."""
        return self.can("classify") and bool(self.classes)


def _info(path: Path) -> ModelInfo:
    config = read_config(path)
    family = config.get("family", "")
    return ModelInfo(
        name=path.name,
        family=family,
        path=path,
        capabilities=FAMILIES[family].capabilities if family in FAMILIES else frozenset(),
        description=config.get("description", ""),
        classes=tuple(config.get("class_names", ())),
    )


def available_models(models_dir: Path | None = None) -> list[ModelInfo]:
    """Every model directory under ``models_dir`` (default: the shipped ``assets/models``)."""
    root = Path(models_dir) if models_dir else MODELS_DIR
    if not root.is_dir():
        return []
    found = sorted(
        p.parent for p in root.glob(f"*/{CONFIG_FILE}") if (p.parent / WEIGHTS_FILE).exists()
    )
    return [_info(p) for p in found]


def find_model(name_or_path: str | Path, models_dir: Path | None = None) -> ModelInfo:
    """Find a model by shipped name (``atcat-plasticc``) or by directory path."""
    path = Path(name_or_path)
    if (path / CONFIG_FILE).is_file():
        return _info(path)
    models = available_models(models_dir)
    for info in models:
        if info.name == str(name_or_path):
            return info
    names = ", ".join(m.name for m in models) or "none"
    msg = f"no model named {str(name_or_path)!r}; available: {names} (or pass a model directory)"
    raise ModelNotFoundError(msg)
