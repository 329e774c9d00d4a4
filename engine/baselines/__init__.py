"""Classical baselines on the fixed PLAsTiCC split: LightGBM on features, and a GP next-point model.

``python -m engine.baselines --data data/plasticc --out assets/baselines/plasticc.json`` runs
both and writes one JSON report.
"""

from engine.baselines.gp import next_point_nll, next_point_positions, run_gp_baseline
from engine.baselines.lightgbm import run_lightgbm_baseline
from engine.baselines.report import run_baselines

__all__ = [
    "next_point_nll",
    "next_point_positions",
    "run_baselines",
    "run_gp_baseline",
    "run_lightgbm_baseline",
]
