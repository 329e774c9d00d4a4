"""The held-out-class test of the anomaly scorers (ATCAT paper, section 4.3), per model.

For each held-out class (KN, TDE and Mira by default): fit the scorers of
:mod:`engine.index.anomaly` on the embeddings of the training folds *without* that class,
score every object of the evaluation fold, and measure how well the scores find the held-out
class there: AUROC, and precision among the top 1 % of scores (compare it with the class's
base rate, also reported). Model-supplied scores (e.g. RTF reconstruction error) are
evaluated the same way, though nothing in them is fitted.

Unlike the paper, the *model* was trained on every class (folds 1-4); only the scorers miss
the held-out class, so this measures how far the embeddings separate a class the scorers have
not seen, not how a model reacts to a truly new kind of object.

Run it with ``catscope anomaly-benchmark`` (every shipped model, or ``--models ...``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from engine.data.folds import read_folds
from engine.data.plasticc import EVAL_FOLD
from engine.data.schema import LABEL_COLUMN, read_table
from engine.errors import InputError, InvalidValueError
from engine.index.anomaly import AnomalyScorers
from engine.index.catalog_build import resolve_models
from engine.index.forward import model_anomaly_scores
from engine.index.threads import thread_cap
from engine.infer import InferenceSettings
from engine.infer.embedders import load_embedder

DEFAULT_CLASSES = ("KN", "TDE", "Mira")
TOP_FRACTION = 0.01
_COLUMNS = (
    "held_out",
    "scorer",
    "auroc",
    "precision_top",
    "found_top",
    "n_top",
    "n_scored",
    "n_positive",
    "base_rate",
)


def held_out_benchmark(
    embeddings: np.ndarray,
    labels: Sequence[str],
    folds: Sequence[int],
    *,
    classes: Sequence[str] = DEFAULT_CLASSES,
    test_fold: int = EVAL_FOLD,
    top_fraction: float = TOP_FRACTION,
    extra: Mapping[str, np.ndarray] | None = None,
) -> pl.DataFrame:
    """Held-out-class results for one set of embeddings (N, d), one row per class and scorer.

    Parameters
    ----------
    embeddings : one row per object
    labels, folds : (N,) class and fold of each object
    classes : classes to hold out, one at a time
    test_fold : the fold that is scored; the others (minus the held-out class) are fitted on
    top_fraction : share of the scored objects counted as "top" for the precision
    extra : model-supplied per-object scores (name -> (N,) array, higher = stranger)

    Returns ``held_out, scorer, auroc, precision_top`` (share of the held-out class among the
    ``n_top`` highest scores), ``found_top`` (how many held-out objects are among them: a rare
    class caps the precision at ``n_positive / n_top``), ``n_top, n_scored, n_positive,
    base_rate`` (``n_positive / n_scored``, the precision of a random ranking).
    """
    labels, folds = np.asarray(labels, dtype=str), np.asarray(folds)
    if not 0 < top_fraction <= 1:
        msg = f"top_fraction must be in (0, 1], got {top_fraction}"
        raise InvalidValueError(msg)
    test = folds == test_fold
    missing = [c for c in classes if not np.any(labels[test] == c)]
    if missing:
        known = sorted(set(labels.tolist()))
        msg = f"class(es) {missing} have no object in fold {test_fold}; known: {known}"
        raise InvalidValueError(msg)
    n_top = max(1, math.ceil(top_fraction * test.sum()))
    rows = []
    for held_out in classes:
        reference = embeddings[~test & (labels != held_out)]
        scorers = AnomalyScorers().fit(reference)
        scores = scorers.score(
            embeddings[test], extra={k: np.asarray(v)[test] for k, v in (extra or {}).items()}
        )
        positive = labels[test] == held_out
        for scorer in scores.columns:
            values = scores[scorer].to_numpy()
            top = np.argsort(-values, kind="stable")[:n_top]
            rows.append({
                "held_out": held_out,
                "scorer": scorer,
                "auroc": float(roc_auc_score(positive, values)),
                "precision_top": float(positive[top].mean()),
                "found_top": int(positive[top].sum()),
                "n_top": n_top,
                "n_scored": len(positive),
                "n_positive": int(positive.sum()),
                "base_rate": float(positive.mean()),
            })  # fmt: skip
    return pl.DataFrame(rows).select(_COLUMNS)


def run_anomaly_benchmark(
    table_path: str | Path,
    folds_path: str | Path,
    models: Sequence[str] | None = None,
    *,
    classes: Sequence[str] = DEFAULT_CLASSES,
    test_fold: int = EVAL_FOLD,
    top_fraction: float = TOP_FRACTION,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
    threads: int | None = None,
) -> pl.DataFrame:
    """Run the held-out-class benchmark for every model (default: every shipped model).

    ``table_path`` is a labelled canonical table and ``folds_path`` its ``object_id, fold``
    file (``catscope data plasticc`` writes both). Returns :func:`held_out_benchmark`'s
    columns with ``model`` first.
    """
    table = read_table(table_path)
    if LABEL_COLUMN not in table.columns:
        msg = f"{table_path}: the benchmark needs a {LABEL_COLUMN!r} column"
        raise InputError(msg)
    table = table.join(read_folds(folds_path), on="object_id", how="inner", maintain_order="left")
    if table.height == 0:
        msg = f"{folds_path}: no object id matches {table_path}"
        raise InputError(msg)
    frames = []
    with thread_cap(threads):
        for info in resolve_models(models, models_dir):
            embedder = load_embedder(info.path, settings=settings)
            result = held_out_benchmark(
                embedder.embed(table),
                table[LABEL_COLUMN].to_numpy(),
                table["fold"].to_numpy(),
                classes=classes,
                test_fold=test_fold,
                top_fraction=top_fraction,
                extra=model_anomaly_scores(embedder, table),
            )
            frames.append(result.select(pl.lit(info.name).alias("model"), pl.all()))
    return pl.concat(frames)


def benchmark_markdown(results: pl.DataFrame) -> str:
    """One Markdown table: a row per model and scorer; AUROC and top precision per class."""
    classes = results["held_out"].unique(maintain_order=True).to_list()
    header = ["model", "scorer"] + [f"{c} {m}" for c in classes for m in ("AUROC", "P@top")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (model, scorer), group in results.group_by(["model", "scorer"], maintain_order=True):
        cells = [model, scorer]
        for c in classes:
            row = group.filter(pl.col("held_out") == c).row(0, named=True)
            found = f"{row['found_top']}/{row['n_positive']}"
            cells += [f"{row['auroc']:.3f}", f"{row['precision_top']:.2f} ({found})"]
        lines.append("| " + " | ".join(cells) + " |")
    first = results.row(0, named=True)
    rates = ", ".join(
        f"{r['held_out']} {r['n_positive']} ({100 * r['base_rate']:.1f} %)"
        for r in results.unique("held_out", maintain_order=True).iter_rows(named=True)
    )
    lines += [
        "",
        f"P@top: share of the held-out class among the {first['n_top']} highest scores of "
        f"{first['n_scored']:,} scored objects (in brackets: held-out objects found there / "
        f"scored). Held-out objects scored (base rate): {rates}.",
    ]
    return "\n".join(lines)
