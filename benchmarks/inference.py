"""Survey-scale benchmark: scoring throughput and memory, FAISS, UMAP and catalogue build times.

Run from the repository root (after ``catscope train configs/atcat-plasticc.toml``)::

    python benchmarks/inference.py                     # everything, writes benchmarks/RESULTS.md
    python benchmarks/inference.py --sections inference --n-synthetic 20000
    python benchmarks/inference.py --device cuda       # on a GPU (bf16 + torch.compile)
    python benchmarks/inference.py --quick             # small smoke run, writes nothing

Every measurement runs in a fresh subprocess (so peak RSS is that path's alone, read with
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at its end) with the same model weights.

Inference paths, each scoring every object to a Parquet file of predictions:

``fast``
    catscope's path: :func:`engine.infer.streaming.score_parquet` streams the file in chunks
    of 4,096 objects; each chunk is cut into length-sorted batches under a token budget, run
    under bf16 autocast where the CPU/GPU has native bf16 (else fp32), one torch thread per
    physical core (``InferenceSettings.fast``), optionally ``torch.compile`` (``--compile``).
``fast-fp32``
    the same in fp32: separates the gain of length sorting from that of bf16.
``naive``
    the whole file read at once; batches of 256 objects in file order, each padded to its
    longest curve (capped at the model's 256 points), fp32, torch's default threads.
``atat``
    ATAT-style input layout fed to the same ATCAT weights: every object becomes 6 bands x 65
    positions = 390 tokens (each band's points in time order, padded to 65, points beyond 65
    in a band dropped), plus the [META] token; same precision and threads as ``fast``, batches
    in file order under the same token budget. Only the cost of the sequence layout is
    measured: the model was not trained on this layout, so its outputs are not meaningful.
    The model's ``max_points`` is raised to 390 to accept the sequence (no weight depends on
    it).

Data: PLAsTiCC fold 0 (``data/plasticc``) and a synthetic stretch of ``--n-synthetic`` objects
drawn with replacement from fold 0 (new object ids), written to a temporary Parquet file in row
groups of 4,096 and streamed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTIONS = ("inference", "faiss", "umap", "catalog", "profile")
ROW_GROUP = 4096
NAIVE_BATCH = 256
PER_BAND, N_BANDS = 65, 6


# -- measurement helpers ---------------------------------------------------------------------
def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def machine() -> dict:
    """CPU model, cores, memory, torch version and the CPU flags that matter for bf16."""
    import torch

    from engine.infer.batches import bf16_supported, physical_cores

    lscpu = (
        subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        if sys.platform == "linux"
        else ""
    )
    found = re.search(r"Model name:\s*(.+)", lscpu)
    flags = set(re.search(r"Flags:\s*(.+)", lscpu).group(1).split()) if "Flags:" in lscpu else set()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpu": found.group(1).strip() if found else platform.processor(),
        "physical_cores": physical_cores(),
        "logical_cpus": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "flags": [f for f in wanted if f in flags],
        "torch": torch.__version__,
        "cpu_bf16_native": bf16_supported(torch.device("cpu")),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
    }


def fast_settings(spec: dict):
    """The fast path's settings for a child's spec (device, threads, compile, token budget)."""
    from engine.infer import InferenceSettings

    changes = {"max_tokens": spec["max_tokens"]} if spec["max_tokens"] else {}
    return InferenceSettings.fast(
        device=spec["device"],
        threads=spec["threads"],
        compile=spec.get("compile", False),
        **changes,
    )


def run_child(task: str, spec: dict) -> dict:
    """Run ``task`` in a fresh interpreter; returns the JSON it prints on its last line."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", task, json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- data --------------------------------------------------------------------------------------
def fold0_table(data_dir: Path, limit: int | None = None):
    """PLAsTiCC fold 0 as a canonical table (the first ``limit`` objects with --quick)."""
    import polars as pl

    from engine.data.schema import read_table

    folds = pl.read_parquet(data_dir / "folds.parquet").filter(pl.col("fold") == 0)
    table = read_table(data_dir / "plasticc.parquet").join(
        folds.select("object_id"), on="object_id", how="semi", maintain_order="left"
    )
    return table.head(limit) if limit else table


def write_datasets(table, folder: Path, n_synthetic: int, seed: int = 0) -> dict[str, Path]:
    """Fold 0 and the resampled synthetic stretch as Parquet files in row groups of 4,096."""
    import polars as pl
    import pyarrow.parquet as pq

    paths = {"fold0": folder / "fold0.parquet", "synthetic": folder / "synthetic.parquet"}
    table.write_parquet(paths["fold0"], row_group_size=ROW_GROUP)
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, n_synthetic, ROW_GROUP):
        n = min(ROW_GROUP, n_synthetic - start)
        chunk = table[rng.integers(0, table.height, n)].with_columns(
            object_id=pl.format("syn{}", pl.int_range(start, start + n))
        )
        arrow = chunk.to_arrow()
        writer = writer or pq.ParquetWriter(paths["synthetic"], arrow.schema, compression="zstd")
        writer.write_table(arrow)
    writer.close()
    return paths


# -- the inference paths -----------------------------------------------------------------------
def per_band_batch(packed, index: np.ndarray, wavelengths: np.ndarray, metadata_names):
    """ATAT-style batch: each object as 6 bands x 65 positions, (B, 390), with a mask.

    Position ``band * 65 + k`` holds the object's k-th point in that band (time order).
    """
    import torch

    from engine.data.batching import Batch

    sub = packed.subset(index)
    n = int(sub.offsets[-1])
    obj = np.repeat(np.arange(len(index)), sub.lengths)  # (P,) object of each point
    band = np.searchsorted(wavelengths, sub.wavelength)  # (P,) 0..5
    order = np.lexsort((np.arange(n), band, obj))  # by object, band, then time
    key = obj[order] * N_BANDS + band[order]
    starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    keep = rank < PER_BAND
    rows, cols = obj[keep], (band * PER_BAND + rank)[keep]
    width = N_BANDS * PER_BAND

    def pad(values: np.ndarray) -> torch.Tensor:
        out = np.zeros((len(index), width), dtype=np.float32)
        out[rows, cols] = values[keep]
        return torch.from_numpy(out)

    first = sub.time[sub.offsets[:-1]]
    mask = np.zeros((len(index), width), dtype=bool)
    mask[rows, cols] = True
    metadata = None
    if metadata_names:
        columns = [sub.metadata.get(m, np.full(len(sub), np.nan)) for m in metadata_names]
        metadata = torch.from_numpy(np.stack(columns, axis=1).astype(np.float32))
    batch = Batch(
        time=pad(sub.time - np.repeat(first, sub.lengths)),
        flux=pad(sub.flux),
        flux_err=pad(sub.flux_err),
        wavelength=pad(sub.wavelength),
        mask=torch.from_numpy(mask),
        metadata=metadata,
    )
    return batch, int((~keep).sum())


def _padded_predictions(predictor, table, batches, make_batch, settings, model) -> tuple:
    """Run ``model`` over ``batches`` of ``table`` (file order); returns (frame, dropped points)."""
    import torch

    from engine.infer.batches import torch_threads
    from engine.models.atcat.model import gather_last

    packed = predictor.pack(table)
    logits = np.zeros((len(packed), model.config.n_logits), dtype=np.float32)
    dropped = 0
    with torch.no_grad(), torch_threads(settings.threads):
        for index in batches(len(packed)):
            batch, lost = make_batch(packed, index)
            dropped += lost
            with settings.autocast():
                out = model(batch.to(settings.torch_device))
            logits[index] = gather_last(out.class_logits, batch.mask).float().cpu().numpy()
    probabilities = predictor.calibrated_probabilities(torch.from_numpy(logits)).numpy()
    return predictor._prediction_frame(packed.object_id, probabilities), dropped


def child_inference(spec: dict) -> dict:
    """Score ``spec['data']`` with one path; report throughput and peak memory."""
    import torch

    from engine.data.batching import collate
    from engine.data.schema import read_table
    from engine.infer import InferenceSettings, load_predictor
    from engine.infer.streaming import iter_tables, score_parquet
    from engine.models.atcat import ATCAT

    path, data, out = spec["path"], Path(spec["data"]), Path(spec["out"])
    fast = fast_settings(spec)
    settings = {
        "fast": fast,
        "fast-fp32": replace(fast, precision="fp32"),
        "naive": InferenceSettings(
            device=spec["device"], precision="fp32", threads=spec["threads"]
        ),
        "atat": fast,
    }[path]
    predictor = load_predictor(spec["model"], settings=settings)
    warm = next(iter_tables(data, rows_per_chunk=64))
    started = time.perf_counter()
    predictor.predict(warm)  # first kernels (and compilation) outside the timing
    warmup = time.perf_counter() - started
    baseline = peak_rss_mib()
    dropped = 0
    started = time.perf_counter()
    if path.startswith("fast"):
        n = score_parquet(data, out, predictor, rows_per_chunk=ROW_GROUP)
    else:
        table = read_table(data)
        config = predictor.model.config
        if path == "naive":
            model = predictor.model
            width = NAIVE_BATCH

            def make_batch(packed, index):
                batch = collate(
                    packed,
                    index,
                    max_points=config.max_points,
                    metadata_names=config.metadata_names,
                )
                return batch, 0
        else:
            model = ATCAT(replace(config, max_points=N_BANDS * PER_BAND + 1))
            model.load_state_dict(predictor.model.state_dict())
            model = model.to(settings.torch_device).eval()
            width = max(1, settings.max_tokens // (N_BANDS * PER_BAND + 1))
            wavelengths = np.unique(predictor.pack(table.head(2000)).wavelength)[:N_BANDS]

            def make_batch(packed, index):
                return per_band_batch(packed, index, wavelengths, config.metadata_names)

        def batches(n_objects):
            return [np.arange(s, min(s + width, n_objects)) for s in range(0, n_objects, width)]

        frame, dropped = _padded_predictions(predictor, table, batches, make_batch, settings, model)
        frame.write_parquet(out)
        n = frame.height
    seconds = time.perf_counter() - started
    result = {
        "n_objects": n,
        "seconds": seconds,
        "lcs_per_s": n / seconds,
        "warmup_s": warmup,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_rss_mib(),
        "precision": settings.resolved_precision,
        "threads": settings.threads,
        "dropped_points": dropped,
    }
    if settings.torch_device.type == "cuda":
        result["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 1024**2
    return result


def section_inference(args, paths: dict[str, Path], folder: Path) -> list[dict]:
    rows = []
    plan = [("fold0", p) for p in ("fast", "fast-fp32", "naive", "atat")]
    plan += [("synthetic", p) for p in ("fast", "fast-fp32", "naive", "atat")]
    for dataset, path in plan:
        spec = {
            "path": path, "data": str(paths[dataset]),
            "out": str(folder / f"{dataset}-{path}.parquet"),
            "model": args.model, "device": args.device, "compile": args.compile,
            "max_tokens": args.max_tokens, "threads": args.threads,
        }  # fmt: skip
        print(f"inference: {dataset} {path} ...", flush=True)
        rows.append({"dataset": dataset, "path": path, **run_child("inference", spec)})
        print(
            f"  {rows[-1]['lcs_per_s']:.0f} LCs/s, peak {rows[-1]['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
    return rows


# -- FAISS ---------------------------------------------------------------------------------------
#: FAISS test sets: name -> rank of the clusters' subspace (None: all 64 dimensions)
FAISS_DATA = {"isotropic": None, "subspace-16": 16}
#: FAISS indexes measured: label -> VectorIndex settings (the defaults, then the settings they
#: replaced: FAISS's default efConstruction of 40, and half as many PQ codes)
FAISS_INDEXES = {
    "flat": {"kind": "flat"},
    "hnsw": {"kind": "hnsw"},
    "ivfpq": {"kind": "ivfpq"},
    "hnsw, efConstruction 40": {"kind": "hnsw", "ef_construction": 40},
    "ivfpq, 32 codes (d/2)": {"kind": "ivfpq", "pq_m": 32},
}


def clustered_vectors(
    n: int, dim: int, seed: int, n_clusters: int = 1000, rank: int | None = None
) -> np.ndarray:
    """Synthetic embeddings: Gaussian clusters (spread 0.35 around unit-variance centres).

    With ``rank`` the clusters lie in a random ``rank``-d subspace, plus isotropic noise of
    0.02: the shape of real embeddings (4-28 principal components hold 90 % of the variance
    of the shipped models' embeddings). Without it they fill all ``dim`` dimensions, the
    hardest case for approximate search (a cluster's members are nearly equidistant).
    """
    rng = np.random.default_rng(seed)
    layout = np.random.default_rng(1_000 + (rank or dim))  # the same clusters for every seed
    latent = rank or dim
    centres = layout.standard_normal((n_clusters, latent)).astype(np.float32)
    points = centres[rng.integers(0, n_clusters, n)]
    points += 0.35 * rng.standard_normal((n, latent)).astype(np.float32)
    if rank is None:
        return points
    basis = np.linalg.qr(layout.standard_normal((dim, rank)))[0].T.astype(np.float32)
    return points @ basis + 0.02 * rng.standard_normal((n, dim)).astype(np.float32)


def single_queries(index, queries: np.ndarray, threads: int | None) -> tuple[np.ndarray, list]:
    """Search one query at a time under a thread cap; returns (rows (n, 10), seconds each)."""
    from engine.index.threads import thread_cap

    found, latencies = np.zeros((len(queries), 10), dtype=np.int64), []
    with thread_cap(threads):
        for i, query in enumerate(queries):
            started = time.perf_counter()
            found[i] = index.search(query[None], 10).rows[0]
            latencies.append(time.perf_counter() - started)
    return found, latencies


def child_faiss(spec: dict) -> dict:
    """Build each index kind over N x d vectors; single-query k=10 latency and recall@10.

    Latency is measured with FAISS/BLAS held at one thread (a single query gains nothing from
    OpenMP, and its fork/join costs milliseconds when the cores are busy) and, for comparison,
    with the libraries' default threads.
    """
    import faiss

    from engine.vectors import VectorIndex

    results = []
    for data, rank in FAISS_DATA.items():
        vectors = clustered_vectors(spec["n"], spec["dim"], seed=0, rank=rank)
        queries = clustered_vectors(spec["n_queries"], spec["dim"], seed=1, rank=rank)
        exact = None
        for kind, settings in FAISS_INDEXES.items():
            started = time.perf_counter()
            index = VectorIndex(**settings).fit(vectors)
            build = time.perf_counter() - started
            found, latencies = single_queries(index, queries, threads=1)
            _, default_latencies = single_queries(index, queries[:100], threads=None)
            exact = found if kind == "flat" else exact
            overlap = [len(np.intersect1d(a, b)) / 10 for a, b in zip(found, exact, strict=True)]
            results.append({
                "data": data,
                "kind": kind,
                "build_s": build,
                "bytes_per_vector": faiss.serialize_index(index.index_).nbytes / spec["n"],
                "p50_ms": 1000 * float(np.percentile(latencies, 50)),
                "p99_ms": 1000 * float(np.percentile(latencies, 99)),
                "p50_default_threads_ms": 1000 * float(np.percentile(default_latencies, 50)),
                "recall_at_10": float(np.mean(overlap)),
            })  # fmt: skip
            del index
    return {**spec, "rows": results, "peak_rss_mib": peak_rss_mib()}


# -- UMAP ----------------------------------------------------------------------------------------
def child_umap(spec: dict) -> dict:
    """Fit the catalogue map on N reference vectors; time transforms of 1,000 new ones."""
    from engine.index.umap_map import UmapMap
    from engine.vectors import VectorIndex

    reference = clustered_vectors(spec["n_reference"], spec["dim"], seed=0, n_clusters=50)
    new = clustered_vectors(spec["n_new"], spec["dim"], seed=1, n_clusters=50)
    started = time.perf_counter()
    index = VectorIndex(kind="auto").fit(reference)
    umap_map = UmapMap().fit(reference, neighbours=index)
    fit = time.perf_counter() - started
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        umap_map.transform(new)
        timings.append(time.perf_counter() - started)
    return {
        "n_reference": spec["n_reference"],
        "n_new": spec["n_new"],
        "fit_s": fit,
        "transform_first_s": timings[0],
        "transform_warm_s": min(timings[1:]),
        "peak_rss_mib": peak_rss_mib(),
    }


# -- catalogue -----------------------------------------------------------------------------------
def child_catalog(spec: dict) -> dict:
    """Embedding step of a catalogue of N objects (streamed), then a full catalogue build."""
    from engine.infer import load_predictor
    from engine.infer.streaming import embed_parquet

    settings = fast_settings(spec)
    predictor = load_predictor(spec["model"], settings=settings)
    started = time.perf_counter()
    n = embed_parquet(spec["data"], Path(spec["folder"]) / "embeddings.parquet", predictor)
    embed = time.perf_counter() - started
    result = {"n_objects": n, "embed_s": embed, "embed_peak_rss_mib": peak_rss_mib()}
    if spec["full"]:
        from engine.index.catalog_build import build_catalog, read_manifest

        started = time.perf_counter()
        out = build_catalog(
            spec["data"], Path(spec["folder"]) / "catalog", [spec["model"]],
            progress=False, settings=settings, threads=settings.threads,
        )  # fmt: skip
        result["build_s"] = time.perf_counter() - started
        entry = next(iter(read_manifest(out)["models"].values()))
        result["stages_s"] = entry["seconds"]
        result["index"] = entry["index"]
    result["peak_rss_mib"] = peak_rss_mib()
    return result


# -- profile -------------------------------------------------------------------------------------
def child_profile(spec: dict) -> dict:
    """Where the fast path spends its time: Python functions (cProfile) and torch operators.

    Both profiles time a warm pass: one untimed pass over the same file first creates the
    kernels of every batch shape (oneDNN builds bf16 kernels per shape, ~0.4 s on fold 0),
    a one-time cost that a survey-scale run pays once.
    """
    from torch.profiler import ProfilerActivity, profile

    from engine.infer import load_predictor
    from engine.infer.streaming import iter_tables, score_parquet

    settings = fast_settings(spec)
    predictor = load_predictor(spec["model"], settings=settings)
    out = Path(spec["folder"]) / "profile.parquet"
    started = time.perf_counter()
    score_parquet(spec["data"], out, predictor, rows_per_chunk=ROW_GROUP)
    cold = time.perf_counter() - started
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(score_parquet, spec["data"], out, predictor, rows_per_chunk=ROW_GROUP)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    from pyarrow.parquet import ParquetWriter

    from engine.data.batching import collate
    from engine.infer.predictor import Predictor
    from engine.models.atcat import ATCAT
    from engine.models.atcat.attention import MaskedSelfAttention, layer_masks

    wanted = {
        "read Parquet chunks (iter_tables)": iter_tables,
        "pack + scale metadata (Predictor.pack)": Predictor.pack,
        "pad batches (collate)": collate,
        "model (ATCAT.last_point)": ATCAT.last_point,
        "  of which attention masks (layer_masks)": layer_masks,
        "  of which self-attention (MaskedSelfAttention.forward)": MaskedSelfAttention.forward,
        "write predictions (ParquetWriter.write_table)": ParquetWriter.write_table,
    }
    python = {}
    for label, function in wanted.items():
        code = function.__code__  # cProfile keys: (file, first line, name)
        found = stats.stats.get((code.co_filename, code.co_firstlineno, code.co_name))
        python[label] = found[3] if found else 0.0  # cumulative seconds
    with profile(activities=[ProfilerActivity.CPU]) as torch_profile:
        score_parquet(spec["data"], out, predictor, rows_per_chunk=ROW_GROUP)
    events = sorted(torch_profile.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total_self = sum(e.self_cpu_time_total for e in events)
    operators = [
        {"op": e.key, "share": e.self_cpu_time_total / total_self, "calls": e.count}
        for e in events[:10]
    ]
    return {
        "n_objects": spec["n"],
        "cold_s": cold,
        "total_s": total,
        "python_s": python,
        "operators": operators,
    }


# -- report --------------------------------------------------------------------------------------
def table_md(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report_inference(rows: list[dict]) -> str:
    body = table_md(
        ["data", "path", "objects", "precision", "threads", "seconds", "LCs/s", "peak RSS MiB",
         "RSS after load MiB", "points dropped"],
        [[r["dataset"], r["path"], f"{r['n_objects']:,}", r["precision"], r["threads"],
          f"{r['seconds']:.1f}", f"{r['lcs_per_s']:.0f}", f"{r['peak_rss_mib']:.0f}",
          f"{r['baseline_rss_mib']:.0f}", f"{r['dropped_points']:,}"] for r in rows],
    )  # fmt: skip
    speed = {(r["dataset"], r["path"]): r["lcs_per_s"] for r in rows}
    ratios = []
    for dataset in ("fold0", "synthetic"):
        fast = speed.get((dataset, "fast"))
        for other in ("naive", "atat", "fast-fp32"):
            if fast and (dataset, other) in speed:
                ratios.append(
                    f"- {dataset}: fast / {other} = **{fast / speed[(dataset, other)]:.2f}x**"
                )
    return body + "\n\nThroughput ratios:\n\n" + "\n".join(ratios)


def report_faiss(result: dict) -> str:
    head = (
        f"{result['n']:,} x {result['dim']}-d synthetic vectors in 1,000 Gaussian clusters, "
        "filling all 64 dimensions (*isotropic*, the hardest case for approximate search) or "
        "lying in a 16-d subspace (*subspace-16*, shaped like real embeddings); "
        f"{result['n_queries']:,} single queries drawn from the same clusters "
        "(`VectorIndex.search`, one FAISS thread), k = 10; "
        f"peak RSS {result['peak_rss_mib']:.0f} MiB.\n\n"
    )
    rows = [
        [r["data"], r["kind"], f"{r['build_s']:.1f}", f"{r['bytes_per_vector']:.0f}",
         f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['p50_default_threads_ms']:.2f}",
         f"{r['recall_at_10']:.3f}"]
        for r in result["rows"]
    ]  # fmt: skip
    header = ["data", "index", "build s", "bytes a vector", "p50 ms", "p99 ms",
              "p50 ms, default threads", "recall@10 vs exact"]  # fmt: skip
    return head + table_md(header, rows)


def report_umap(r: dict) -> str:
    header = ["reference vectors", "new objects", "fit s", "first transform s", "warm transform s"]
    row = [f"{r['n_reference']:,}", f"{r['n_new']:,}", f"{r['fit_s']:.1f}",
           f"{r['transform_first_s']:.2f}", f"{r['transform_warm_s']:.2f}"]  # fmt: skip
    return table_md(header, [row]) + (
        "\n\nThe fit compiles umap's numba functions; the first transform in a process may "
        "compile more. Synthetic 64-d vectors in 50 clusters; the new ones from the same clusters."
    )


def report_catalog(r: dict) -> str:
    text = (
        f"Embedding step, {r['n_objects']:,} objects streamed with `embed_parquet`: "
        f"{r['embed_s']:.1f} s ({r['n_objects'] / r['embed_s']:.0f} objects/s), peak RSS "
        f"{r['embed_peak_rss_mib']:.0f} MiB."
    )
    if "build_s" in r:
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in r["stages_s"].items())
        text += (
            f"\n\nFull `build_catalog` (in memory; index kind {r['index']}): "
            f"{r['build_s']:.1f} s ({stages}); peak RSS {r['peak_rss_mib']:.0f} MiB."
        )
    return text


def report_profile(r: dict) -> str:
    python = table_md(
        ["step (cumulative, cProfile)", "seconds", "share"],
        [[k, f"{v:.2f}", f"{v / r['total_s']:.0%}"] for k, v in r["python_s"].items()],
    )
    ops = table_md(
        ["torch operator (self CPU)", "share", "calls"],
        [[f"`{o['op']}`", f"{o['share']:.0%}", o["calls"]] for o in r["operators"]],
    )
    head = (
        f"Fast path on {r['n_objects']:,} fold-0 objects. The first (cold) pass took "
        f"{r['cold_s']:.2f} s, creating the kernels of each batch shape; the profiles time the "
        f"second (warm) pass: {r['total_s']:.2f} s under cProfile."
    )
    return f"{head}\n\n{python}\n\n{ops}"


def report_status(args, done: list[str]) -> str:
    """Say what this run measured so far (``done``) and which blocks are older."""
    if args.quick:
        return (
            "> **Status: small run** (`--quick`: 300 fold-0 objects, a 2,000-object synthetic "
            "stretch, 20,000 FAISS vectors, a 5,000-vector UMAP map): the code paths work and "
            "where the time goes, not the final figures."
        )
    parts = []
    if "inference" in done:
        parts.append(f"{args.n_synthetic:,} synthetic objects")
    if "faiss" in done:
        parts.append(f"{args.faiss_n:,} FAISS vectors")
    if "umap" in done:
        parts.append(f"a {args.umap_reference:,}-vector UMAP map")
    kept = sorted(set(SECTIONS) - set(done))
    return (
        f"> Run of {time.strftime('%Y-%m-%d')} (sections: {', '.join(sorted(done))}): "
        f"{', '.join(parts) or 'no data sets'}; model `{args.model}`."
        + (f" The {', '.join(kept)} blocks are from an earlier run." if kept else "")
    )


def report_machine(m: dict, args) -> str:
    return "\n".join([
        f"- CPU: {m['cpu']}, {m['physical_cores']} physical cores ({m['logical_cpus']} logical), "
        f"{m['memory_gib']} GiB RAM; flags: {', '.join(m['flags']) or 'none of avx2/avx512/amx'}",
        f"- native CPU bf16: {m['cpu_bf16_native']}; GPU: {m['cuda'] or 'none'}",
        f"- torch {m['torch']}, Python {m['python']}",
        f"- command: `{' '.join(['python benchmarks/inference.py', *args.argv])}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
    ])  # fmt: skip


def update_results(path: Path, blocks: dict[str, str]) -> None:
    """Replace each ``<!-- name:start -->`` ... ``<!-- name:end -->`` block; add missing ones."""
    text = path.read_text() if path.exists() else "# catscope benchmark results\n"
    for name, body in blocks.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        block = f"{start}\n{body}\n{end}"
        if start in text:
            pattern = re.escape(start) + ".*?" + re.escape(end)
            text = re.sub(pattern, block.replace("\\", "\\\\"), text, flags=re.S)
        else:
            text += f"\n## {name.capitalize()}\n\n{block}\n"
    path.write_text(text)


# -- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="atcat-plasticc", help="shipped model name or directory")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated: {SECTIONS}"
    )
    parser.add_argument(
        "--n-synthetic", type=int, default=100_000, help="objects of the synthetic stretch"
    )
    parser.add_argument(
        "--data", type=Path, default=ROOT / "data" / "plasticc", help="PLAsTiCC folder"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the fast path")
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="token budget of the fast path's batches (default: InferenceSettings.fast's)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of every path (default: physical cores)",
    )
    parser.add_argument("--faiss-n", type=int, default=1_000_000, help="vectors in the FAISS test")
    parser.add_argument(
        "--umap-reference", type=int, default=100_000, help="vectors the map is fitted on"
    )
    parser.add_argument("--no-full-catalog", action="store_true", help="only the embedding step")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for a smoke test; writes nothing"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help=f"Markdown file to update (default {RESULTS.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    args.argv = argv
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    if args.quick:
        args.n_synthetic, args.faiss_n, args.umap_reference = 2000, 20_000, 5000
    if args.threads is None:
        from engine.infer.batches import physical_cores

        args.threads = physical_cores()
    if args.results is None and not args.quick:
        args.results = RESULTS
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    sections = args.sections.split(",")
    info = machine()
    print(report_machine(info, args), flush=True)
    done: list[str] = []

    def record(name: str, body: str) -> None:
        """Print a finished section and write it to the results at once (a cut run keeps it)."""
        done.append(name)
        print(f"\n## {name}\n\n{body}", flush=True)
        if args.results:
            status = {"status": report_status(args, done), "machine": report_machine(info, args)}
            update_results(args.results, {**status, name: body})

    with tempfile.TemporaryDirectory(prefix="catscope-bench-") as tmp:
        folder = Path(tmp)
        table = fold0_table(args.data, limit=300 if args.quick else None)
        paths = write_datasets(table, folder, args.n_synthetic)
        del table
        base = {
            "model": args.model, "device": args.device, "max_tokens": args.max_tokens,
            "threads": args.threads,
        }  # fmt: skip
        if "inference" in sections:
            record("inference", report_inference(section_inference(args, paths, folder)))
        if "profile" in sections:
            print("profile ...", flush=True)
            spec = {
                **base,
                "data": str(paths["fold0"]),
                "folder": tmp,
                "n": 300 if args.quick else 1570,
            }
            record("profile", report_profile(run_child("profile", spec)))
        if "faiss" in sections:
            print("faiss ...", flush=True)
            spec = {"n": args.faiss_n, "dim": 64, "n_queries": 200 if args.quick else 1000}
            record("faiss", report_faiss(run_child("faiss", spec)))
        if "umap" in sections:
            print("umap ...", flush=True)
            spec = {"n_reference": args.umap_reference, "n_new": 1000, "dim": 64}
            record("umap", report_umap(run_child("umap", spec)))
        if "catalog" in sections:
            print("catalog ...", flush=True)
            spec = {
                **base,
                "data": str(paths["synthetic"]),
                "folder": tmp,
                "full": not args.no_full_catalog,
            }
            record("catalog", report_catalog(run_child("catalog", spec)))
    if args.results:
        print(f"\nupdated {args.results}")


CHILDREN = {
    "inference": child_inference,
    "faiss": child_faiss,
    "umap": child_umap,
    "catalog": child_catalog,
    "profile": child_profile,
}

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))))
    else:
        main(sys.argv[1:])
