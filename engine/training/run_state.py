"""Resumable checkpoints of a run in progress, as safetensors + JSON (never pickle).

A checkpoint directory holds the model as :func:`engine.models.checkpoint.save_model` writes
it (``model/``), the optimizer's tensors (``optimizer.safetensors``, keys
``"<param index>.<name>"``) and ``state.json``: step, best metric, scheduler and optimizer
hyperparameters, the training log and the run config. Every random draw of a step is derived
from ``(seed, step)`` (see :mod:`engine.training.trainer`), so no RNG state needs saving.

A new checkpoint is written to ``checkpoint.tmp`` with ``state.json`` last, then swapped in,
so an interrupted save never leaves a run without a complete checkpoint.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from engine.models.atcat.model import ATCAT
from engine.models.checkpoint import load_model, save_model

CHECKPOINT = "checkpoint"
_TMP = CHECKPOINT + ".tmp"
_STATE = "state.json"
_OPTIMIZER = "optimizer.safetensors"
_MODEL = "model"


@dataclass
class RunState:
    """The non-tensor progress of a run.

    Attributes
    ----------
    step : optimisation steps done
    best_metric, best_step : best validation score so far (higher is better) and its step
    log : training-loss and validation records, in order
    elapsed : seconds of training so far, over all resumptions
    """

    step: int = 0
    best_metric: float = float("-inf")
    best_step: int = -1
    log: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0


def save_checkpoint(
    directory: Path,
    model: ATCAT,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: RunState,
    run_config: dict[str, Any],
) -> Path:
    """Write the checkpoint of the run into ``directory / "checkpoint"`` and return that path."""
    tmp, final = directory / _TMP, directory / CHECKPOINT
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tmp / _MODEL)
    optimizer_state = optimizer.state_dict()
    tensors = {
        f"{index}.{name}": value.detach().cpu().contiguous()
        for index, values in optimizer_state["state"].items()
        for name, value in values.items()
    }
    save_file(tensors, str(tmp / _OPTIMIZER))
    payload = {
        **vars(state),
        "scheduler": scheduler.state_dict(),
        "param_groups": optimizer_state["param_groups"],
        "config": run_config,
    }
    (tmp / _STATE).write_text(json.dumps(payload, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def _complete(path: Path) -> bool:
    return (path / _STATE).is_file()


def find_checkpoint(directory: Path) -> Path | None:
    """Find the most advanced complete checkpoint of the run in ``directory`` (or None)."""
    candidates = [p for p in (directory / CHECKPOINT, directory / _TMP) if _complete(p)]
    if not candidates:
        return None
    return max(candidates, key=lambda p: json.loads((p / _STATE).read_text())["step"])


def stored_config(path: Path) -> dict[str, Any]:
    """Read the run config saved with the checkpoint at ``path``."""
    return json.loads((path / _STATE).read_text())["config"]


def load_checkpoint(
    path: Path,
    optimizer_factory: Callable[[ATCAT], torch.optim.Optimizer],
    scheduler_factory: Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler],
    device: torch.device,
) -> tuple[ATCAT, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, RunState]:
    """Rebuild model, optimizer, scheduler and progress from a checkpoint at ``path``.

    ``optimizer_factory(model)`` and ``scheduler_factory(optimizer)`` build fresh objects whose
    state is then overwritten, so hyperparameters come from the checkpoint.
    """
    payload = json.loads((path / _STATE).read_text())
    model = load_model(path / _MODEL, device=device).train()
    optimizer = optimizer_factory(model)
    # a new scheduler resets the learning rate: build it before restoring the optimizer's
    scheduler = scheduler_factory(optimizer)
    tensors = load_file(str(path / _OPTIMIZER), device=str(device))
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        per_param.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": payload["param_groups"]})
    scheduler.load_state_dict(payload["scheduler"])
    names = {f for f in RunState.__dataclass_fields__}
    state = RunState(**{k: v for k, v in payload.items() if k in names})
    return model, optimizer, scheduler, state
