"""How much the shared-prefix extension saves when re-classifying sampled outcomes, in one run.

Run from the repository root::

    python -m benchmarks.plan_speed

For sample objects with the shipped ATCAT: the same B one-point extensions (candidates × sampled
fluxes) re-classified (a) by :func:`engine.models.atcat.append.appended_logits`, one new row per
layer against the prefix's keys and values, and (b) by the model's own fastest full path,
:meth:`ATCAT.last_point` on the B extended light curves in batches of 256. Prints the times,
their ratio and the largest logit difference (diff).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl
import torch

from engine.data.batching import Batch, collate
from engine.infer import load_predictor
from engine.models.atcat.append import appended_logits, encode_prefix

SAMPLE = "sample_data/plasticc_fold0_sample.parquet"
FIELDS = ("time", "flux", "flux_err", "wavelength")


def extensions(batch: Batch, n_rows: int, seed: int) -> dict[str, torch.Tensor]:
    """``n_rows`` random one-point extensions within 30 days of the last point, (B,) each."""
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, batch.time.shape[1], (n_rows,), generator=g)
    return {
        "time": batch.time[0, -1] + 1 + 29 * torch.rand(n_rows, generator=g),
        "flux": batch.flux[0, pick] * (1 + torch.randn(n_rows, generator=g)),
        "flux_err": batch.flux_err[0, pick],
        "wavelength": batch.wavelength[0, pick],
    }


def full_path(model, batch: Batch, new: dict[str, torch.Tensor], chunk: int = 256):
    """Logits (B, C + 1) of the extended curves by :meth:`ATCAT.last_point`, in chunks."""
    out = []
    n = len(new["time"])
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        b = len(new["time"][rows])
        values = {
            f: torch.cat([getattr(batch, f).expand(b, -1), new[f][rows, None]], dim=1)
            for f in FIELDS
        }
        mask = torch.ones_like(values["time"], dtype=torch.bool)
        metadata = None if batch.metadata is None else batch.metadata.expand(b, -1)
        out.append(model.last_point(Batch(**values, mask=mask, metadata=metadata))[0])
    return torch.cat(out)


def main() -> None:
    """Time both paths on a few sample objects and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1920, help="extensions per object")
    args = parser.parse_args()
    predictor = load_predictor("atcat-plasticc")
    model = predictor.model
    table = pl.read_parquet(SAMPLE).head(args.objects)
    packed = predictor.pack(table)
    print("| object | points | extensions | shared prefix, s | full forward, s | ratio | diff |")
    print("|---|---|---|---|---|---|---|")
    for k in range(len(packed)):
        batch = collate(
            packed, np.array([k]), max_points=predictor.max_points - 1,
            metadata_names=model.config.metadata_names,
        )  # fmt: skip
        new = extensions(batch, args.rows, seed=k)
        with torch.no_grad():
            started = time.perf_counter()
            fast = appended_logits(model, encode_prefix(model, batch), **new)
            fast_s = time.perf_counter() - started
            started = time.perf_counter()
            slow = full_path(model, batch, new)
            slow_s = time.perf_counter() - started
        diff = float((fast - slow).abs().max())
        print(
            f"| {packed.object_id[k]} | {batch.time.shape[1]} | {args.rows} | {fast_s:.2f} "
            f"| {slow_s:.2f} | {slow_s / fast_s:.0f}× | {diff:.1e} |"
        )


if __name__ == "__main__":
    main()
