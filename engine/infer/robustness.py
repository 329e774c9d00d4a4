"""Robustness benchmark: classifiers on PLAsTiCC fold 0 as other surveys would have observed it.

Fold 0 (never trained on) is degraded once per survey profile of
:data:`engine.training.surveys.PROFILES` (bands, depth, cadence, detection rule, total or
difference photometry) with a fixed seed, so every model reads the very same degraded light
curves; ``clean`` is fold 0 as it is. Each model then scores every set through its
:class:`~engine.infer.predictor.Predictor`, the path ``catscope score`` takes (total photometry
is converted at the model door), and :func:`engine.evaluation.robustness.robustness_summary`
reports macro F1, accuracy, per-class recall, ECE, mean confidence and, for models with a domain
reference, how well the in-domain flag separates right from wrong answers. Objects a survey
would not have seen (no point left after degradation) are counted, not scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from engine.data.schema import LABEL_COLUMN, read_table
from engine.errors import InputError
from engine.evaluation.robustness import robustness_summary
from engine.infer.batches import InferenceSettings
from engine.infer.predictor import load_predictor

#: the undegraded set
CLEAN = "clean"
#: fold scored; the models train on the others
TEST_FOLD = 0
#: the comparison the README reports: the shipped ATCAT and its stage-1 (PLAsTiCC only) weights
DEFAULT_MODELS = (
    "assets/baselines/atcat-plasticc-v1",
    "atcat-plasticc",
)
#: suffix of a profile name whose objects are first moved near enough for the survey to see them
NEAR = ":near"
#: shallow surveys, which see few of fold 0's objects where they are: also scored near
NEAR_PROFILES = ("ztf", "atlas")
#: classes whose recall the Markdown table shows (the issue's targets)
SHOWN_RECALLS = ("SNIa", "RRL")


def held_out_fold(table_path: str | Path, folds_path: str | Path) -> pl.DataFrame:
    """Labelled objects of fold 0 of the canonical table at ``table_path``."""
    folds = pl.read_parquet(folds_path, columns=["object_id", "fold"]).with_columns(
        pl.col("object_id").cast(pl.String)
    )
    chosen = folds.filter(pl.col("fold") == TEST_FOLD).select("object_id")
    table = read_table(table_path).join(chosen, on="object_id", how="semi", maintain_order="left")
    table = table.filter(pl.col(LABEL_COLUMN).is_not_null()) if LABEL_COLUMN in table else table
    if table.is_empty() or LABEL_COLUMN not in table.columns:
        msg = f"{table_path}: no labelled object of fold {TEST_FOLD} in {folds_path}"
        raise InputError(msg)
    return table


def degraded_sets(
    table: pl.DataFrame, profiles: Sequence[str], *, seed: int = 0
) -> dict[str, pl.DataFrame]:
    """``table`` as it is (:data:`CLEAN`) and degraded to each profile, one seed for all.

    A name ending in :data:`NEAR` (``"ztf:near"``) degrades the objects after moving each
    near enough for that survey to see it (``depth_match`` of
    :func:`~engine.training.surveys.degrade_table`): a shallow survey's real sample.
    """
    from engine.training.surveys import degrade_table, resolve_profile

    def degraded(name: str) -> pl.DataFrame:
        if name == CLEAN:
            return table
        base = name.removesuffix(NEAR)
        try:
            profile = resolve_profile(base)
        except ValueError as exc:
            msg = f"{exc} (or {CLEAN!r} for fold 0 as it is, or a profile + {NEAR!r})"
            raise InputError(msg) from exc
        return degrade_table(table, profile, seed=seed, depth_match=base != name)

    return {name: degraded(name) for name in profiles}


def robustness_benchmark(
    models: Sequence[str | Path],
    table_path: str | Path,
    folds_path: str | Path,
    *,
    profiles: Sequence[str] | None = None,
    seed: int = 0,
    settings: InferenceSettings | None = None,
) -> pl.DataFrame:
    """Score every classifier of ``models`` on fold 0 clean and degraded to every profile.

    Parameters
    ----------
    models : model names or directories (classifiers)
    table_path, folds_path : the labelled canonical table and its ``object_id, fold`` split
    profiles : profile names (default: :data:`CLEAN`, every built-in profile and the
        :data:`NEAR_PROFILES` moved near, see :func:`degraded_sets`)
    seed : seed of the degradation, shared by every model
    settings : inference device and precision

    Returns
    -------
    One row per model and profile: ``model, profile, n_fold, n_observed`` and the flat
    :func:`~engine.evaluation.robustness.robustness_summary` (``recall_<class>`` columns).
    """
    from engine.training.surveys import PROFILES

    if not models:
        msg = "robustness_benchmark needs at least one model name or directory"
        raise InputError(msg)
    fold = held_out_fold(table_path, folds_path)
    default = [CLEAN, *PROFILES, *(f"{name}{NEAR}" for name in NEAR_PROFILES)]
    sets = degraded_sets(fold, profiles or default, seed=seed)
    rows = []
    for name in models:
        predictor = load_predictor(name, settings=settings)
        for profile, table in sets.items():
            predictions = predictor.predict(table)
            probabilities = predictions.select(f"p_{c}" for c in predictor.classes).to_numpy()
            in_domain = predictions["in_domain"] if "in_domain" in predictions.columns else None
            summary = robustness_summary(
                table[LABEL_COLUMN].to_numpy(),
                probabilities,
                predictor.classes,
                in_domain=None if in_domain is None else in_domain.to_numpy(),
            )
            recall = summary.pop("recall")
            rows.append(
                {
                    "model": predictor.info.name,
                    "profile": profile,
                    "n_fold": fold.height,
                    "n_observed": table.height,
                    **summary,
                    **{f"recall_{c}": r for c, r in recall.items()},
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def _cell(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def robustness_markdown(results: pl.DataFrame) -> str:
    """Format the benchmark as a README table: one row per profile and model."""
    header = (
        "| profile | model | objects seen | macro F1 | accuracy | "
        + " | ".join(f"{c} recall" for c in SHOWN_RECALLS)
        + " | ECE | mean confidence | out of domain | accuracy in / out of domain |"
    )
    lines = [header, "|---|---|---:|---:|---:|" + "---:|" * (len(SHOWN_RECALLS) + 4)]
    profiles = results["profile"].unique(maintain_order=True)
    by_profile = pl.concat(results.filter(pl.col("profile") == p) for p in profiles)
    for row in by_profile.iter_rows(named=True):
        domain = row.get("share_out_of_domain")
        inside, outside = row.get("accuracy_in_domain"), row.get("accuracy_out_of_domain")
        split = "–" if domain is None else f"{_cell(inside, 2)} / {_cell(outside, 2)}"
        recalls = " | ".join(_cell(row.get(f"recall_{c}")) for c in SHOWN_RECALLS)
        lines.append(
            f"| {row['profile']} | {row['model']} | {row['n_observed']:,} of {row['n_fold']:,} | "
            f"{_cell(row['macro_f1'])} | {_cell(row['accuracy'])} | {recalls} | "
            f"{_cell(row['ece'])} | {_cell(row['mean_confidence'])} | "
            f"{'–' if domain is None else f'{domain:.0%}'} | {split} |"
        )
    return "\n".join(lines) + "\n"
