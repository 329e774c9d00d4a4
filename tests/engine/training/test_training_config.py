"""Training config: TOML round trip, validation, schedule, and the metadata scaler's JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.training.config import ScheduleConfig, TrainConfig, load_config
from engine.training.metadata import MetadataScaler

SHIPPED = Path(__file__).parents[3] / "configs" / "atcat-plasticc.toml"


def test_toml_round_trip(tmp_path):
    config = TrainConfig.from_dict(
        {
            "name": "x",
            "steps": 10,
            "data": {"train_folds": [2, 3], "metadata_names": ["mwebv"]},
            "model": {"d_model": 64, "local_windows": [2.0]},
            "loss": {"focal_gamma": 0.5, "soft_f1_weighting": "uniform"},
            "augment": {"subsample_rate": 0.5},
        }
    )
    path = tmp_path / "run.toml"
    path.write_text(config.to_toml())
    again = load_config(path)
    assert again == config
    assert again.data.train_folds == (2, 3) and again.model.local_windows == (2.0,)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_shipped_config_loads_and_never_trains_on_fold_0():
    config = load_config(SHIPPED)
    assert 0 not in config.data.train_folds
    assert not any(
        n.startswith("true_") or n == "hostgal_specz" for n in config.data.metadata_names
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('name = "x"\nsteps = 5\ntypo = 1\n', "unknown keys \\['typo'\\]"),
        (
            'name = "x"\nsteps = 5\n[model]\nclass_names = ["a"]\n',
            "unknown keys \\['class_names'\\]",
        ),
        ('name = "x"\nsteps = 5\n[data]\ntrain_folds = [0, 1]\n', "evaluation fold"),
        ('name = "x"\n', "incomplete"),
        ('name = "x"\nsteps = 5\n[optimizer]\nlr = -1\n', "lr must be positive"),
        ("name = \n", "cannot read"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_config(path)


def test_schedule_warms_up_holds_then_halves():
    schedule = ScheduleConfig(warmup=0.1, decay_start=0.5, half_life=0.1)
    factors = [schedule.factor(s, 100) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(f == 1.0 for f in factors[10:50])
    assert factors[60] == pytest.approx(0.5) and factors[70] == pytest.approx(0.25)
    assert max(factors) == 1.0  # a warm-up shorter than one step never overshoots
    assert ScheduleConfig(warmup=0.001).factor(0, 10) == 1.0


def test_metadata_scaler_keeps_missing_and_infinite_and_round_trips():
    rng = np.random.default_rng(0)
    values = rng.lognormal(size=(300, 2))
    values[:5, 0] = np.nan
    values[5, 1], values[6, 1] = np.inf, -np.inf
    scaler = MetadataScaler(("a", "b")).fit(values)
    scaled = scaler.transform(values)
    assert np.isnan(scaled[:5, 0]).all() and scaled[5, 1] == np.inf and scaled[6, 1] == -np.inf
    finite = scaled[np.isfinite(scaled[:, 0]), 0]
    assert abs(finite.mean()) < 0.1 and 0.8 < finite.std() < 1.2  # normal scores
    assert np.all(np.diff(scaled[np.argsort(values[:, 1])[2:-1], 1]) >= 0)  # monotone
    state = json.loads(json.dumps(scaler.to_dict()))
    np.testing.assert_array_equal(MetadataScaler.from_dict(state).transform(values), scaled)
    with pytest.raises(InputError, match="shape"):
        scaler.transform(values[:, :1])
