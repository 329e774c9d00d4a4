"""Does the domain flag separate right from wrong answers? ATCAT on PLAsTiCC fold 0, degraded.

Run from the repository root (after ``catscope domain-reference --model atcat-plasticc``)::

    python -m benchmarks.domain --data data/plasticc

Fold 0 (never trained on, never in the domain reference) is scored as it is and degraded:

``as is``           the light curves unchanged (about 5 % out of domain by construction)
``no metadata``     host photo-z, its error, MW E(B-V) and the DDF flag hidden (as an upload
                    without metadata)
``g, r, SNR > 5``   only lsst_g and lsst_r points with flux / flux_err > 5 (a two-band
                    detections-only survey); objects left with no point are dropped
``band at 20000 Å`` lsst_y renamed ``w`` and moved to 20000 Å

For each: the share flagged out of domain and the accuracy of the objects flagged in and out of
domain, by the full flag and by the k-NN percentile alone (no input checks). Prints a Markdown
table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

from engine.data.schema import POINT_COLUMNS, read_table
from engine.infer import load_predictor

SNR_MIN = 5.0
FAR_BAND, FAR_WAVELENGTH = "w", 20000.0


def fold_zero(data: Path) -> pl.DataFrame:
    """Fold-0 objects of the PLAsTiCC training set."""
    folds = pl.read_parquet(data / "folds.parquet").filter(pl.col("fold") == 0)
    return read_table(data / "plasticc.parquet").join(
        folds.select(pl.col("object_id").cast(pl.String)), on="object_id", how="semi"
    )


def without_metadata(table: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    """``table`` with the model's metadata columns dropped."""
    return table.drop([n for n in names if n in table.columns])


def per_point(table: pl.DataFrame, change) -> pl.DataFrame:
    """``table`` with ``change(points)`` applied to its points, one row per observation.

    Objects left with no point are dropped.
    """
    points = table.select("object_id", *POINT_COLUMNS).explode(list(POINT_COLUMNS))
    curves = change(points).group_by("object_id", maintain_order=True).agg(*POINT_COLUMNS)
    return table.drop(POINT_COLUMNS).join(curves, on="object_id", how="inner")


def g_r_detections(points: pl.DataFrame) -> pl.DataFrame:
    """Only lsst_g / lsst_r points with SNR > 5."""
    return points.filter(
        pl.col("band").is_in(["lsst_g", "lsst_r"]) & (pl.col("flux") / pl.col("flux_err") > SNR_MIN)
    )


def far_band(points: pl.DataFrame) -> pl.DataFrame:
    """lsst_y points renamed ``w`` at 20000 Å."""
    is_y = pl.col("band") == "lsst_y"
    return points.with_columns(
        pl.when(is_y).then(pl.lit(FAR_BAND)).otherwise("band").alias("band"),
        pl.when(is_y)
        .then(FAR_WAVELENGTH)
        .otherwise("wavelength")
        .cast(pl.Float32)
        .alias("wavelength"),
    )


def row(name: str, table: pl.DataFrame, predictions: pl.DataFrame, knn_in: np.ndarray) -> str:
    """One Markdown row: flagged share and accuracies by the full flag and by k-NN alone."""
    right = predictions["pred_class"].to_numpy() == table["label"].to_numpy()
    inside = predictions["in_domain"].to_numpy()

    def accuracy(mask: np.ndarray) -> str:
        return f"{right[mask].mean():.3f} ({mask.sum():,})" if mask.any() else "- (0)"

    return (
        f"| {name} | {table.height:,} | {1 - inside.mean():.1%} | {accuracy(inside)} | "
        f"{accuracy(~inside)} | {1 - knn_in.mean():.1%} | {accuracy(knn_in)} | "
        f"{accuracy(~knn_in)} | {right.mean():.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/plasticc"))
    parser.add_argument("--model", default="atcat-plasticc")
    args = parser.parse_args()
    predictor = load_predictor(args.model)
    if predictor.domain is None:
        raise SystemExit(f"{args.model} has no domain reference: run catscope domain-reference")
    threshold = predictor.domain.threshold
    table = fold_zero(args.data)
    variants = {
        "as is": table,
        "no metadata": without_metadata(table, predictor.model.config.metadata_names),
        "g, r, SNR > 5": per_point(table, g_r_detections),
        f"band at {FAR_WAVELENGTH:.0f} Å": per_point(table, far_band),
    }
    print(
        "| fold 0 | objects | out of domain | accuracy in (n) | accuracy out (n) "
        "| k-NN alone: out | accuracy in (n) | accuracy out (n) | accuracy all |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for name, variant in variants.items():
        predictions, embeddings = predictor.predict_and_embed(variant)
        knn_in = predictor.domain.knn_percentile(embeddings) <= threshold
        print(row(name, variant, predictions, knn_in))


if __name__ == "__main__":
    main()
