"""The ``catscope`` command line: one program, one subcommand per task.

Every subcommand turns a :class:`~engine.errors.CatscopeError` into a one-line message and exit
code 2, so a bad file never ends in a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.cli_input import echo_reports, reads_user_files
from engine.errors import CatscopeError
from engine.text import printable

if TYPE_CHECKING:
    import polars as pl

    from engine.data.bands import BandRegistry
    from engine.data.load import LoadedTable, ReadOptions

app = typer.Typer(
    name="catscope",
    help="Look inside light-curve foundation models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Benchmark data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def friendly_errors(command: Callable) -> Callable:
    """Print CatscopeErrors as one line on stderr and exit 2; show warnings as 'warning: ...'."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        warnings.showwarning = lambda message, *_a, **_k: typer.echo(
            printable(f"warning: {message}"), err=True
        )
        try:
            return command(*args, **kwargs)
        except CatscopeError as exc:
            typer.echo(printable(f"error: {exc}"), err=True)
            sys.exit(2)

    return wrapper


@app.command()
@friendly_errors
@reads_user_files
def ingest(
    inputs: Annotated[list[Path], typer.Argument(help="CSV, Parquet or FITS files of photometry.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Canonical Parquet table to write.")],
    read: ReadOptions,
    report_path: Path | None,
) -> None:
    """Read light curves in any supported format and write catscope's canonical Parquet table."""
    from engine.data.schema import write_table

    loaded = _load(inputs, read, report_path)
    write_table(loaded.table, out)
    n_points = int(loaded.table["time"].list.len().sum())
    typer.echo(
        f"wrote {out}: {loaded.table.height:,} objects, {n_points:,} points from "
        f"{len(loaded.reports)} file(s)"
    )


@data_app.command("plasticc")
@friendly_errors
def data_plasticc(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for plasticc.parquet and folds.parquet.")
    ],
    sample_dir: Annotated[
        Path | None, typer.Option(help="Also write the shipped fold-0 sample subset here.")
    ] = None,
) -> None:
    """Download the PLAsTiCC training set (via pip); write its table and the fixed 5-fold split."""
    from engine.data.plasticc import build

    for name, path in build(out, sample_dir=sample_dir).items():
        typer.echo(f"{name}: {path}")


@app.command()
@friendly_errors
def train(
    config: Annotated[Path, typer.Argument(help="Training config TOML (see configs/).")],
    fresh: Annotated[bool, typer.Option(help="Ignore checkpoints of an earlier run.")] = False,
) -> None:
    """Train a model from a TOML config; resumes from the run's last checkpoint by default.

    A classifier is then calibrated on the run's held-out validation objects.
    """
    from engine.models.registry import find_model
    from engine.training import train as run_training

    model_dir = run_training(config, resume=not fresh)
    typer.echo(f"model written to {model_dir}")
    if find_model(model_dir).classifies:
        _report_calibration(model_dir)


def _report_calibration(
    model_dir: Path,
    data: Path | None = None,
    surveys: tuple[str, ...] | None = None,
    class_prior: bool = True,
) -> None:
    from engine.data.schema import read_table
    from engine.infer.calibrate import calibrate_model

    report = calibrate_model(
        model_dir, read_table(data) if data else None, surveys=surveys, class_prior=class_prior
    )
    before, after = report["before"]["reliability"]["ece"], report["after"]["reliability"]["ece"]
    typer.echo(
        f"calibrated on {report['n_objects']:,} held-out objects: temperature "
        f"{report['temperature']:.3f}, class-prior weight {report['prior_weight']:.2f}, "
        f"ECE {before:.4f} -> {after:.4f}"
    )


@app.command()
@friendly_errors
def calibrate(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model name or directory.")
    ] = "atcat-plasticc",
    data: Annotated[
        Path | None,
        typer.Option(help="Labelled objects not trained on (default: the run's validation set)."),
    ] = None,
    survey: Annotated[
        list[str] | None,
        typer.Option(
            "--survey",
            help="Also fit on each object observed by one of these survey profiles (default: "
            "the profiles the model was trained with, for its own validation set).",
        ),
    ] = None,
    class_prior: Annotated[
        bool,
        typer.Option(
            help="Also fit the weight of the training class prior (a class-balanced model "
            "otherwise treats rare and common classes as equally likely)."
        ),
    ] = True,
) -> None:
    """Fit temperature scaling (and the class-prior weight) on held-out objects; store them."""
    from engine.models.registry import find_model

    surveys = tuple(survey) if survey else None
    _report_calibration(find_model(model).path, data, surveys, class_prior)


def _load(paths: Path | list[Path], read: ReadOptions, report_path: Path | None) -> LoadedTable:
    """Read user files through :func:`engine.data.load.load` and print what reading did."""
    from engine.data.load import load

    loaded = load(paths, read, progress=isinstance(paths, list) and len(paths) > 1)
    echo_reports(loaded, report_path)
    return loaded


ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="Shipped model name or a model directory.")
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        help="auto (bf16 where the device runs it natively: CPUs with AMX/AVX-512 BF16, "
        "Ampere+ GPUs; fp32 elsewhere), fp32 or bf16."
    ),
]
DeviceOption = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 ... (default: auto).")]


@app.command()
@friendly_errors
@reads_user_files
def score(
    input: Annotated[
        Path, typer.Argument(help="Light curves: catscope Parquet or any ingest format.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file of predictions.")],
    read: ReadOptions,
    report_path: Path | None,
    model: ModelOption = "atcat-plasticc",
    device: DeviceOption = None,
    precision: PrecisionOption = "auto",
    engine: Annotated[
        str,
        typer.Option(
            help="local, or dask: INPUT is a folder of Parquet shards or a HATS catalogue."
        ),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(help="With --engine dask: scheduler address (default: a local cluster)."),
    ] = None,
    head: Annotated[
        Path | None,
        typer.Option(
            help="A head from 'catscope adapt': score its classes on its model's embeddings."
        ),
    ] = None,
) -> None:
    """Classify light curves: object_id, pred_class, confidence, unsure and p_<class> columns.

    Runs bf16 where the device has it natively (``--precision fp32`` for full precision).
    With --head, the columns are the head's classes' probabilities (no unsure column).
    """
    from engine.infer import InferenceSettings, load_predictor

    settings = InferenceSettings(device=device, precision=precision)
    if head is not None:
        from engine.index.adapt import score_table
        from engine.training.head import EmbeddingHead

        if engine != "local":
            msg = "--head scores with --engine local only"
            raise typer.BadParameter(msg)
        fitted = EmbeddingHead.load(head)
        predictions = score_table(_load(input, read, report_path).table, fitted, settings=settings)
        predictions.write_parquet(out)
        typer.echo(
            f"wrote {out}: {predictions.height:,} objects scored by the head on {fitted.model} "
            f"({', '.join(fitted.classes)})"
        )
        return
    if engine not in ("local", "dask"):
        msg = f"--engine must be 'local' or 'dask', got {engine!r}"
        raise typer.BadParameter(msg)
    if engine == "dask":
        from engine.infer.distributed import score_dataset

        n_objects, n_parts = score_dataset(
            input,
            out,
            model,
            client=scheduler,
            options=read,
            settings=settings,
        )  # fmt: skip
        typer.echo(f"wrote {out}: {n_objects:,} objects in {n_parts:,} partitions")
        return
    predictor = load_predictor(model, settings=settings)
    predictions = predictor.predict(_load(input, read, report_path).table)
    predictions.write_parquet(out)
    typer.echo(f"wrote {out}: {predictions.height:,} objects scored by {predictor.info.name}")


@app.command()
@friendly_errors
@reads_user_files
def evaluate(
    data: Annotated[
        Path, typer.Option(help="Labelled light curves: catscope Parquet or any ingest format.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON file of metrics.")],
    read: ReadOptions,
    report_path: Path | None,
    model: ModelOption = "atcat-plasticc",
    folds: Annotated[
        Path | None, typer.Option(help="folds.parquet: evaluate only the objects of --fold.")
    ] = None,
    fold: Annotated[int, typer.Option(help="Fold to evaluate with --folds.")] = 0,
    without_metadata: Annotated[
        bool, typer.Option(help="Hide per-object metadata: light curves only, as for most uploads.")
    ] = False,
    device: DeviceOption = None,
    precision: PrecisionOption = "fp32",
) -> None:
    """Macro F1, class-balanced F1, calibration, early detection and next-point NLL."""
    from engine.data.folds import select_folds
    from engine.data.schema import LIGHT_CURVE_SCHEMA
    from engine.infer import InferenceSettings, load_predictor
    from engine.infer.evaluate import evaluate_predictor, nll_at_gp_positions

    predictor = load_predictor(
        model, settings=InferenceSettings(device=device, precision=precision)
    )
    table = _load(data, read, report_path).table
    if folds is not None:
        table = select_folds(table, folds, [fold])
    if without_metadata:
        table = table.select(*LIGHT_CURVE_SCHEMA.names(), "label")
    metrics = evaluate_predictor(predictor, table)
    if folds is not None and not without_metadata:
        metrics["next_point_nll_gp_positions"] = nll_at_gp_positions(
            predictor, data, folds, fold=fold
        )
    out.write_text(json.dumps(metrics, indent=1))
    c, ece = metrics["classification"], metrics["calibration"]
    typer.echo(
        f"{metrics['n_objects']:,} objects: macro F1 {c['macro_f1']:.4f}, class-balanced macro F1 "
        f"{c['class_balanced_macro_f1']:.4f}, ECE {ece['before']['reliability']['ece']:.4f}"
        f" -> {ece['after']['reliability']['ece']:.4f}, next-point NLL "
        f"{metrics['next_point_nll']['mean']:.3f}; written to {out}"
    )


@app.command()
@friendly_errors
def baseline(
    data: Annotated[
        Path, typer.Option(help="Folder with plasticc.parquet and folds.parquet.")
    ] = Path("data/plasticc"),
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON file of baseline metrics.")] = Path(
        "assets/baselines/plasticc.json"
    ),
    n_jobs: Annotated[int, typer.Option(help="Worker processes.")] = 2,
) -> None:
    """Feature + LightGBM classification and Gaussian-process next-point baselines on fold 0."""
    from engine.baselines.report import run_baselines

    run_baselines(data, out, n_jobs=n_jobs)
    typer.echo(f"baseline metrics written to {out}")


@app.command()
@friendly_errors
@reads_user_files
def index(
    input: Annotated[
        Path, typer.Argument(help="Light curves: catscope Parquet or any ingest format.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Catalogue folder to write.")],
    read: ReadOptions,
    report_path: Path | None,
    models: Annotated[
        list[str] | None,
        typer.Option("--models", "-m", help="Models to index with (default: all shipped)."),
    ] = None,
    add: Annotated[
        bool,
        typer.Option(help="Add INPUT's objects to the existing catalogue OUT without refitting."),
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing catalogue.")] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="local, or dask: run the models on a Dask cluster (INPUT is a folder of "
            "Parquet shards)."
        ),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(help="With --engine dask: scheduler address (default: a local cluster)."),
    ] = None,
    index_kind: Annotated[
        str,
        typer.Option(
            help="FAISS index: auto (exact < 100k, HNSW < 10M, IVF-PQ above), flat, hnsw or ivfpq."
        ),
    ] = "auto",
) -> None:
    """Build a catalogue: predictions, embeddings, UMAP map, FAISS index and anomaly scores.

    INPUT may be a folder of canonical Parquet shards (read in sorted order).
    """
    from engine.index.catalog_build import (
        add_to_catalog,
        build_catalog,
        read_input,
        read_manifest,
    )

    if engine not in ("local", "dask"):
        msg = f"--engine must be 'local' or 'dask', got {engine!r}"
        raise typer.BadParameter(msg)
    if input.is_dir():
        read.refuse_rereading(input)
    source = input if input.is_dir() else _load(input, read, report_path).table
    if add:
        table = read_input(source)
        placed = add_to_catalog(out, table)
        typer.echo(f"added {table.height:,} objects to {out} ({', '.join(placed)})")
        return
    written = build_catalog(
        source, out, models or None, mode="overwrite" if overwrite else "create",
        engine=engine, client=scheduler, index_kind=index_kind,
    )  # fmt: skip
    n_objects = read_manifest(written)["n_objects"]
    typer.echo(f"catalogue of {n_objects:,} objects written to {out}")


@app.command()
@friendly_errors
def adapt(
    labels: Annotated[
        Path,
        typer.Option(help="object_id,label CSV, or the label store (a path or SQLAlchemy URL)."),
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="One of the catalogue's models.")],
    catalog: Annotated[
        Path, typer.Option(help="Catalogue folder (catscope index) holding the embeddings.")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for the head (default CATALOG/MODEL/head)."),
    ] = None,
    catalogue_name: Annotated[
        str | None,
        typer.Option(help="Catalogue key of the stored labels (default: the folder's name)."),
    ] = None,
    kind: Annotated[str, typer.Option(help="logistic or mlp.")] = "logistic",
) -> None:
    """Fit a calibrated classifier head on a model's embeddings from your labels; save it."""
    from engine.index.adapt import adapt_catalogue, read_labels
    from engine.training.head import HeadSettings

    frame = read_labels(labels, catalogue=catalogue_name or catalog.resolve().name)
    head, path = adapt_catalogue(catalog, frame, model, out=out, settings=HeadSettings(kind=kind))
    scores = head.report["classification"]
    per_class = ", ".join(
        f"{r['class']} {r['f1']:.2f}" if r["f1"] is not None else f"{r['class']} n/a"
        for r in scores["per_class"]
    )
    typer.echo(
        f"head on {model} from {head.report['n_objects']:,} labels, {len(head.classes)} classes: "
        f"{head.report['n_splits']}-fold cross-validated macro F1 {scores['macro_f1']:.3f} "
        f"({per_class}); temperature {head.temperature:.3f}; written to {path}"
    )


@app.command()
@friendly_errors
def neighbours(
    catalog: Annotated[Path, typer.Argument(help="Catalogue folder (catscope index).")],
    object_id: Annotated[str, typer.Argument(help="Object to find neighbours of.")],
    k: Annotated[int, typer.Option("-k", help="Number of neighbours.")] = 10,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Embedding model (default: the first classifier)."),
    ] = None,
) -> None:
    """List the k most similar objects in a model's embedding space (cosine distance)."""
    from engine.index.catalog_build import neighbours as find_neighbours

    _print_frame(find_neighbours(catalog, object_id, k=k, model=model))


@app.command()
@friendly_errors
def anomalies(
    catalog: Annotated[Path, typer.Argument(help="Catalogue folder (catscope index).")],
    top: Annotated[int, typer.Option(help="How many objects to list.")] = 50,
    scorer: Annotated[
        str | None,
        typer.Option(help="gmm_nll, isolation_forest or knn_distance (default gmm_nll)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Embedding model (default: the first classifier)."),
    ] = None,
) -> None:
    """List the strangest objects of a catalogue by an anomaly scorer (highest score first)."""
    from engine.index.catalog_build import top_anomalies

    _print_frame(top_anomalies(catalog, n=top, scorer=scorer, model=model))


@app.command()
@friendly_errors
@reads_user_files
def plan(
    input: Annotated[
        Path,
        typer.Argument(help="Catalogue folder (catscope index), catscope Parquet or any format."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file of the ranked plan.")],
    read: ReadOptions,
    report_path: Path | None,
    objects: Annotated[
        Path | None, typer.Option(help="Text file of object ids to plan for, one per line.")
    ] = None,
    unsure_only: Annotated[
        bool, typer.Option(help="Only objects whose most likely class has p < 0.5.")
    ] = False,
    anomalies: Annotated[
        int | None,
        typer.Option(help="Only the N top anomaly candidates (a catalogue folder's gmm_nll)."),
    ] = None,
    first_day: Annotated[
        float, typer.Option(help="Earliest candidate, days after the last point.")
    ] = 1.0,
    last_day: Annotated[
        float, typer.Option(help="Latest candidate, days after the last point.")
    ] = 30.0,
    step: Annotated[float, typer.Option(help="Days between candidate times.")] = 1.0,
    bands: Annotated[
        str | None, typer.Option(help="Comma-separated candidate bands (default: each object's).")
    ] = None,
    samples: Annotated[int, typer.Option(help="Sampled fluxes per candidate.")] = 32,
    seed: Annotated[int, typer.Option(help="Random seed of the sampling.")] = 0,
    top: Annotated[int, typer.Option(help="How many of the ranked objects to print.")] = 10,
    model: ModelOption = "atcat-plasticc",
    device: DeviceOption = None,
) -> None:
    """Rank objects by how much their best next observation should tell about their class.

    For each object: the band and days ahead whose observation has the largest expected
    reduction of the class entropy (bits, with its Monte-Carlo standard error), from ATCAT's
    next-flux distribution; see engine/infer/plan.py.
    """
    from engine.infer import InferenceSettings, load_predictor
    from engine.infer.plan import PlanSettings, plan_catalogue, select_objects

    settings = PlanSettings(
        first_day=first_day, last_day=last_day, step=step, n_samples=samples, seed=seed,
        bands=tuple(b.strip() for b in bands.split(",") if b.strip()) if bands else (),
    )  # fmt: skip
    table, registry = _plan_input(input, read, report_path, anomalies)
    ids = objects.read_text().split() if objects is not None else None
    predictor = load_predictor(model, settings=InferenceSettings(device=device))
    table = select_objects(predictor, table, object_ids=ids, unsure_only=unsure_only)
    ranked = plan_catalogue(predictor, table, settings, registry=registry)
    ranked.write_parquet(out)
    typer.echo(f"wrote {out}: best next observation of {ranked.height:,} objects")
    shown = ("rank", "object_id", "pred_class", "best_band", "days_ahead", "expected_bits")
    _print_frame(ranked.head(top).select(*shown, "standard_error"))


def _plan_input(
    input: Path, read: ReadOptions, report_path: Path | None, anomalies: int | None
) -> tuple[pl.DataFrame, BandRegistry]:
    """Return the light curves ``plan`` reads (top anomalies when asked) and their bands."""
    import polars as pl

    from engine.catalog import Catalog
    from engine.errors import InputError

    if input.is_dir():
        read.refuse_rereading(input)
        table, registry = Catalog.load(input).table, read.registry
    else:
        loaded = _load(input, read, report_path)
        table, registry = loaded.table, loaded.registry
    if anomalies is None:
        return table, registry
    if not input.is_dir():
        msg = f"--anomalies needs a catalogue folder (catscope index), got the file {input}"
        raise InputError(msg)
    from engine.index.catalog_build import top_anomalies

    ids = top_anomalies(input, n=anomalies)["object_id"]
    return table.filter(pl.col("object_id").is_in(ids.implode())), registry


PlasticcDataOption = Annotated[
    Path, typer.Option(help="Folder with plasticc.parquet and folds.parquet (catscope data).")
]


def _plasticc_files(data: Path) -> tuple[Path, Path]:
    """Return the table and the folds of a ``catscope data plasticc`` folder."""
    from engine.data.plasticc import FOLDS_NAME, TABLE_NAME

    return data / TABLE_NAME, data / FOLDS_NAME


def _report_benchmark(
    results: pl.DataFrame, markdown: Callable[[pl.DataFrame], str], out: Path | None
) -> None:
    """Print a benchmark's results as Markdown, and write them to ``out`` as Parquet if given."""
    if out is not None:
        results.write_parquet(out)
    typer.echo(markdown(results))


ModelsOption = Annotated[
    list[str] | None,
    typer.Option("--models", "-m", help="Model names or directories (default: every shipped)."),
]
ThreadsOption = Annotated[
    int | None, typer.Option(help="Cap of BLAS/OpenMP threads (default: the libraries' own).")
]


@app.command("anomaly-benchmark")
@friendly_errors
def anomaly_benchmark(
    data: PlasticcDataOption = Path("data/plasticc"),
    models: ModelsOption = None,
    classes: Annotated[
        list[str] | None,
        typer.Option("--classes", help="Classes to hold out (default KN TDE Mira)."),
    ] = None,
    threads: ThreadsOption = None,
    out: Annotated[Path | None, typer.Option(help="Also write the results as Parquet.")] = None,
) -> None:
    """Held-out-class test of the anomaly scorers (KN, TDE, Mira): AUROC and precision@1 %."""
    from engine.index.anomaly_benchmark import (
        DEFAULT_CLASSES,
        benchmark_markdown,
        run_anomaly_benchmark,
    )

    results = run_anomaly_benchmark(
        *_plasticc_files(data),
        models or None,
        classes=classes or DEFAULT_CLASSES,
        threads=threads,
    )
    _report_benchmark(results, benchmark_markdown, out)


@app.command("evaluate-embeddings")
@friendly_errors
def evaluate_embeddings(
    data: PlasticcDataOption = Path("data/plasticc"),
    models: ModelsOption = None,
    k: Annotated[int, typer.Option("-k", help="Neighbours of the k-NN vote.")] = 10,
    threads: ThreadsOption = None,
    out: Annotated[Path | None, typer.Option(help="Also write the results as Parquet.")] = None,
) -> None:
    """Linear-probe macro F1 and k-NN accuracy of every model's embeddings on fold 0."""
    from engine.index.catalog_build import resolve_models
    from engine.infer.embedding_benchmark import benchmark_markdown, embedding_benchmark

    names = [info.path for info in resolve_models(models or None)]
    results = embedding_benchmark(names, *_plasticc_files(data), k=k, threads=threads)
    _report_benchmark(results, benchmark_markdown, out)


@app.command()
@friendly_errors
def robustness(
    data: PlasticcDataOption = Path("data/plasticc"),
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models",
            "-m",
            help="Classifiers to compare (default: the shipped ATCAT and its stage-1 weights).",
        ),
    ] = None,
    profile: Annotated[
        list[str] | None,
        typer.Option(
            "--profile",
            help="clean, a built-in survey profile or a .toml, with ':near' to move objects "
            "where the survey sees them (default: all, and ztf:near, atlas:near).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the degradation, shared by every model.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Also write the results as Parquet.")] = None,
) -> None:
    """Classifiers on fold 0 as other surveys would have observed it: F1, recall, ECE, domain."""
    from engine.infer.robustness import DEFAULT_MODELS, robustness_benchmark, robustness_markdown

    results = robustness_benchmark(
        models or list(DEFAULT_MODELS),
        *_plasticc_files(data),
        profiles=profile or None,
        seed=seed,
    )
    _report_benchmark(results, robustness_markdown, out)


@app.command("domain-reference")
@friendly_errors
def domain_reference(
    model: ModelOption = "atcat-plasticc",
    data: PlasticcDataOption = Path("data/plasticc"),
    k: Annotated[int, typer.Option("-k", help="Reference neighbours of the k-NN distance.")] = 10,
    threshold: Annotated[
        float, typer.Option(help="Largest domain score still in domain (k-NN percentile).")
    ] = 0.95,
    survey: Annotated[
        list[str] | None,
        typer.Option(
            "--survey",
            help="Also add each training object observed by one of these survey profiles "
            "(names or .toml paths): for a model trained with survey augmentation.",
        ),
    ] = None,
) -> None:
    """Fit the model's domain reference on its training objects and store it with the model."""
    from engine.infer.domain_build import build_domain_reference
    from engine.training.surveys import survey_copies

    surveys = "".join(f" --survey {name}" for name in survey or [])
    command = (
        f"catscope domain-reference --model {model} --data {data} -k {k} "
        f"--threshold {threshold}{surveys}"
    )
    path = build_domain_reference(
        model,
        *_plasticc_files(data),
        extra_reference=survey_copies(survey) if survey else None,
        k=k,
        threshold=threshold,
        command=command,
    )
    typer.echo(f"domain reference written to {path}")


def _print_frame(frame) -> None:
    """Print ``frame`` whole; ids from users' files lose their control characters first."""
    import polars as pl

    shown = frame.with_columns(pl.col(pl.String).map_elements(printable, return_dtype=pl.String))
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, fmt_str_lengths=40):
        typer.echo(str(shown))


if __name__ == "__main__":
    app()
