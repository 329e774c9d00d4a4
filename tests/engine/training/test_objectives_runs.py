"""A few training steps of every new family: export, reload, exact resumption, configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.errors import InputError
from engine.models import families
from engine.models.checkpoint import (
    CLASSES_FILE,
    TRAINING_FILE,
    WEIGHTS_FILE,
    load_model,
    read_extra,
)
from engine.training import trainer
from engine.training.config import TrainConfig, load_config
from tests.engine.training.conftest import run_values

CONFIGS = Path(__file__).parents[3] / "configs"

TINY_MODELS = {
    "astromer2": {"d_model": 16, "n_layers": 2, "n_heads": 2, "head_dim": 8, "window": 8},
    "astraclr": {"d_model": 16, "n_layers": 2, "n_heads": 2, "head_dim": 8, "max_points": 32},
    "rtf": {
        "d_model": 16,
        "n_layers": 2,
        "n_heads": 2,
        "head_dim": 8,
        "ffn_mult": 2,
        "decoder_layers": 1,
        "latent_dim": 8,
        "max_points": 32,
    },
}
FAMILIES = tuple(TINY_MODELS)


def _config(dataset, tmp_path, family: str, name: str, **overrides) -> TrainConfig:
    values = run_values(dataset, tmp_path, name) | {
        "family": family,
        "model": TINY_MODELS[family],
        "optimizer": {"lr": 1e-3, "beta1": 0.9, "grad_clip": 1.0},
    }
    return TrainConfig.from_dict(values | overrides)


@pytest.mark.parametrize("family", FAMILIES)
def test_smoke_run_exports_a_loadable_model(family, dataset, tmp_path):
    config = _config(dataset, tmp_path, family, f"smoke-{family}")
    out = trainer.run(config, resume=False)
    model = load_model(out)
    assert isinstance(model, families.FAMILIES[family].model)
    log = read_extra(out, TRAINING_FILE)
    assert log["steps"] == 3 and log["config"]["family"] == family
    validations = [e for e in log["log"] if "validation" in e]
    assert [e["step"] for e in validations] == [2, 3]
    assert all(np.isfinite(v) for e in validations for v in e["validation"].values())
    assert log["best_step"] in (2, 3)
    assert all(np.isfinite(e["loss/total"]) for e in log["log"] if "loss/total" in e)
    if family == "rtf":  # joint classification by default: classes come from the data
        assert model.config.class_names == ("flat", "rise", "wave")
        assert read_extra(out, CLASSES_FILE) == ["flat", "rise", "wave"]
        assert float(model.channel_std.min()) > 0 and not torch.all(model.channel_mean == 0)
    else:  # trained without labels
        assert read_extra(out, CLASSES_FILE) == []


@pytest.mark.parametrize("family", FAMILIES)
def test_interrupted_run_resumes_to_the_same_weights(family, dataset, tmp_path, monkeypatch):
    straight = _config(dataset, tmp_path, family, "straight")
    trainer.run(straight, resume=False)
    interrupted = _config(dataset, tmp_path, family, "interrupted")
    real_step = trainer._train_step

    def crash_at_step_2(*args, **kwargs):
        if args[6] == 2:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer, "_train_step", crash_at_step_2)
    with pytest.raises(KeyboardInterrupt):
        trainer.run(interrupted, resume=False)
    monkeypatch.setattr(trainer, "_train_step", real_step)
    trainer.run(interrupted, resume=True)

    def weights(config: TrainConfig) -> dict[str, torch.Tensor]:
        return load_file(str(config.checkpoint_dir / "checkpoint" / "model" / WEIGHTS_FILE))

    expected, resumed = weights(straight), weights(interrupted)
    for key in expected:
        torch.testing.assert_close(resumed[key], expected[key], rtol=0, atol=0)


def test_unlabelled_rtf_has_no_class_head(dataset, tmp_path):
    config = _config(dataset, tmp_path, "rtf", "plain-ae", steps=2, loss={"classification": 0.0})
    model = load_model(trainer.run(config, resume=False))
    assert model.config.class_names == () and model.classifier is None


@pytest.mark.parametrize("family", FAMILIES)
def test_shipped_config_loads_trains_without_fold_0_and_round_trips(family, tmp_path):
    config = load_config(CONFIGS / f"{family}-plasticc.toml")
    assert config.family == family and 0 not in config.data.train_folds
    assert config.name == f"{family}-plasticc" and config.data.metadata_names == ()
    path = tmp_path / "again.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('name = "x"\nsteps = 5\nfamily = "bert"\n', "family must be one of"),
        ('name = "x"\nsteps = 5\nfamily = "rtf"\n', "take no metadata"),
        (
            'name = "x"\nsteps = 5\nfamily = "astromer2"\n[data]\nmetadata_names = []\n'
            "[loss]\nlog_loss = 1.0\n",
            "unknown keys \\['log_loss'\\]",
        ),
        (
            'name = "x"\nsteps = 5\nfamily = "astraclr"\n[data]\nmetadata_names = []\n'
            "[model]\nlocal_windows = [1.0]\n",
            "unknown keys \\['local_windows'\\]",
        ),
    ],
)
def test_family_config_errors_name_the_problem(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_config(path)


def test_atcat_checkpoints_from_before_families_still_resume():
    stored = {"name": "a", "steps": 5}
    trainer._check_resumable(stored, {"name": "a", "steps": 5, "family": "atcat"}, Path("x"))
    with pytest.raises(InputError, match="family"):
        trainer._check_resumable(stored, {"name": "a", "steps": 5, "family": "rtf"}, Path("x"))


@pytest.mark.parametrize("family", FAMILIES)
def test_survey_augmentation_trains_every_family(family, dataset, tmp_path, survey_augment):
    config = _config(dataset, tmp_path, family, f"survey-{family}", augment=survey_augment)
    out = trainer.run(config, resume=False)
    log = read_extra(out, TRAINING_FILE)
    assert log["config"]["augment"]["survey_profiles"] == survey_augment["survey_profiles"]
    assert all(np.isfinite(e["loss/total"]) for e in log["log"] if "loss/total" in e)
