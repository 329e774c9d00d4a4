"""Train a model of any family from a TOML config, resumably, and export it as a model directory.

The run is laid out in order: config, setup (seed, device, threads), data (canonical Parquet
split by folds), model and optimizer (fresh, or resumed from the last checkpoint of the run),
the loop (validation and checkpoint every ``eval_every`` steps), and the export of the best
checkpoint to ``<output_dir>/<name>`` with ``classes.json``, ``metadata_scaler.json`` (when the
model reads metadata) and ``training.json`` beside the weights (fitted statistics such as
ATCAT's mixture grid are in the weights, as buffers). What depends on the family (model, inputs,
losses, validation metrics, checkpoint score) comes from its objective, see
:mod:`engine.training.objectives`.

Every random draw of step ``s`` (the batch, its augmentations, dropout) comes from seeds
derived from ``(seed, s)``, so a resumed run takes exactly the steps the uninterrupted run
would have taken.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from engine.errors import CatscopeError, InputError
from engine.models.checkpoint import (
    CLASSES_FILE,
    METADATA_SCALER_FILE,
    TRAINING_FILE,
    load_model,
    save_model,
)
from engine.training.config import TrainConfig, load_config
from engine.training.data import Split, TrainingData, load_data
from engine.training.objectives.base import autocast
from engine.training.objectives.registry import get_objective
from engine.training.run_state import (
    RunState,
    find_checkpoint,
    load_checkpoint,
    save_checkpoint,
    stored_config,
)
from engine.training.sampler import BalancedBatchSampler, ShuffledBatchSampler

logger = logging.getLogger(__name__)

#: sub-streams of the per-step seeds
_AUGMENT, _TORCH = 1, 2
#: config keys that may change when a run is resumed; any other change is an error
_RESUMABLE_CHANGES = {"steps", "eval_every", "log_every", "device", "threads", "output_dir"}
_BEST = "best"
#: prefix of the validation metrics of the survey-observed copies (``select_on_surveys``)
SURVEYED = "surveyed/"


class TrainingDivergedError(CatscopeError, FloatingPointError):
    """A training loss became NaN or infinite."""


def _step_seed(seed: int, step: int, stream: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, step, stream])


def setup(config: TrainConfig) -> torch.device:
    """Cap torch's threads and pick the device (seeds are set where they are used)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if config.device == "cuda" and not torch.cuda.is_available():
        msg = "device = 'cuda' but torch sees no CUDA device; use 'cpu' or 'auto'"
        raise InputError(msg)
    return torch.device(config.device)


def build_model(config: TrainConfig, data: TrainingData) -> nn.Module:
    """Build a fresh model of the run's family (classes and fitted statistics from the data)."""
    return get_objective(config.family).build_model(config, data)


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """NAdam with the run's hyperparameters."""
    opt = config.optimizer
    return torch.optim.NAdam(
        model.parameters(), lr=opt.lr, betas=(opt.beta1, opt.beta2), weight_decay=opt.weight_decay
    )


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """Warm-up, constant, then exponential decay (see :class:`ScheduleConfig`)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: config.schedule.factor(step, config.steps)
    )


def make_batches(config: TrainConfig, train: Split, start: int) -> Iterator[np.ndarray]:
    """Endless stream of training-batch indices from step ``start`` on."""
    lengths = np.minimum(train.curves.lengths, config.model.max_points)
    common = {
        "batch_size": config.batch_size,
        "bucket_batches": config.data.bucket_batches,
        "seed": config.seed,
    }
    if train.labels is not None:
        return BalancedBatchSampler(train.labels, lengths, **common).batches(start)
    return ShuffledBatchSampler(lengths, **common).batches(start)


def _check_resumable(stored: dict, current: dict, path: Path) -> None:
    # checkpoints written before runs had a family were ATCAT runs
    stored = {"family": "atcat", **stored}
    changed = sorted(k for k in stored.keys() | current.keys() if stored.get(k) != current.get(k))
    refused = [k for k in changed if k not in _RESUMABLE_CHANGES]
    if refused:
        msg = (
            f"{path} holds a checkpoint of a run whose config differs in {refused}; only "
            f"{sorted(_RESUMABLE_CHANGES)} may change when resuming. Start afresh "
            "(resume=False, --no-resume) or choose another name"
        )
        raise InputError(msg)


def _load_initial_weights(model: nn.Module, source: str) -> None:
    """Copy the weights of the model folder ``source`` into ``model`` (``init_from``)."""
    try:
        weights = load_model(source).state_dict()
        model.load_state_dict(weights)
    except (RuntimeError, CatscopeError, OSError) as exc:
        msg = (
            f"init_from={source!r}: cannot start from that model's weights ({exc}); it must be "
            "a model folder of the same family, shape, classes and metadata"
        )
        raise InputError(msg) from exc
    logger.info("starting from the weights of %s", source)


def _start(config: TrainConfig, data: TrainingData, device: torch.device, resume: bool):
    """Model, optimizer, scheduler and progress: from the run's checkpoint or fresh."""
    run_dir = config.checkpoint_dir
    found = find_checkpoint(run_dir) if resume else None
    if found is not None:
        model, optimizer, scheduler, state = load_checkpoint(
            found,
            lambda m: make_optimizer(m, config),
            lambda o: make_scheduler(o, config),
            device,
        )
        _check_resumable(stored_config(found), config.to_dict(), found)
        logger.info("resuming %s from step %d", config.name, state.step)
        return model, optimizer, scheduler, state
    shutil.rmtree(run_dir, ignore_errors=True)
    model = build_model(config, data)
    if config.init_from:
        _load_initial_weights(model, config.init_from)
    model = model.to(device).train()
    optimizer = make_optimizer(model, config)
    return model, optimizer, make_scheduler(optimizer, config), RunState()


def _extras(data: TrainingData, state: RunState, config: TrainConfig, n_params: int) -> dict:
    extras = {
        CLASSES_FILE: list(data.class_names),
        TRAINING_FILE: {
            "config": config.to_dict(),
            "steps": state.step,
            "best_step": state.best_step,
            "best_metric": state.best_metric,
            "wall_time_s": state.elapsed,
            "n_params": n_params,
            "n_train": len(data.train),
            "n_validation": len(data.validation),
            "log": state.log,
        },
    }
    if data.scaler is not None:
        extras[METADATA_SCALER_FILE] = data.scaler.to_dict()
    return extras


def _train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
    train: Split,
    index: np.ndarray,
    step: int,
    device: torch.device,
) -> dict[str, float]:
    objective = get_objective(config.family)
    rng = np.random.default_rng(_step_seed(config.seed, step, _AUGMENT))
    inputs = objective.make_inputs(
        train.curves, index, rng, config, model, device, training=True, scaler=train.scaler
    )
    target = None if train.labels is None else torch.from_numpy(train.labels[index]).to(device)
    torch.manual_seed(int(_step_seed(config.seed, step, _TORCH).generate_state(1)[0]))
    with autocast(device, config.bf16):
        losses = objective.losses(model, inputs, target, config.loss)
    optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    if config.optimizer.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optimizer.grad_clip)
    optimizer.step()
    scheduler.step()
    values = {name: float(value.detach()) for name, value in losses.items()}  # one sync per step
    if not math.isfinite(values["total"]):
        msg = (
            f"training diverged at step {step}: losses {values}; lower [optimizer] lr, set "
            "grad_clip, or set bf16 = false"
        )
        raise TrainingDivergedError(msg)
    return values


def _validate_and_checkpoint(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: RunState,
    config: TrainConfig,
    data: TrainingData,
    device: torch.device,
) -> None:
    objective = get_objective(config.family)
    metrics = objective.validate(model, data.validation, config, device)
    score = objective.score(metrics, model)
    if data.survey_validation is not None:
        surveyed = objective.validate(model, data.survey_validation, config, device)
        metrics |= {f"{SURVEYED}{name}": value for name, value in surveyed.items()}
        score = (score + objective.score(surveyed, model)) / 2
    metrics["selection_score"] = score
    state.log.append({"step": state.step, "validation": metrics})
    logger.info("step %d validation %s", state.step, metrics)
    if score > state.best_metric:
        state.best_metric, state.best_step = score, state.step
        n_params = sum(p.numel() for p in model.parameters())
        save_model(
            model, config.checkpoint_dir / _BEST, extra=_extras(data, state, config, n_params)
        )
    save_checkpoint(config.checkpoint_dir, model, optimizer, scheduler, state, config.to_dict())


def run(config: TrainConfig, *, resume: bool = True) -> Path:
    """Train the model described by ``config`` and return the exported model directory."""
    device = setup(config)
    data = load_data(config)
    model, optimizer, scheduler, state = _start(config, data, device, resume)
    n_params = sum(p.numel() for p in model.parameters())
    batches = make_batches(config, data.train, state.step)
    running: dict[str, float] = defaultdict(float)
    n_running = 0
    clock = time.perf_counter()
    elapsed_before = state.elapsed
    with tqdm(total=config.steps, initial=state.step, desc=config.name, unit="step") as bar:
        while state.step < config.steps:
            losses = _train_step(
                model, optimizer, scheduler, config, data.train, next(batches), state.step, device
            )
            state.step += 1
            state.elapsed = elapsed_before + time.perf_counter() - clock
            for name, value in losses.items():
                running[name] += value
            n_running += 1
            bar.update(1)
            last = state.step == config.steps
            if state.step % config.log_every == 0 or last:
                means = {name: total / n_running for name, total in running.items()}
                state.log.append(
                    {"step": state.step, "lr": scheduler.get_last_lr()[0], "elapsed": state.elapsed}
                    | {f"loss/{k}": v for k, v in means.items()}
                )
                bar.set_postfix(loss=f"{means['total']:.4f}")
                running.clear()
                n_running = 0
            if state.step % config.eval_every == 0 or last:
                _validate_and_checkpoint(model, optimizer, scheduler, state, config, data, device)
    best = load_model(config.checkpoint_dir / _BEST)
    return save_model(best, config.model_dir, extra=_extras(data, state, config, n_params))


def train(config_path: Path, *, resume: bool = True) -> Path:
    """Train from the TOML config at ``config_path``; return the exported model directory."""
    return run(load_config(config_path), resume=resume)
