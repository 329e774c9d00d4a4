"""Label efficiency (Astromer 2's protocol): macro F1 from few labels per class, on fold 0.

Run from the repository root (a few minutes on 2 idle cores; rows already measured are kept
in the cache and skipped, ``--report-only`` rewrites the report from them)::

    python -m benchmarks.label_efficiency --data data/plasticc

Fold 0 is held out from the training of every shipped model. For each size n in
:data:`SIZES` and each of :data:`SEEDS`, n objects per class are drawn from fold 0 (at most
:data:`MAX_SHARE` of a class, so every class keeps test objects; the table says where that cap
binds) and the rest of fold 0 is the test set. On the same draws:

* every family's frozen embeddings + a class-weighted logistic-regression head
  (:func:`engine.training.head.fit_head`, the head ``catscope adapt`` fits);
* the feature + LightGBM baseline (:mod:`engine.baselines`), light curves only and with the
  metadata ATCAT reads, with a fixed :data:`LIGHTGBM_ROUNDS` rounds (too few labels for an
  early-stopping split);
* the shipped ATCAT fine-tuned end to end with a fresh class head (:func:`finetune_atcat`),
  a fixed :data:`FINETUNE_STEPS` steps whatever the number of labels, for
  :data:`FINETUNE_SIZES` and :data:`FINETUNE_SEEDS`.

Embeddings and features of fold 0 are computed once and cached in ``data/label_efficiency/``.
Writes ``benchmarks/LABEL_EFFICIENCY.md`` and ``benchmarks/label_efficiency.png``.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

import lightgbm
import matplotlib
import numpy as np
import polars as pl
import torch
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits
from torch import nn

from benchmarks.domain import fold_zero
from engine.baselines.features import MODEL_METADATA
from engine.baselines.lightgbm import LightGBMSettings, design_matrix
from engine.data.batching import collate
from engine.data.packed import PackedLightCurves
from engine.evaluation.metrics import macro_f1_scores
from engine.infer import load_predictor
from engine.infer.batches import InferenceSettings, iter_batches
from engine.infer.embedders import load_embedder
from engine.training.head import fit_head

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402  (after the backend is chosen)

MODELS = ("atcat-plasticc", "astromer2-plasticc", "astraclr-plasticc", "rtf-plasticc")
#: the models trained without any label
LABEL_FREE = ("astromer2-plasticc", "astraclr-plasticc")
SIZES = (10, 20, 50, 100, 500)
SEEDS = (0, 1, 2, 3, 4)
FINETUNE_SIZES = (10, 20)
FINETUNE_SEEDS = SEEDS
#: largest share of a class drawn as labels, so every class keeps objects to test on
MAX_SHARE = 0.8
#: boosting rounds at the learning rate below (the baseline's 0.05 with early stopping needs
#: a validation split that 10 labels per class cannot spare)
LIGHTGBM_ROUNDS, LIGHTGBM_RATE = 100, 0.1
FINETUNED = "atcat-plasticc fine-tuned"
#: fine-tune: optimiser steps of FINETUNE_BATCH objects (19 epochs of 10 labels per class, 2 of
#: 500; ~15 s on 2 idle cores), learning rates of the pretrained body and of the fresh head
FINETUNE_STEPS = 40
BODY_LR, HEAD_LR = 1e-4, 3e-3
FINETUNE_BATCH = 64
OUT_MD = Path("benchmarks/LABEL_EFFICIENCY.md")
OUT_PNG = Path("benchmarks/label_efficiency.png")


def cached_embeddings(name: str, table: pl.DataFrame, cache: Path) -> np.ndarray:
    """Embeddings of ``table`` by model ``name``, computed once and kept as Parquet."""
    path = cache / f"embeddings-{name}.parquet"
    if not path.is_file():
        embedder = load_embedder(name, settings=InferenceSettings.fast())
        vectors = embedder.embed(table)
        pl.DataFrame({"object_id": table["object_id"], "embedding": vectors}).write_parquet(path)
    frame = pl.read_parquet(path)
    assert frame["object_id"].to_list() == table["object_id"].to_list(), path
    return frame["embedding"].to_numpy().astype(np.float32)


def cached_features(table: pl.DataFrame, cache: Path) -> pl.DataFrame:
    """Light-curve features plus metadata of ``table``, computed once and kept as Parquet."""
    path = cache / "features.parquet"
    if not path.is_file():
        packed = PackedLightCurves.from_frame(table)
        features = design_matrix(packed, use_metadata=True)
        features.write_parquet(path)
    return pl.read_parquet(path)


def draw(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Boolean mask of ``n`` objects per class (at most :data:`MAX_SHARE` of it), by seed."""
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(labels), dtype=bool)
    for name in np.unique(labels):
        members = np.flatnonzero(labels == name)
        take = min(n, int(MAX_SHARE * len(members)))
        chosen[rng.choice(members, size=take, replace=False)] = True
    return chosen


def macro_f1(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> float:
    """Macro F1 over ``classes`` of class names."""
    codes = {name: k for k, name in enumerate(classes)}
    return float(
        macro_f1_scores(
            np.array([codes[t] for t in truth]),
            np.array([codes[p] for p in predicted]),
            len(classes),
        ).macro
    )


def lightgbm_predict(x: np.ndarray, labels: np.ndarray, train: np.ndarray, seed: int):
    """Class names predicted for the test rows by the baseline's LightGBM, fixed rounds."""
    classes, codes = np.unique(labels[train], return_inverse=True)
    settings = LightGBMSettings(seed=seed, min_data_in_leaf=5, learning_rate=LIGHTGBM_RATE)
    params = settings.params(len(classes))
    data = lightgbm.Dataset(x[train], codes, weight=compute_sample_weight("balanced", codes))
    model = lightgbm.train(params, data, num_boost_round=LIGHTGBM_ROUNDS)
    return classes[model.predict(x[~train]).argmax(axis=1)]


def finetune_atcat(table: pl.DataFrame, labels: np.ndarray, train: np.ndarray, seed: int):
    """Shipped ATCAT with a fresh class head, trained end to end on the train rows.

    Class-weighted cross-entropy at each object's last point, AdamW, :data:`FINETUNE_STEPS`
    steps of shuffled batches under bf16 autocast; returns the class names predicted for the
    other rows.
    """
    torch.manual_seed(seed)
    predictor = load_predictor(MODELS[0], settings=InferenceSettings.fast())
    model = predictor.model.train()
    classes, codes = np.unique(labels[train], return_inverse=True)
    d = model.config.d_model
    model.class_head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, len(classes)))
    body = [p for name, p in model.named_parameters() if not name.startswith("class_head")]
    optimiser = torch.optim.AdamW(
        [{"params": body, "lr": BODY_LR}, {"params": model.class_head.parameters(), "lr": HEAD_LR}],
        weight_decay=0.01,
    )
    weights = torch.tensor(compute_sample_weight("balanced", codes), dtype=torch.float32)
    target = torch.tensor(codes)
    settings = InferenceSettings.fast(max_batch=FINETUNE_BATCH)
    packed = predictor.pack(table.filter(pl.Series(train)))
    rng = np.random.default_rng(seed)
    chunks: list[np.ndarray] = []
    while len(chunks) < FINETUNE_STEPS:  # epochs of shuffled batches
        order = rng.permutation(len(packed))
        chunks += [order[i : i + FINETUNE_BATCH] for i in range(0, len(order), FINETUNE_BATCH)]
    for chunk in chunks[:FINETUNE_STEPS]:
        batch = collate(
            packed, chunk, max_points=model.config.max_points,
            metadata_names=model.config.metadata_names,
        )  # fmt: skip
        with settings.autocast():
            logits = model.last_point(batch)[0].float()
        loss = nn.functional.cross_entropy(logits, target[chunk], reduction="none")
        loss = (loss * weights[chunk]).sum() / weights[chunk].sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    test = predictor.pack(table.filter(pl.Series(~train)))
    predicted = np.zeros(len(test), dtype=np.int64)
    batches = iter_batches(
        test, settings, max_points=model.config.max_points,
        metadata_names=model.config.metadata_names,
    )  # fmt: skip
    with torch.inference_mode():
        for index, batch in batches:
            with settings.autocast():
                predicted[index] = model.last_point(batch)[0].float().argmax(1).numpy()
    return classes[predicted]


class Results:
    """Result rows kept in a Parquet file as they come, so a rerun skips what is measured."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = pl.read_parquet(path).to_dicts() if path.is_file() else []

    def measure(self, method: str, n: int, seed: int, predict, truth, classes) -> None:
        """Run ``predict()`` (class names of the test rows) unless done; store its macro F1."""
        if any((r["method"], r["n_per_class"], r["seed"]) == (method, n, seed) for r in self.rows):
            return
        started = time.perf_counter()
        f1 = macro_f1(truth, predict(), classes)
        seconds = time.perf_counter() - started
        self.rows.append({"method": method, "n_per_class": n, "seed": seed, "macro_f1": f1,
                          "seconds": round(seconds, 2)})  # fmt: skip
        pl.DataFrame(self.rows).write_parquet(self.path)
        print(f"n={n} seed={seed} {method}: {f1:.3f} ({seconds:.1f} s)", flush=True)


def head_predict(x: np.ndarray, labels: np.ndarray, train: np.ndarray, name: str):
    """Class names predicted for the test rows by a logistic head on frozen embeddings."""
    head = fit_head(x[train], labels[train], model=name, calibrate=False)
    return np.asarray(head.classes)[head.logits(x[~train]).argmax(1)]


def run(data: Path, cache: Path, finetune: bool) -> pl.DataFrame:
    """Every method, size and seed: one row each with its macro F1 on the test rows.

    Rows already in ``cache/results.parquet`` are not measured again.
    """
    cache.mkdir(parents=True, exist_ok=True)
    table = fold_zero(data)
    labels = table["label"].to_numpy().astype(str)
    classes = sorted(set(labels))
    embeddings = {name: cached_embeddings(name, table, cache) for name in MODELS}
    features = cached_features(table, cache)
    metadata = [c for c in features.columns if c in MODEL_METADATA]
    inputs = {
        "LightGBM (light curves)": features.drop("object_id", *metadata).to_numpy(),
        "LightGBM (+ metadata)": features.drop("object_id").to_numpy(),
    }
    results = Results(cache / "results.parquet")
    draws = [(n, seed, draw(labels, n, seed)) for n in SIZES for seed in SEEDS]
    for n, seed, train in draws:
        truth = labels[~train]
        with threadpool_limits(limits=2):
            for name, x in embeddings.items():
                predict = functools.partial(head_predict, x, labels, train, name)
                results.measure(f"{name} + head", n, seed, predict, truth, classes)
            for method, x in inputs.items():
                predict = functools.partial(lightgbm_predict, x, labels, train, seed)
                results.measure(method, n, seed, predict, truth, classes)
        if finetune and n in FINETUNE_SIZES and seed in FINETUNE_SEEDS:
            predict = functools.partial(finetune_atcat, table, labels, train, seed)
            results.measure(FINETUNED, n, seed, predict, truth, classes)
    return pl.DataFrame(results.rows)


def capped(table: pl.DataFrame) -> str:
    """Which classes the :data:`MAX_SHARE` cap binds for at each size."""
    counts = table["label"].value_counts()
    parts = []
    for n in SIZES:
        binding = [f"{r['label']} ({int(MAX_SHARE * r['count'])})"
                   for r in counts.sort("label").iter_rows(named=True)
                   if int(MAX_SHARE * r["count"]) < n]  # fmt: skip
        if binding:
            parts.append(f"n = {n}: {', '.join(binding)}")
    return "; ".join(parts)


def summary(results: pl.DataFrame) -> pl.DataFrame:
    """Mean and standard deviation of macro F1 over seeds, one row per method and size."""
    return (
        results.group_by("method", "n_per_class", maintain_order=True)
        .agg(
            pl.col("macro_f1").mean().alias("mean"),
            pl.col("macro_f1").std().alias("sd"),
            pl.len().alias("seeds"),
        )
        .sort("method", "n_per_class", maintain_order=True)
    )


def markdown(results: pl.DataFrame, table: pl.DataFrame) -> str:
    """The Markdown report: the table of mean ± sd and the goal at 20 labels per class."""
    stats = summary(results)
    methods = stats["method"].unique(maintain_order=True).to_list()
    header = "| method | " + " | ".join(f"{n} / class" for n in SIZES) + " |"
    lines = [header, "|---|" + "---:|" * len(SIZES)]
    for method in methods:
        cells = []
        for n in SIZES:
            row = stats.filter((pl.col("method") == method) & (pl.col("n_per_class") == n))
            if row.height == 0:
                cells.append("")
                continue
            mean, sd, seeds = row["mean"][0], row["sd"][0], row["seeds"][0]
            sd_text = f" ± {sd:.3f}" if sd is not None else ""
            cells.append(
                f"{mean:.3f}{sd_text}" + ("" if seeds == len(SEEDS) else f" ({seeds} seeds)")
            )
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    at20 = stats.filter(pl.col("n_per_class") == 20)
    goal = [
        goal_line(at20, "the best frozen embedding", pl.col("method").str.ends_with("+ head")),
        goal_line(
            at20,
            "the best embedding trained without labels",
            pl.col("method").is_in([f"{name} + head" for name in LABEL_FREE]),
        ),
    ]
    tuned = results.filter(pl.col("method") == FINETUNED)
    tuned_text = (
        "; ".join(
            f"n = {n}: seeds {', '.join(map(str, sorted(group['seed'])))}"
            for (n,), group in tuned.group_by("n_per_class", maintain_order=True)
        )
        or "none"
    )
    return "\n".join(
        [
            "# Label efficiency on PLAsTiCC fold 0",
            "",
            "`python -m benchmarks.label_efficiency --data data/plasticc` "
            f"(the fits and predictions took {results['seconds'].sum() / 60:.1f} min on 2 shared "
            "cores, besides embedding fold 0 once). Macro F1 (mean ± sd over seeds) on the "
            f"rest of fold 0 after drawing n labelled objects per class with seeds "
            f"{', '.join(map(str, SEEDS))}; a class gives at most {int(MAX_SHARE * 100)} % of "
            f"its objects (where that binds: {capped(table)}). Heads: class-weighted logistic "
            f"regression on standardised embeddings. LightGBM: the baseline's settings with "
            f"{LIGHTGBM_ROUNDS} rounds at learning rate {LIGHTGBM_RATE}, no early stopping. "
            f"ATCAT fine-tuned end to end ({FINETUNE_STEPS} AdamW steps of {FINETUNE_BATCH} "
            f"objects whatever the number of labels, fresh class head) for {tuned_text}.",
            "",
            *lines,
            "",
            "At 20 labels per class: " + "; ".join(goal) + ".",
            "",
            "ATCAT and RTF were trained with the labels of folds 1-4 for these same 14 classes "
            "(ATCAT as a classifier, RTF with a joint class head), so their embeddings already "
            "separate them; Astromer 2 and Astra-CLR never saw a label and are the fair "
            "few-label comparison.",
            "",
            f"![label efficiency]({OUT_PNG.name})",
            "",
        ]
    )


def goal_line(at20: pl.DataFrame, what: str, among: pl.Expr) -> str:
    """Text of the goal (≥ 5 points of macro F1 over LightGBM) for the best of ``among``."""
    best = at20.filter(among).sort("mean", descending=True).row(0, named=True)
    parts = []
    for baseline in ("LightGBM (light curves)", "LightGBM (+ metadata)"):
        base = at20.filter(pl.col("method") == baseline)["mean"][0]
        gap = 100 * (best["mean"] - base)
        verdict = "met" if gap >= 5 else "missed"
        parts.append(f"{gap:+.1f} points over {baseline} ({base:.3f}): goal **{verdict}**")
    return f"{what}, {best['method']} ({best['mean']:.3f}), is " + ", ".join(parts)


def plot(results: pl.DataFrame, path: Path) -> None:
    """Macro F1 against labels per class, one line per method, error bars = sd over seeds."""
    stats = summary(results)
    figure, axes = plt.subplots(figsize=(9.5, 4.5))
    for method in stats["method"].unique(maintain_order=True):
        rows = stats.filter(pl.col("method") == method).sort("n_per_class")
        axes.errorbar(rows["n_per_class"], rows["mean"], yerr=rows["sd"].fill_null(0),
                      marker="o", capsize=3, label=method)  # fmt: skip
    axes.set_xscale("log")
    axes.set_xticks(SIZES, [str(n) for n in SIZES])
    axes.set_xlabel("labelled objects per class (fold 0)")
    axes.set_ylabel("macro F1 on the rest of fold 0")
    axes.set_title("Label efficiency on PLAsTiCC fold 0")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/plasticc"))
    parser.add_argument("--cache", type=Path, default=Path("data/label_efficiency"))
    parser.add_argument("--no-finetune", action="store_true", help="Skip the ATCAT fine-tunes.")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="Measure nothing: write the report from the rows already in the cache.",
    )
    args = parser.parse_args()
    if args.report_only:
        results = pl.read_parquet(args.cache / "results.parquet")
    else:
        results = run(args.data, args.cache, finetune=not args.no_finetune)
    text = markdown(results, fold_zero(args.data))
    OUT_MD.write_text(text)
    plot(results, OUT_PNG)
    print(text)


if __name__ == "__main__":
    main()
