"""``python -m engine.baselines --data DIR --out FILE``: run every baseline, write the JSON."""

from __future__ import annotations

import argparse
import sys

from engine.baselines.report import run_baselines
from engine.errors import CatscopeError


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the baselines and print the headline figures."""
    parser = argparse.ArgumentParser(prog="python -m engine.baselines", description=__doc__)
    parser.add_argument("--data", default="data/plasticc", help="directory of the benchmark data")
    parser.add_argument("--out", default="assets/baselines/plasticc.json", help="JSON to write")
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes for the GP")
    parser.add_argument("--gp-per-class", type=int, default=16, help="GP objects per class")
    parser.add_argument("--gp-positions", type=int, default=20, help="GP targets per object")
    args = parser.parse_args(argv)
    try:
        report = run_baselines(
            args.data,
            args.out,
            n_jobs=args.n_jobs,
            gp_per_class=args.gp_per_class,
            gp_max_positions=args.gp_positions,
        )
    except CatscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, result in report["lightgbm"].items():
        print(
            f"LightGBM {name}: macro F1 {result['macro_f1']:.3f}, class-balanced "
            f"{result['class_balanced_macro_f1']:.3f}, accuracy {result['accuracy']:.3f}"
        )
    gp = report["gp_next_point"]
    print(
        f"GP next point: NLL mean {gp['nll_mean']:.3f}, median {gp['nll_median']:.3f} over "
        f"{gp['n_points']} points of {gp['n_objects']} objects; report in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
