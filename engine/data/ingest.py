"""Read several light-curve files into one canonical table (what ``catscope ingest`` runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl
from tqdm.auto import tqdm

from engine.data.assemble import IngestReport
from engine.data.bands import BandRegistry
from engine.data.readers import DEFAULT_MAX_FILE_BYTES, read_any
from engine.data.readers.columns import check_roles
from engine.data.readers.snana import partner
from engine.data.schema import check_table
from engine.errors import InputError, InvalidValueError

_MAX_LISTED = 5


def parse_columns(text: str | None) -> dict[str, str]:
    """Parse ``--columns`` text ``role=COLUMN,role=COLUMN`` into ``{role: column}``.

    Roles are those of :data:`~engine.data.readers.columns.ROLES`; spaces around names are
    ignored, column names keep their case.
    """
    mapping: dict[str, str] = {}
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        role, sep, column = entry.partition("=")
        role, column = role.strip().lower(), column.strip()
        if not sep or not role or not column:
            msg = (
                f"--columns entry {entry.strip()!r} is not of the form ROLE=COLUMN "
                "(e.g. --columns object_id=ID,time=MJD,band=FLT,mag=M,mag_err=E)"
            )
            raise InputError(msg)
        if role in mapping:
            msg = f"--columns gives {role!r} twice ({mapping[role]!r} and {column!r})"
            raise InputError(msg)
        mapping[role] = column
    check_roles(mapping)
    return mapping


def _without_paired_phot(paths: list[Path]) -> list[Path]:
    """Drop SNANA PHOT files whose HEAD file is also listed: reading the HEAD reads both."""
    listed = {p.resolve() for p in paths}
    return [
        p for p in paths if (head := partner(p, "HEAD")) is None or head.resolve() not in listed
    ]


def _check_unique_ids(tables: list[pl.DataFrame], reports: list[IngestReport]) -> None:
    ids = pl.concat(
        table.select("object_id", pl.lit(report.source).alias("file"))
        for table, report in zip(tables, reports, strict=True)
    )
    clash = ids.filter(pl.col("object_id").is_duplicated())
    if clash.height:
        first = clash["object_id"][0]
        files = clash.filter(pl.col("object_id") == first)["file"].to_list()
        n = clash["object_id"].n_unique()
        msg = (
            f"object {first!r} appears in {' and '.join(files)}"
            + (f" ({n - 1} more objects are in several files)" if n > 1 else "")
            + "; object ids must be unique across the files of one ingest"
        )
        raise InvalidValueError(msg)


def ingest_files(
    paths: Sequence[str | Path],
    *,
    columns: Mapping[str, str] | None = None,
    band_map: Mapping[str, float] | None = None,
    metadata_path: str | Path | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: bool = True,
) -> tuple[pl.DataFrame, list[IngestReport]]:
    """Read ``paths`` (any supported format) and concatenate them into one canonical table.

    Parameters
    ----------
    paths
        Light-curve files; a SNANA HEAD/PHOT pair may be given as both files or either one.
    columns
        Role -> column overrides for every file (see :func:`parse_columns`).
    band_map
        Extra bands, ``name -> wavelength (Å)`` (see :func:`engine.data.bands.parse_band_map`).
    metadata_path
        Per-object metadata/labels for the objects of all files.
    max_file_bytes
        Size limit per file.
    progress
        Show a progress bar over the files.

    Returns
    -------
    The table (objects in file order) and one report per file. Raises
    :class:`~engine.errors.InputError` if an object id appears in two files.
    """
    if not paths:
        msg = "no input files given"
        raise InputError(msg)
    registry = BandRegistry(extra=dict(band_map or {}))
    files = _without_paired_phot([Path(p) for p in paths])
    tables, reports = [], []
    for path in tqdm(files, desc="ingest", unit="file", disable=not progress):
        table, report = read_any(
            path,
            columns=columns,
            registry=registry,
            metadata_path=metadata_path,
            max_file_bytes=max_file_bytes,
        )
        tables.append(table)
        reports.append(report)
    _check_unique_ids(tables, reports)
    return check_table(pl.concat(tables, how="diagonal_relaxed")), reports
