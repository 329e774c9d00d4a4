import numpy as np
import polars as pl
import pytest

from engine.baselines.gp import next_point_positions
from engine.data.packed import PackedLightCurves
from engine.infer.evaluate import evaluate_predictor, nll_at_gp_positions


def test_evaluation_report_is_complete(predictor, sample_table):
    report = evaluate_predictor(predictor, sample_table.head(40))
    assert report["n_objects"] == 40
    assert {"macro_f1", "class_balanced_macro_f1", "confusion_matrix"} <= set(
        report["classification"]
    )
    assert report["calibration"]["before"]["reliability"]["ece"] >= 0
    assert report["early_detection"]["by_points"]
    assert np.isfinite(report["next_point_nll"]["mean"])


def test_gp_comparable_nll_scores_the_gp_positions(tmp_path, predictor, sample_table):
    table = sample_table.head(60)
    table_path, folds_path = tmp_path / "t.parquet", tmp_path / "f.parquet"
    table.write_parquet(table_path)
    pl.DataFrame({"object_id": table["object_id"], "fold": np.zeros(60, np.int64)}).write_parquet(
        folds_path
    )
    report = nll_at_gp_positions(predictor, table_path, folds_path, per_class=2, max_positions=3)
    positions = next_point_positions(
        PackedLightCurves.from_frame(table),
        per_class=2,
        max_positions=3,
        max_points=predictor.max_points,
    )
    assert report["n_points"] == sum(len(p) for p in positions.values())

    # by hand: point k of an object is predicted by row k - 1 of next_point_log_prob
    by_hand = []
    for k_object, points in sorted(positions.items()):
        log_prob = predictor.next_point_log_prob(table[int(k_object)]).probabilities[:, 0]
        by_hand.append(-log_prob[np.asarray(points) - 1])
    assert report["mean"] == pytest.approx(np.concatenate(by_hand).mean(), rel=1e-5)
    assert report["n_objects"] == len(positions)
