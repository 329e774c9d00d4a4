"""Run every baseline on a benchmark directory and write one JSON report."""

from __future__ import annotations

import json
import os
from importlib.metadata import version
from pathlib import Path
from time import perf_counter

from engine.baselines.gp import run_gp_baseline
from engine.baselines.lightgbm import run_lightgbm_baseline
from engine.data.plasticc import EVAL_FOLD, FOLDS_NAME, TABLE_NAME
from engine.errors import InputError


def run_baselines(
    data_dir: str | Path,
    out: str | Path,
    *,
    n_jobs: int = 2,
    gp_per_class: int = 16,
    gp_max_positions: int = 20,
) -> dict:
    """Score LightGBM (with and without metadata) and the GP on ``data_dir``; write ``out``.

    ``data_dir`` holds the canonical table and its folds under the names ``catscope data``
    writes (``plasticc.parquet``, ``folds.parquet``); ``gp_per_class`` and
    ``gp_max_positions`` are passed to :func:`~engine.baselines.gp.run_gp_baseline`.
    Returns the report that was written.
    """
    data_dir, out = Path(data_dir), Path(out)
    table, folds = data_dir / TABLE_NAME, data_dir / FOLDS_NAME
    for path in (table, folds):
        if not path.is_file():
            msg = f"{path} not found; build the benchmark data first (`catscope data plasticc`)"
            raise InputError(msg)
    started = perf_counter()
    lightgbm = {
        "light_curve_only": run_lightgbm_baseline(table, folds, use_metadata=False),
        "with_metadata": run_lightgbm_baseline(table, folds, use_metadata=True),
    }
    gp = run_gp_baseline(
        table,
        folds,
        fold=EVAL_FOLD,
        per_class=gp_per_class,
        max_positions=gp_max_positions,
        n_jobs=n_jobs,
    )
    report = {
        "data": str(data_dir),
        "eval_fold": EVAL_FOLD,
        "lightgbm": lightgbm,
        "gp_next_point": gp,
        "total_time_s": round(perf_counter() - started, 2),
        "environment": {
            "cpu_count": os.cpu_count(),
            **{name: version(name) for name in ("lightgbm", "light-curve", "scikit-learn")},
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report
