"""Save and load a model as a self-describing directory, never through pickle.

A model directory holds ``config.json`` (the model config plus the checkpoint keys ``"family"``
and ``"description"``),
``model.safetensors`` (the state dict) and any extra JSON files the caller adds (training run,
metrics, class mapping). :func:`load_model` rebuilds the model from the stored config, never
from defaults. Every file of a model directory is named here once (the ``*_FILE`` constants)
and read or written through this module. The classes that rebuild a family's models come from
:data:`engine.models.families.FAMILIES`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from engine.errors import InputError, ModelNotFoundError
from engine.models.families import FAMILIES

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
#: the model's domain reference (:mod:`engine.infer.domain`): unit reference embeddings, and
#: the held-out distances, input limits and provenance
DOMAIN_VECTORS_FILE = "domain.safetensors"
DOMAIN_FILE = "domain.json"
#: the training run's class list, in code order
CLASSES_FILE = "classes.json"
#: the training run: its config (``"config"``), steps and losses
TRAINING_FILE = "training.json"
#: the metadata scaler fitted on the training objects (models that read metadata)
METADATA_SCALER_FILE = "metadata_scaler.json"
#: the temperature calibration (:mod:`engine.infer.calibrate`)
CALIBRATION_FILE = "calibration.json"
#: evaluation results, as written by ``catscope evaluate --out`` into the model directory
METRICS_FILE = "metrics.json"
CHECKPOINT_KEYS = ("family", "description")
"""Keys of ``config.json`` that describe the checkpoint rather than configure the model."""


def _family_of(model: nn.Module) -> str:
    family = getattr(model, "family", None)
    if family not in FAMILIES or not isinstance(model, FAMILIES[family].model):
        msg = (
            f"cannot save a {type(model).__name__}: its family {family!r} is not registered; "
            f"known families are {sorted(FAMILIES)}"
        )
        raise ValueError(msg)
    return family


def _extra_path(directory: Path, name: str) -> Path:
    if not name.endswith(".json") or Path(name).name != name or name == CONFIG_FILE:
        msg = (
            f"extra file name {name!r} must be a plain file name ending in '.json' "
            f"other than {CONFIG_FILE!r}"
        )
        raise ValueError(msg)
    return directory / name


def save_model(
    model: nn.Module,
    path: str | Path,
    *,
    description: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to the directory ``path`` (created if needed) and return it.

    ``description`` is a one-line summary shown by the model registry; ``extra`` maps file names
    (``"training.json"``) to JSON-serialisable content.
    """
    directory = Path(path)
    family = _family_of(model)
    extra = extra or {}
    for name in extra:  # every name checked before anything is written
        _extra_path(directory, name)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"family": family, "description": description, **model.config.to_dict()}
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE), metadata={"family": family})
    for name, content in extra.items():
        write_extra(directory, name, content)
    return directory


def _require(file: Path) -> Path:
    if not file.is_file():
        msg = f"no model at {file.parent}: {file.name} is missing"
        raise ModelNotFoundError(msg)
    return file


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model stored in directory ``path`` on ``device``, in eval mode."""
    directory = Path(path)
    stored = read_config(directory)
    family = stored.get("family")
    if family not in FAMILIES:
        msg = (
            f"{directory / CONFIG_FILE} names model family {family!r}; "
            f"known families are {sorted(FAMILIES)}"
        )
        raise ModelNotFoundError(msg)
    config_class, model_class = FAMILIES[family].config, FAMILIES[family].model
    config = {k: v for k, v in stored.items() if k not in CHECKPOINT_KEYS}
    model = model_class(config_class.from_dict(config))
    state = load_file(str(_require(directory / WEIGHTS_FILE)), device=str(device))
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def read_config(path: str | Path) -> dict[str, Any]:
    """Read the stored ``config.json`` of the model in ``path``: config and checkpoint keys."""
    return json.loads(_require(Path(path) / CONFIG_FILE).read_text())


def class_names(path: str | Path) -> list[str]:
    """Return the classes the model in ``path`` predicts, in code order (empty: none)."""
    return list(read_config(path).get("class_names", []))


def read_extra(path: str | Path, name: str) -> Any:
    """Content of the extra JSON file ``name`` saved with the model in ``path``."""
    directory = Path(path)
    return json.loads(_require(_extra_path(directory, name)).read_text())


def read_optional_extra(path: str | Path, name: str) -> Any | None:
    """Content of the extra JSON file ``name`` of the model in ``path``; ``None`` if absent."""
    file = _extra_path(Path(path), name)
    return json.loads(file.read_text()) if file.is_file() else None


def write_extra(path: str | Path, name: str, content: Any, *, indent: int = 2) -> Path:
    """Write ``content`` as the extra JSON file ``name`` of the model in ``path``; return it."""
    file = _extra_path(Path(path), name)
    file.write_text(json.dumps(content, indent=indent))
    return file


def read_run_config(path: str | Path) -> dict[str, Any] | None:
    """Read the training run config stored with the model in ``path``; ``None`` if none."""
    run = read_optional_extra(path, TRAINING_FILE)
    return None if run is None else run.get("config")


def write_calibration(
    path: str | Path, scaler: dict[str, Any], *, n_objects: int, surveys: Sequence[str]
) -> Path:
    """Store a fitted temperature scaler (its ``to_dict``) and what it was fitted on."""
    stored = {"temperature_scaler": scaler, "n_objects": n_objects, "surveys": list(surveys)}
    return write_extra(path, CALIBRATION_FILE, stored, indent=1)


def read_calibration(path: str | Path) -> dict[str, Any] | None:
    """Read the stored temperature scaler (its ``to_dict``) of model ``path``; ``None`` if none."""
    stored = read_optional_extra(path, CALIBRATION_FILE)
    return None if stored is None else stored["temperature_scaler"]


def read_metrics(path: str | Path) -> dict[str, Any] | None:
    """Read the evaluation metrics stored with the model in ``path``; ``None`` if none."""
    file = Path(path) / METRICS_FILE
    try:
        return read_optional_extra(path, METRICS_FILE)
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"{file}: cannot read the model metrics ({exc})"
        raise InputError(msg) from exc
