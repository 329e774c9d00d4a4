import json
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.errors import ModelNotFoundError
from engine.models import load_model, read_extra, save_model
from engine.models.atcat import ATCAT
from engine.models.checkpoint import (
    CALIBRATION_FILE,
    CONFIG_FILE,
    TRAINING_FILE,
    WEIGHTS_FILE,
    class_names,
    read_calibration,
    read_config,
    read_optional_extra,
    read_run_config,
    write_extra,
)
from engine.models.registry import find_model


def forbid(*_args, **_kwargs):
    raise AssertionError("pickle must not be used to load a model")


def test_round_trip_gives_identical_outputs_without_pickle(
    small_config, make_batch, tmp_path, monkeypatch
):
    model = ATCAT(small_config).eval()
    model.mixture.fit(np.random.default_rng(0).normal(0, 50, 2000))
    with torch.no_grad():
        for p in model.parameters():  # move away from the default initialisation
            p.add_(torch.randn_like(p) * 0.01)
    save_model(
        model,
        tmp_path / "m",
        description="tiny test model",
        extra={TRAINING_FILE: {"step": 7, "classes": ["a"]}},
    )

    monkeypatch.setattr(pickle, "load", forbid)
    monkeypatch.setattr(pickle, "loads", forbid)
    monkeypatch.setattr(torch, "load", forbid)
    loaded = load_model(tmp_path / "m")

    assert isinstance(loaded, ATCAT) and not loaded.training
    assert loaded.config == small_config
    batch = make_batch([9, 4], n_metadata=2)
    before, after = model(batch), loaded(batch)
    torch.testing.assert_close(after.hidden, before.hidden, rtol=0, atol=0)
    torch.testing.assert_close(after.class_logits, before.class_logits, rtol=0, atol=0)
    torch.testing.assert_close(loaded.mixture.means, model.mixture.means, rtol=0, atol=0)

    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == sorted([CONFIG_FILE, WEIGHTS_FILE, TRAINING_FILE])
    config = read_config(tmp_path / "m")
    assert config["family"] == "atcat" and config["d_model"] == 32
    assert config["description"] == "tiny test model"
    assert read_extra(tmp_path / "m", TRAINING_FILE) == {"step": 7, "classes": ["a"]}


def test_missing_model_and_unknown_family_raise_model_not_found(small_config, tmp_path):
    with pytest.raises(ModelNotFoundError, match=CONFIG_FILE):
        load_model(tmp_path / "nothing")
    save_model(ATCAT(small_config), tmp_path / "m")
    config_file = tmp_path / "m" / CONFIG_FILE
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "family": "gpt"}))
    with pytest.raises(ModelNotFoundError, match="'gpt'.*atcat"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("name", ["notes.txt", "../up.json", CONFIG_FILE])
def test_extra_file_names_are_checked_before_writing(small_config, tmp_path, name):
    with pytest.raises(ValueError, match="extra file name"):
        save_model(ATCAT(small_config), tmp_path / "m", extra={name: {}})
    assert not (tmp_path / "m").exists()


def test_unregistered_models_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not registered"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "m")


def test_optional_files_and_the_class_list(small_config, tmp_path):
    path = save_model(ATCAT(small_config), tmp_path / "m", extra={TRAINING_FILE: {"step": 1}})
    assert read_optional_extra(path, CALIBRATION_FILE) is None
    assert read_calibration(path) is None and read_run_config(path) is None
    write_extra(path, TRAINING_FILE, {"config": {"steps": 3}})
    assert read_run_config(path) == {"steps": 3}
    assert class_names(path) == ["SNIa", "SNII", "AGN"]
    info = find_model(path)
    assert info.classes == ("SNIa", "SNII", "AGN") and info.classifies
    unlabelled = save_model(ATCAT(replace(small_config, class_names=())), tmp_path / "u")
    assert class_names(unlabelled) == [] and not find_model(unlabelled).classifies
