import json

from engine.baselines.__main__ import main


def test_entry_point_writes_one_json_report(toy_files, tmp_path, capsys):
    out = tmp_path / "nested" / "baselines.json"
    args = [
        "--data",
        str(toy_files[0].parent),
        "--out",
        str(out),
        "--n-jobs",
        "1",
        "--gp-per-class",
        "2",
        "--gp-positions",
        "3",
    ]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert set(report["lightgbm"]) == {"light_curve_only", "with_metadata"}
    assert report["lightgbm"]["with_metadata"]["use_metadata"] is True
    assert report["gp_next_point"]["n_objects"] == 4  # 2 per class
    assert report["gp_next_point"]["n_points"] == 12
    assert "LightGBM light_curve_only: macro F1" in capsys.readouterr().out


def test_entry_point_reports_missing_data(tmp_path, capsys):
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "not found" in capsys.readouterr().err
