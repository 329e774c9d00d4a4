"""The configuration of a training run: one dataclass per TOML table, read with ``tomllib``.

A run is described by one TOML file (see ``configs/atcat-plasticc.toml``)::

    name = "atcat-plasticc"          # model name: assets/models/<name>, runs/<name>
    steps = 6000
    family = "atcat"                 # atcat (default), astromer2, astraclr or rtf
    [data]      path, folds_path, train_folds, validation_fraction, metadata_names, ...
    [model]     any field of the family's model config except class_names and
                metadata_names (set from the data)
    [optimizer] lr, beta1, beta2, weight_decay, grad_clip
    [schedule]  warmup, decay_start and half_life as fractions of ``steps``
    [loss]      the family's loss config (see engine.training.objectives.settings)
    [augment]   see AugmentConfig

Relative paths are relative to the working directory. Unknown keys are errors, so a typo never
silently falls back to a default. :meth:`TrainConfig.to_toml` writes the resolved config back
(stored next to every checkpoint), and reading it gives the same config.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.training.augment import AugmentConfig
from engine.training.objectives.settings import FAMILY_CONFIGS


@dataclass(frozen=True)
class DataConfig:
    """Where the training data is and how it is split.

    Attributes
    ----------
    path : canonical light-curve Parquet table (with a ``label`` column for classification)
    folds_path : Parquet of ``object_id, fold``; fold 0 is the evaluation fold and never trained on
    train_folds : folds used for training (checkpoint selection holds out part of them)
    validation_fraction : fraction of the training-fold objects held out, stratified by class,
        to select the checkpoint
    metadata_names : metadata columns fed to the model's [META] token; empty for LC-only.
        Never use simulation-truth columns (``true_*``) or the spectroscopic redshift
    bucket_batches : batches per length-sorted mega-batch (see :mod:`engine.training.sampler`)
    select_on_surveys : pick the checkpoint on the mean score of the validation objects as
        they are and of each observed once by one of the run's survey profiles
        (:attr:`~engine.training.data.TrainingData.survey_validation`), so a run trained for
        other surveys is not chosen on LSST light curves alone
    """

    path: str = "data/plasticc/plasticc.parquet"
    folds_path: str = "data/plasticc/folds.parquet"
    train_folds: tuple[int, ...] = (1, 2, 3, 4)
    validation_fraction: float = 0.1
    metadata_names: tuple[str, ...] = ("hostgal_photoz", "hostgal_photoz_err", "mwebv", "ddf")
    bucket_batches: int = 8
    select_on_surveys: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "train_folds", tuple(int(f) for f in self.train_folds))
        object.__setattr__(self, "metadata_names", tuple(str(n) for n in self.metadata_names))
        if not self.train_folds or 0 in self.train_folds:
            msg = (
                f"train_folds must be a non-empty list of folds other than 0 (the evaluation "
                f"fold), got {list(self.train_folds)}"
            )
            raise ValueError(msg)
        if not 0.0 < self.validation_fraction < 0.5:
            msg = f"validation_fraction must be in (0, 0.5), got {self.validation_fraction}"
            raise ValueError(msg)
        if not isinstance(self.bucket_batches, int) or self.bucket_batches < 1:
            msg = f"bucket_batches must be a positive integer, got {self.bucket_batches!r}"
            raise ValueError(msg)


@dataclass(frozen=True)
class OptimizerConfig:
    """NAdam settings; the defaults are ATCAT's (β1 = 0, like RMSProp with Nesterov terms).

    ``grad_clip`` is the L2 norm gradients are clipped to, 0 for none (the paper clips at 0.1
    only when pretraining).
    """

    lr: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.999
    weight_decay: float = 0.0
    grad_clip: float = 0.0

    def __post_init__(self) -> None:
        if not self.lr > 0:
            msg = f"lr must be positive, got {self.lr}"
            raise ValueError(msg)
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            msg = f"beta1 and beta2 must be in [0, 1), got {self.beta1} and {self.beta2}"
            raise ValueError(msg)
        if self.weight_decay < 0 or self.grad_clip < 0:
            msg = (
                f"weight_decay and grad_clip must be >= 0, got {self.weight_decay} "
                f"and {self.grad_clip}"
            )
            raise ValueError(msg)


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule as fractions of the run, so it scales with ``steps``.

    Linear warm-up over ``warmup`` of the steps, constant until ``decay_start``, then halving
    every ``half_life``. The defaults are the paper's 1,000 / 20,000 / 6,000 steps of a
    40,000-step run.
    """

    warmup: float = 0.025
    decay_start: float = 0.5
    half_life: float = 0.15

    def __post_init__(self) -> None:
        if not 0.0 <= self.warmup <= self.decay_start <= 1.0:
            msg = (
                f"need 0 <= warmup <= decay_start <= 1 (fractions of the run), got "
                f"warmup={self.warmup}, decay_start={self.decay_start}"
            )
            raise ValueError(msg)
        if not self.half_life > 0:
            msg = f"half_life must be a positive fraction of the run, got {self.half_life}"
            raise ValueError(msg)

    def factor(self, step: int, steps: int) -> float:
        """Multiplier of the base learning rate at ``step`` of a ``steps``-step run."""
        warmup, decay_start = self.warmup * steps, self.decay_start * steps
        if step < warmup:
            return min(1.0, (step + 1) / warmup)
        if step < decay_start:
            return 1.0
        return math.pow(0.5, (step - decay_start) / (self.half_life * steps))


_MODEL_KEYS_FROM_DATA = ("class_names", "metadata_names")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; ``load_config`` reads it from TOML.

    Attributes
    ----------
    name : model name; the model is exported to ``<output_dir>/<name>`` and checkpoints in
        progress go to ``<run_dir>/<name>``
    steps, batch_size : optimisation steps and objects per batch
    eval_every : steps between validation + checkpoint (and at the last step)
    log_every : steps between logged training losses
    seed : seed of every random draw (sampling, augmentation, dropout, initialisation)
    device : ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available)
    threads : torch CPU threads; 0 keeps torch's default
    bf16 : run the forward pass under bfloat16 autocast (2-3x faster on recent CPUs)
    family : model family to train, a key of
        :data:`~engine.training.objectives.settings.FAMILY_CONFIGS`
    model : the family's hyperparameters (``class_names`` and ``metadata_names`` come from
        the data); default: the family's defaults
    loss : the family's loss config; default: its defaults
    init_from : model folder (e.g. a shipped model) whose weights start the run instead of a
        random initialisation, for fine-tuning; it must be of the same family and shape.
        Empty: random initialisation
    """

    name: str
    steps: int
    family: str = "atcat"
    batch_size: int = 64
    eval_every: int = 500
    log_every: int = 50
    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    bf16: bool = True
    output_dir: str = "assets/models"
    run_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = None
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: Any = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    init_from: str = ""

    def __post_init__(self) -> None:
        self._check_family()
        if not self.name or Path(self.name).name != self.name:
            msg = f"name must be a plain directory name, got {self.name!r}"
            raise ValueError(msg)
        for key in ("steps", "batch_size", "eval_every", "log_every"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                msg = f"{key} must be a positive integer, got {value!r}"
                raise ValueError(msg)
        if self.device not in ("cpu", "cuda", "auto"):
            msg = f"device must be 'cpu', 'cuda' or 'auto', got {self.device!r}"
            raise ValueError(msg)
        if not isinstance(self.threads, int) or self.threads < 0:
            msg = f"threads must be a non-negative integer, got {self.threads!r}"
            raise ValueError(msg)

    def _check_family(self) -> None:
        """Fill in the family's default model and loss configs and check their types."""
        model_class, loss_class = _family_configs(self.family)
        for key, expected in (("model", model_class), ("loss", loss_class)):
            value = getattr(self, key)
            if value is None:
                object.__setattr__(self, key, expected())
            elif not isinstance(value, expected):
                msg = (
                    f"{key} of a {self.family!r} run must be a {expected.__name__}, "
                    f"got a {type(value).__name__}"
                )
                raise ValueError(msg)
        if self.data.metadata_names and "metadata_names" not in _field_names(model_class):
            msg = (
                f"{self.family!r} models take no metadata, but [data] metadata_names is "
                f"{list(self.data.metadata_names)}; set metadata_names = []"
            )
            raise ValueError(msg)

    @property
    def model_dir(self) -> Path:
        """Where the final model is exported."""
        return Path(self.output_dir) / self.name

    @property
    def checkpoint_dir(self) -> Path:
        """Where checkpoints of the run in progress go."""
        return Path(self.run_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tables as dicts, tuples as lists), the inverse of ``from_dict``."""
        out = json.loads(json.dumps(asdict(self)))
        for key in _MODEL_KEYS_FROM_DATA:
            out["model"].pop(key, None)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build and validate a config from nested dicts; unknown keys raise ``InputError``."""
        values = dict(values)
        _check_keys("", values, _field_names(cls))
        model_class, loss_class = _family_configs(values.get("family", "atcat"))
        tables = {
            "data": DataConfig,
            "optimizer": OptimizerConfig,
            "schedule": ScheduleConfig,
            "loss": loss_class,
            "augment": AugmentConfig,
        }
        for key, table in tables.items():
            if key in values:
                _check_keys(key, values[key], _field_names(table))
                values[key] = table(**values[key])
        if "model" in values:
            allowed = _field_names(model_class) - set(_MODEL_KEYS_FROM_DATA)
            _check_keys("model", values["model"], allowed)
            values["model"] = model_class.from_dict(values["model"])
        try:
            return cls(**values)
        except TypeError as exc:  # a required key (name, steps) is missing
            msg = f"training config is incomplete: {exc}"
            raise InputError(msg) from exc

    def to_toml(self) -> str:
        """Write the config as TOML text that :func:`load_config` reads back unchanged."""
        values = self.to_dict()
        top = {k: v for k, v in values.items() if not isinstance(v, dict)}
        lines = [f"{k} = {_toml_value(v)}" for k, v in top.items()]
        for table, content in values.items():
            if isinstance(content, dict):
                lines += [
                    "",
                    f"[{table}]",
                    *(f"{k} = {_toml_value(v)}" for k, v in content.items()),
                ]
        return "\n".join(lines) + "\n"


def _family_configs(family: str) -> tuple[type, type]:
    """(model config class, loss config class) of ``family``."""
    if family not in FAMILY_CONFIGS:
        msg = f"family must be one of {sorted(FAMILY_CONFIGS)}, got {family!r}"
        raise InputError(msg)
    return FAMILY_CONFIGS[family]


def _field_names(table: type) -> set[str]:
    return {f.name for f in fields(table)}


def _check_keys(table: str, values: Any, allowed: set[str]) -> None:
    where = f"[{table}]" if table else "the top level"
    if not isinstance(values, dict):
        msg = f"{where} of the training config must be a table, got {values!r}"
        raise InputError(msg)
    unknown = sorted(set(values) - allowed)
    if unknown:
        msg = (
            f"unknown keys {unknown} in {where} of the training config; allowed: {sorted(allowed)}"
        )
        raise InputError(msg)


def _toml_value(value: Any) -> str:
    """One TOML value: JSON's spelling of strings, numbers and arrays is valid TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"cannot write the non-finite number {value} to a TOML config"
        raise InputError(msg)
    return json.dumps(value, ensure_ascii=False)


def load_config(path: str | Path) -> TrainConfig:
    """Read a training config from a TOML file."""
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"{path}: cannot read as a TOML training config ({exc})"
        raise InputError(msg) from exc
    try:
        return TrainConfig.from_dict(values)
    except ValueError as exc:
        msg = f"{path}: {exc}"
        raise InputError(msg) from exc
