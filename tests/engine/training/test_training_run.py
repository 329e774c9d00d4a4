"""End-to-end smoke runs on a tiny synthetic table: export, reload, exact resumption."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.errors import InputError
from engine.models.checkpoint import (
    CLASSES_FILE,
    METADATA_SCALER_FILE,
    TRAINING_FILE,
    WEIGHTS_FILE,
    load_model,
    read_extra,
)
from engine.training import trainer
from engine.training.config import TrainConfig
from engine.training.data import load_data
from engine.training.metadata import MetadataScaler
from engine.training.surveys import PROFILES
from tests.engine.training.conftest import run_values


def _config(dataset, tmp_path, name: str, **overrides) -> TrainConfig:
    metadata = ("hostgal_photoz", "mwebv")
    values = run_values(dataset, tmp_path, name, metadata_names=metadata) | {
        "model": {
            "d_model": 16,
            "n_layers": 2,
            "n_heads": 2,
            "head_dim": 8,
            "n_mixture": 8,
            "max_points": 32,
            "dropout": 0.1,
        },
        "loss": {"early_detection": 1.0, "generative": 1.0, "metadata_l1": 1e-4},
    }
    return TrainConfig.from_dict(values | overrides)


def _final_weights(config: TrainConfig) -> dict[str, torch.Tensor]:
    return load_file(str(config.checkpoint_dir / "checkpoint" / "model" / WEIGHTS_FILE))


def test_smoke_run_exports_a_loadable_model(dataset, tmp_path):
    config = _config(dataset, tmp_path, "smoke")
    out = trainer.run(config, resume=False)
    assert out == config.model_dir
    model = load_model(out)
    assert model.config.class_names == ("flat", "rise", "wave")
    assert model.config.metadata_names == ("hostgal_photoz", "mwebv")
    assert read_extra(out, CLASSES_FILE) == ["flat", "rise", "wave"]
    scaler = MetadataScaler.from_dict(read_extra(out, METADATA_SCALER_FILE))
    assert np.isfinite(scaler.transform(np.array([[0.5, 0.05]]))).all()
    log = read_extra(out, TRAINING_FILE)
    assert log["steps"] == 3 and log["n_params"] == sum(p.numel() for p in model.parameters())
    validations = [e for e in log["log"] if "validation" in e]
    assert [e["step"] for e in validations] == [2, 3]
    expected_metrics = {
        "next_nll",
        "f1",
        "balanced_f1",
        "f1_no_metadata",
        "balanced_f1_no_metadata",
        "selection_score",
    }
    assert set(validations[-1]["validation"]) == expected_metrics
    assert all(np.isfinite(v) for v in validations[-1]["validation"].values())
    assert all(np.isfinite(e["loss/total"]) for e in log["log"] if "loss/total" in e)
    # the mixture grid was fitted to the training fluxes, not left on its default spread
    assert float(model.mixture.means.abs().max()) < 5.0
    # the exported model is the best validation checkpoint
    assert log["best_step"] in (2, 3)


def test_survey_augmentation_trains_with_scaled_metadata(dataset, tmp_path, survey_augment):
    config = _config(dataset, tmp_path, "survey", augment=survey_augment)
    out = trainer.run(config, resume=False)
    log = read_extra(out, TRAINING_FILE)
    assert all(np.isfinite(e["loss/total"]) for e in log["log"] if "loss/total" in e)
    assert all(
        np.isfinite(v) for e in log["log"] if "validation" in e for v in e["validation"].values()
    )


def test_select_on_surveys_scores_the_mean_of_clean_and_survey_observed(
    dataset, tmp_path, survey_augment
):
    config = _config(dataset, tmp_path, "select", augment=survey_augment)
    config = replace(config, data=replace(config.data, select_on_surveys=True))
    log = read_extra(trainer.run(config, resume=False), TRAINING_FILE)
    for entry in (e["validation"] for e in log["log"] if "validation" in e):
        surveyed = entry[f"{trainer.SURVEYED}balanced_f1"]
        assert entry["selection_score"] == pytest.approx((entry["balanced_f1"] + surveyed) / 2)
    assert log["best_metric"] == max(
        e["validation"]["selection_score"] for e in log["log"] if "validation" in e
    )


def test_survey_validation_is_one_fixed_draw_of_the_runs_profiles(dataset, tmp_path):
    augment = {"survey_profiles": ["ztf"], "survey_rate": 0.5, "survey_depth_match_rate": 1.0}
    config = _config(dataset, tmp_path, "copies", augment=augment)
    config = replace(config, data=replace(config.data, select_on_surveys=True))
    first, again = load_data(config), load_data(config)
    surveyed = first.survey_validation
    np.testing.assert_array_equal(surveyed.curves.flux, again.survey_validation.curves.flux)
    np.testing.assert_array_equal(surveyed.labels, first.validation.labels)
    # every object observed (rate 1, not the training rate), in ZTF's g/r/i wavelengths
    ztf = PROFILES["ztf"].wavelengths
    changed = ~np.isin(surveyed.curves.wavelength, first.validation.curves.wavelength)
    assert changed.any() and np.isin(surveyed.curves.wavelength[changed], ztf).all()


def test_select_on_surveys_needs_survey_profiles(dataset, tmp_path):
    config = _config(dataset, tmp_path, "none")
    config = replace(config, data=replace(config.data, select_on_surveys=True))
    with pytest.raises(InputError, match="select_on_surveys needs"):
        load_data(config)


def test_interrupted_run_resumes_to_the_same_weights(dataset, tmp_path, monkeypatch):
    straight = _config(dataset, tmp_path, "straight")
    trainer.run(straight, resume=False)

    interrupted = _config(dataset, tmp_path, "interrupted")
    real_step = trainer._train_step

    def crash_at_step_2(*args, **kwargs):
        if args[6] == 2:  # the step number
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer, "_train_step", crash_at_step_2)
    with pytest.raises(KeyboardInterrupt):
        trainer.run(interrupted, resume=False)
    state = json.loads((interrupted.checkpoint_dir / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2
    monkeypatch.setattr(trainer, "_train_step", real_step)
    trainer.run(interrupted, resume=True)

    expected, resumed = _final_weights(straight), _final_weights(interrupted)
    assert expected.keys() == resumed.keys()
    for key in expected:
        torch.testing.assert_close(resumed[key], expected[key], rtol=0, atol=0)


def test_resume_refuses_a_changed_config(dataset, tmp_path):
    trainer.run(_config(dataset, tmp_path, "changed", steps=2), resume=False)
    changed = _config(dataset, tmp_path, "changed", steps=2, seed=5)
    with pytest.raises(InputError, match="seed"):
        trainer.run(changed, resume=True)
    # a fresh start with the new config is allowed
    assert trainer.run(changed, resume=False).is_dir()


def test_init_from_starts_from_a_models_weights(dataset, tmp_path):
    first = trainer.run(_config(dataset, tmp_path, "first"), resume=False)
    # lr ~ 0: a run started from `first` keeps its weights; one started at random does not
    tuned = _config(dataset, tmp_path, "tuned", init_from=str(first), optimizer={"lr": 1e-12})
    start = load_model(first).state_dict()
    after = load_model(trainer.run(tuned, resume=False)).state_dict()
    assert all(torch.allclose(start[k].float(), after[k].float(), atol=1e-6) for k in start)
    fresh = load_model(
        trainer.run(_config(dataset, tmp_path, "fresh", seed=1, optimizer={"lr": 1e-12}))
    ).state_dict()
    assert not all(torch.allclose(start[k].float(), fresh[k].float()) for k in start)


def test_init_from_a_model_of_another_shape_is_refused(dataset, tmp_path):
    first = trainer.run(_config(dataset, tmp_path, "first"), resume=False)
    wider = _config(dataset, tmp_path, "wider", init_from=str(first))
    wider = TrainConfig.from_dict({**wider.to_dict(), "model": {**wider.to_dict()["model"],
                                                                "d_model": 32}})  # fmt: skip
    with pytest.raises(InputError, match="init_from"):
        trainer.run(wider, resume=False)
