"""Does the expected information pick the observation that teaches the classifier most? Fold 0.

Run from the repository root (after ``catscope data plasticc --out data/plasticc``)::

    python -m benchmarks.plan --data data/plasticc --out benchmarks/PLAN.md

For each fold-0 object (never trained on; ``--objects`` draws a seeded subsample) the light curve
is cut after n points for every n in ``--cuts`` with at least ``--k`` points after it. The
candidates are the *actual* next K observations (their real time, band and error); the planner
(:class:`engine.infer.plan.InformationPlanner`) predicts the bits of each from the first n
points only. Each candidate is then appended alone, with its real flux, and the curve
re-classified: the realised entropy reduction is the class entropy before minus after, and the
accuracy after is whether the top class is the true label. Choosing among the K by:

``expected bits (planner)``  the largest predicted H[now] - E H[after] (the planner's ranking)
``mutual information only``  the largest predicted outcome part I (see engine.infer.plan)
``random``                   a seeded random one of the K
``earliest``                 the next observation (what simply waiting gives)
``best in hindsight``        the one with the largest realised reduction (an upper bound)
``(average of the K)``       the exact expectation of a random pick

Prints and writes a Markdown report: the choice table, the calibration of predicted against
realised bits over all candidates (binned by predicted bits), and the within-cut rank
correlation. Long curves are subsampled as every model sees them (at most max_points - 1).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from benchmarks.domain import fold_zero
from engine.data.batching import Batch, collate
from engine.infer import load_predictor
from engine.infer.plan import InformationPlanner, class_entropy_bits
from engine.models.atcat.append import encode_prefix

POINT_FIELDS = ("time", "flux", "flux_err", "wavelength", "mask")


@dataclass
class Cut:
    """One (object, cut) of the benchmark: predictions and outcomes of its K candidates."""

    expected: np.ndarray  # (K,) predicted H[now] - E H[after], the planner's bits
    standard_error: np.ndarray  # (K,) its Monte-Carlo standard error
    information: np.ndarray  # (K,) predicted mutual information (outcome part)
    realised: np.ndarray  # (K,) H before - H after appending the real point
    correct_before: bool
    correct_after: np.ndarray  # (K,) bool


def first_points(batch: Batch, n: int) -> Batch:
    """The first ``n`` points of a one-object batch."""
    return Batch(**{f: getattr(batch, f)[:, :n] for f in POINT_FIELDS}, metadata=batch.metadata)


def object_cuts(planner, packed, index: int, label: int, args, seed: int) -> list[Cut]:
    """Every cut of object ``index`` that leaves at least K real points after it."""
    batch = collate(
        packed,
        np.array([index]),
        max_points=planner.predictor.max_points - 1,
        metadata_names=planner.model.config.metadata_names,
    )
    length = int(batch.mask.sum())
    cuts = []
    for n in args.cuts:
        if n + args.k > length:
            continue
        prefix = encode_prefix(planner.model, first_points(batch, n))
        ahead = {f: getattr(batch, f)[0, n : n + args.k] for f in POINT_FIELDS[:-1]}
        generator = torch.Generator().manual_seed(seed * 1000 + n)
        info = planner.information(
            prefix,
            time=ahead["time"].numpy(),
            wavelength=ahead["wavelength"].numpy(),
            flux_err=ahead["flux_err"].numpy(),
            n_samples=args.samples,
            generator=generator,
        )
        after = planner.probabilities_after(prefix, **ahead)  # (K, C) with the real fluxes
        now = planner.probabilities_now(prefix)
        cuts.append(
            Cut(
                expected=info.bits,
                standard_error=info.standard_error,
                information=info.mutual_information,
                realised=class_entropy_bits(now) - class_entropy_bits(after),
                correct_before=bool(now.argmax() == label),
                correct_after=after.argmax(axis=1) == label,
            )
        )
    return cuts


def choice_table(cuts: list[Cut], rng: np.random.Generator) -> list[str]:
    """Markdown rows: realised reduction and accuracy of each way of choosing among the K."""
    k = len(cuts[0].expected)
    picks = {
        "expected bits (planner)": [int(np.argmax(c.expected)) for c in cuts],
        "mutual information only": [int(np.argmax(c.information)) for c in cuts],
        "random": list(rng.integers(0, k, size=len(cuts))),
        "earliest": [0] * len(cuts),
        "best in hindsight": [int(np.argmax(c.realised)) for c in cuts],
    }
    before = np.mean([c.correct_before for c in cuts])
    average = np.mean([c.realised.mean() for c in cuts])  # exact expectation of a random pick
    best = np.mean([c.realised.max() for c in cuts])
    rows = [
        "| choice | realised entropy reduction, bits (± s.e.) | × random pick | "
        "share of hindsight gain over the average of K | accuracy after (before "
        f"{100 * before:.1f} %) | accuracy gain, points |",
        "|---|---|---|---|---|---|",
    ]
    random_mean = np.mean([c.realised[i] for c, i in zip(cuts, picks["random"], strict=True)])
    for name, chosen in picks.items():
        values = np.array([c.realised[i] for c, i in zip(cuts, chosen, strict=True)])
        accuracy = np.mean([c.correct_after[i] for c, i in zip(cuts, chosen, strict=True)])
        rows.append(
            f"| {name} | {values.mean():.4f} ± {values.std(ddof=1) / np.sqrt(len(values)):.4f} "
            f"| {values.mean() / random_mean:.2f} "
            f"| {(values.mean() - average) / (best - average):.2f} "
            f"| {100 * accuracy:.1f} % | {100 * (accuracy - before):+.2f} |"
        )
    rows.append(
        f"| (average of the K) | {average:.4f} | {average / random_mean:.2f} | 0.00 | "
        f"{100 * np.mean([c.correct_after.mean() for c in cuts]):.1f} % | |"
    )
    return rows


def calibration_table(cuts: list[Cut], n_bins: int) -> list[str]:
    """Markdown rows: predicted vs realised bits over all candidates, in quantile bins."""
    expected = np.concatenate([c.expected for c in cuts])
    information = np.concatenate([c.information for c in cuts])
    realised = np.concatenate([c.realised for c in cuts])
    edges = np.quantile(expected, np.linspace(0, 1, n_bins + 1))
    which = np.clip(np.searchsorted(edges, expected, side="right") - 1, 0, n_bins - 1)
    rows = [
        "| predicted bits (bin) | candidates | mean predicted bits | mean realised reduction "
        "(± s.e.) | mean predicted mutual information |",
        "|---|---|---|---|---|",
    ]
    for b in range(n_bins):
        inside = which == b
        r = realised[inside]
        rows.append(
            f"| {edges[b]:+.3f} to {edges[b + 1]:+.3f} | {inside.sum()} "
            f"| {expected[inside].mean():+.4f} "
            f"| {r.mean():+.4f} ± {r.std(ddof=1) / np.sqrt(len(r)):.4f} "
            f"| {information[inside].mean():.4f} |"
        )
    return rows


def rank_correlation(cuts: list[Cut]) -> tuple[float, float]:
    """Mean within-cut Spearman correlation of the realised reduction with bits / information."""
    values = []
    for c in cuts:
        if min(np.ptp(c.realised), np.ptp(c.expected), np.ptp(c.information)) > 0:
            values.append(
                (
                    spearmanr(c.expected, c.realised).statistic,
                    spearmanr(c.information, c.realised).statistic,
                )
            )
    return tuple(np.nanmean(np.array(values), axis=0))


def main() -> None:
    """Run the benchmark and write its report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data/plasticc"))
    parser.add_argument("--model", default="atcat-plasticc")
    parser.add_argument("--objects", type=int, default=400, help="0 = every fold-0 object")
    parser.add_argument("--cuts", type=lambda s: [int(v) for v in s.split(",")],
                        default=[3, 6, 10, 20, 40])  # fmt: skip
    parser.add_argument("--k", type=int, default=5, help="actual next observations to choose from")
    parser.add_argument("--samples", type=int, default=64, help="sampled fluxes per candidate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bins", type=int, default=6)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    started = time.perf_counter()
    predictor = load_predictor(args.model)
    planner = InformationPlanner(predictor)
    table = fold_zero(args.data)
    rng = np.random.default_rng(args.seed)
    if args.objects and args.objects < table.height:
        table = table[np.sort(rng.choice(table.height, args.objects, replace=False))]
    packed = predictor.pack(table)
    classes = {c: i for i, c in enumerate(predictor.classes)}
    cuts = []
    for index in range(len(packed)):
        label = classes.get(str(packed.label[index]), -1)
        cuts += object_cuts(planner, packed, index, label, args, seed=args.seed + index)
    seconds = time.perf_counter() - started
    bits_rho, information_rho = rank_correlation(cuts)
    standard_error = np.median(np.concatenate([c.standard_error for c in cuts]))
    report = [
        "# Where to observe next: validation on PLAsTiCC fold 0",
        "",
        f"Command: `python -m benchmarks.plan --data {args.data} --objects {args.objects} "
        f"--cuts {','.join(map(str, args.cuts))} --k {args.k} --samples {args.samples} "
        f"--seed {args.seed}`",
        "",
        f"{table.height} fold-0 objects (seeded subsample), {len(cuts)} cuts (after "
        f"{', '.join(map(str, args.cuts))} points, where {args.k} real points follow); model "
        f"{predictor.info.name}; {args.samples} sampled fluxes per candidate (median Monte-Carlo "
        f"standard error of the predicted bits {standard_error:.4f}); {seconds:.0f} s.",
        "",
        f"Choosing one of the actual next {args.k} observations:",
        "",
        *choice_table(cuts, np.random.default_rng(args.seed + 1)),
        "",
        "Calibration over all candidates (quantile bins of predicted bits):",
        "",
        *calibration_table(cuts, args.bins),
        "",
        f"Mean within-cut Spearman correlation with the realised reduction: predicted bits "
        f"{bits_rho:.3f}, predicted mutual information {information_rho:.3f}.",
    ]
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
