"""The PLAsTiCC training set as catscope's benchmark: download, convert, split, subsample.

The data (7,848 objects, 1,421,705 points, 14 classes) ship inside the PyPI package
``snmachine==2.0.0.post3``; ``pip download`` fetches its wheel without installing it, and the two
CSV files are read straight out of the wheel. The split is fixed: 5 stratified folds with
:data:`SPLIT_SEED`; fold 0 is the held-out evaluation fold of every shipped model.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.model_selection import StratifiedKFold

from engine.data.readers.plasticc import read_plasticc
from engine.data.schema import write_table
from engine.errors import CatscopeError

PACKAGE = "snmachine==2.0.0.post3"
MEMBERS = {
    "lightcurves": "snmachine/example_data/plasticc_train_lightcurves.csv",
    "metadata": "snmachine/example_data/plasticc_train_metadata.csv",
}
N_FOLDS = 5
SPLIT_SEED = 20190927  # the PLAsTiCC results release date; fixed forever
EVAL_FOLD = 0
TABLE_NAME = "plasticc.parquet"
FOLDS_NAME = "folds.parquet"


def download_wheel(directory: Path) -> Path:
    """``pip download`` the snmachine wheel into ``directory``; return its path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PACKAGE,
               "-d", str(directory)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(directory.glob("snmachine-*.whl"))
    if result.returncode or not wheels:
        msg = f"`{' '.join(command)}` failed:\n{result.stderr.strip()}"
        raise CatscopeError(msg)
    return wheels[0]


def extract_csvs(wheel: Path, directory: Path) -> dict[str, Path]:
    """Extract the light-curve and metadata CSVs from the snmachine wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return {key: Path(archive.extract(member, directory)) for key, member in MEMBERS.items()}


def make_folds(
    table: pl.DataFrame, *, n_folds: int = N_FOLDS, seed: int = SPLIT_SEED
) -> pl.DataFrame:
    """Stratified ``object_id -> fold`` assignment (fold in 0..n_folds-1)."""
    folds = np.empty(table.height, dtype=np.int8)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    labels = table["label"].to_numpy()
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        folds[test] = fold
    return pl.DataFrame({"object_id": table["object_id"], "fold": folds})


def stratified_subset(
    table: pl.DataFrame, n_objects: int, *, min_per_class: int = 10, seed: int = SPLIT_SEED
) -> pl.DataFrame:
    """About ``n_objects`` objects keeping class proportions, at least ``min_per_class`` each."""
    rng = np.random.default_rng(seed)
    fraction = n_objects / table.height
    chosen = []
    for _, group in table.group_by("label", maintain_order=True):
        n = min(group.height, max(min_per_class, round(fraction * group.height)))
        chosen.append(group[np.sort(rng.choice(group.height, size=n, replace=False))])
    return pl.concat(chosen).sort("object_id")


def build(out: Path, *, sample_dir: Path | None = None, sample_size: int = 1000) -> dict[str, Path]:
    """Download PLAsTiCC, write the canonical table and folds to ``out``; optionally the sample.

    Returns the paths written: ``table``, ``folds`` and, with ``sample_dir``, ``sample``.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        csvs = extract_csvs(download_wheel(Path(tmp)), Path(tmp))
        table, _ = read_plasticc(csvs["lightcurves"], csvs["metadata"])
    folds = make_folds(table)
    paths = {"table": out / TABLE_NAME, "folds": out / FOLDS_NAME}
    write_table(table, paths["table"])
    folds.write_parquet(paths["folds"])
    if sample_dir is not None:
        sample_dir.mkdir(parents=True, exist_ok=True)
        eval_fold = table.join(folds.filter(pl.col("fold") == EVAL_FOLD), on="object_id")
        paths["sample"] = sample_dir / "plasticc_fold0_sample.parquet"
        write_table(stratified_subset(eval_fold.drop("fold"), sample_size), paths["sample"])
    return paths
