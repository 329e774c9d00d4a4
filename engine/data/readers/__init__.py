"""Readers: one module per input format, each returning the canonical table via ``assemble``.

:func:`read_any` is the entry point: it checks the file, recognises the format and hands the
file to its reader.

=========  ==================================================  =================================
format     recognised by                                       reader
=========  ==================================================  =================================
plasticc   CSV/Parquet with PLAsTiCC's six columns             :mod:`.plasticc`
ztf        ``fid``, ``magpsf`` and ``sigmapsf`` columns         :mod:`.ztf`
snana      any FITS file; ``FLUXCAL`` and ``FLUXCALERR``        :mod:`.snana`
long       any other CSV/TSV/Parquet, columns found by name    :mod:`.long`
=========  ==================================================  =================================

Files are recognised by content, not extension (Parquet and FITS by their first bytes, gzip
looked into); anything else is read as CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from engine.data.bands import BandRegistry
from engine.data.clean import CleaningPolicy
from engine.data.readers.files import DEFAULT_MAX_FILE_BYTES, check_file, load_frame, sniff
from engine.data.readers.long import long_from_frame, metadata_from_frame
from engine.data.readers.plasticc import (
    is_plasticc,
    is_plasticc_metadata,
    read_plasticc_metadata,
)
from engine.data.readers.snana import is_snana, read_snana, snana_from_frame
from engine.data.readers.ztf import is_ztf, ztf_from_frame
from engine.data.report import IngestReport
from engine.errors import CatscopeError, InputError

__all__ = ["DEFAULT_MAX_FILE_BYTES", "IngestReport", "read_any", "read_metadata"]

#: exceptions of polars, astropy and the OS that mean "this file cannot be parsed"
_PARSE_ERRORS = (pl.exceptions.PolarsError, OSError, ValueError, TypeError, EOFError)


def _wrapped(path: Path, exc: Exception) -> InputError:
    msg = f"{path}: cannot be read as light curves ({type(exc).__name__}: {exc})"
    return InputError(msg)


def read_metadata(
    path: str | Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> pl.DataFrame:
    """Per-object metadata and labels from a CSV or Parquet file with one row per object.

    A PLAsTiCC metadata file gets its class names and drops simulation truth
    (:func:`~engine.data.readers.plasticc.read_plasticc_metadata`); any other file needs an
    object-id column and may have a label column (see :mod:`.columns`).
    """
    path = check_file(path, max_file_bytes)
    try:
        frame = load_frame(path, sniff(path))
        if is_plasticc_metadata(frame.columns):
            return read_plasticc_metadata(path)
        return metadata_from_frame(frame, source=str(path))
    except CatscopeError:
        raise
    except _PARSE_ERRORS as exc:
        raise _wrapped(path, exc) from exc


def read_any(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    registry: BandRegistry | None = None,
    metadata_path: str | Path | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    policy: CleaningPolicy | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Read a light-curve file of any supported format as a canonical table.

    Parameters
    ----------
    path
        CSV, TSV, Parquet or FITS file (optionally gzip-compressed).
    columns
        Role -> column name, overriding column detection (see :mod:`.columns`).
    registry
        Band registry, e.g. with ``--band-map`` bands (default: built-in bands).
    metadata_path
        Optional per-object metadata/labels file (see :func:`read_metadata`).
    max_file_bytes
        Size limit per file; a larger file raises :class:`~engine.errors.FileTooLargeError`.
    policy
        What to drop, floor and merge (:mod:`engine.data.clean`; lenient by default).

    Returns
    -------
    The canonical table and the :class:`~engine.data.assemble.IngestReport`. Every failure is an
    :class:`~engine.errors.InputError` naming the file (and the column and rows where it can).
    """
    path = check_file(path, max_file_bytes)
    metadata = (
        read_metadata(metadata_path, max_file_bytes=max_file_bytes) if metadata_path else None
    )
    options = {
        "source": str(path),
        "columns": columns,
        "registry": registry,
        "metadata": metadata,
        "policy": policy,
    }
    try:
        kind = sniff(path)
        if kind == "fits":
            return read_snana(
                path,
                columns=columns,
                registry=registry,
                metadata=metadata,
                max_file_bytes=max_file_bytes,
                policy=policy,
            )
        frame = load_frame(path, kind)
        if is_plasticc(frame.columns):
            return long_from_frame(frame, format="plasticc", **options)
        if is_ztf(frame.columns):
            return ztf_from_frame(frame, **options)
        if is_snana(frame.columns):
            return snana_from_frame(frame, **options)
        return long_from_frame(frame, **options)
    except CatscopeError:
        raise
    except _PARSE_ERRORS as exc:
        raise _wrapped(path, exc) from exc
