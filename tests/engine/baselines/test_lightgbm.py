import numpy as np
import polars as pl
import pytest

from engine.baselines.lightgbm import LightGBMSettings, evaluate_lightgbm, run_lightgbm_baseline
from engine.errors import InputError, InvalidValueError

FAST = LightGBMSettings(max_rounds=200, early_stopping_rounds=20, n_jobs=1)


@pytest.mark.parametrize("use_metadata", [False, True])
def test_lightgbm_separates_toy_classes(toy_files, use_metadata):
    result = run_lightgbm_baseline(*toy_files, use_metadata=use_metadata, settings=FAST)
    assert result["n_objects"] == 16 and result["n_train"] == 64
    assert result["class_names"] == ["burst", "flat"]
    assert result["macro_f1"] > 0.9  # chance is 0.5
    assert {c["class"] for c in result["per_class"]} == {"burst", "flat"}
    if not use_metadata:
        assert not any("hostgal" in name for name in result["top_features_by_gain"])


def test_lightgbm_is_deterministic_and_cannot_learn_noise():
    rng = np.random.default_rng(0)
    n = 200
    features = pl.DataFrame(
        {"object_id": [str(i) for i in range(n)], **{f"x{j}": rng.normal(size=n) for j in range(5)}}
    )
    labels = np.array(["a", "b"])[rng.integers(0, 2, n)]
    folds = np.arange(n) % 5
    first = evaluate_lightgbm(features, labels, folds, settings=FAST)
    again = evaluate_lightgbm(features, labels, folds, settings=FAST)
    assert first["macro_f1"] == again["macro_f1"]
    assert first["macro_f1"] < 0.7  # random labels: no better than chance by much


def test_lightgbm_rejects_a_split_without_inner_fold(toy_files):
    features = pl.DataFrame({"object_id": ["a", "b", "c"], "x": [0.0, 1.0, 2.0]})
    with pytest.raises(InvalidValueError, match="eval_fold=0"):
        evaluate_lightgbm(features, np.array(["p", "q", "p"]), np.array([0, 1, 1]))


def test_missing_fold_is_reported(toy_files, tmp_path):
    table, folds = toy_files
    pl.read_parquet(folds).head(3).write_parquet(tmp_path / "folds.parquet")
    with pytest.raises(InputError, match="have no fold"):
        run_lightgbm_baseline(table, tmp_path / "folds.parquet", use_metadata=False)
