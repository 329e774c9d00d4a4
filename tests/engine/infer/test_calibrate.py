import shutil

import numpy as np
import pytest

from engine.infer import load_predictor
from engine.infer.calibrate import calibrate_model
from engine.models.checkpoint import CALIBRATION_FILE, read_extra


def test_calibration_is_stored_and_used(tmp_path, model_dir, sample_table):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    before = load_predictor(copy)
    assert before.temperature == 1.0
    report = calibrate_model(copy, sample_table.head(200))
    stored = read_extra(copy, CALIBRATION_FILE)
    assert stored["n_objects"] == 200
    after = load_predictor(copy)
    assert after.temperature == pytest.approx(report["temperature"])
    assert after.temperature != 1.0
    # calibration rescales probabilities but never changes the predicted class
    table = sample_table.head(20)
    assert (
        before.predict(table)["pred_class"].to_list()
        == after.predict(table)["pred_class"].to_list()
    )
    assert report["after"]["nll"] <= report["before"]["nll"] + 1e-9
    assert np.isfinite(report["after"]["reliability"]["ece"])


def test_calibration_can_include_survey_observed_copies(tmp_path, model_dir, sample_table):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    table = sample_table.head(100)
    calibrate_model(copy, table, surveys=("lsst_gr_alerts",))
    stored = read_extra(copy, CALIBRATION_FILE)
    assert stored["surveys"] == ["lsst_gr_alerts"]
    # every object once, plus those the alert profile still sees with >= 3 points
    assert table.height < stored["n_objects"] <= 2 * table.height
