"""File-level checks and loading: existence, size limit, format sniffing, CSV and Parquet.

Loaded frames keep every column and gain ``_row``, the 1-based data row (CSV: 1 is the first
line after the header, comment lines not counted; Parquet and FITS: the table row, or the point
for exploded list columns), which every later message cites.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Literal

import polars as pl

from engine.data.report import ROW
from engine.errors import EmptyLightCurveError, FileTooLargeError, InputError

#: default ``max_file_bytes``: 2 GiB
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3
FileKind = Literal["csv", "parquet", "fits"]
_SNIFF_BYTES = 8192


def check_file(path: str | Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Path:
    """Raise unless ``path`` is an existing, non-empty file of at most ``max_file_bytes``."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        msg = f"{path}: {what}; give a light-curve file (CSV, Parquet or FITS)"
        raise InputError(msg)
    size = path.stat().st_size
    if size > max_file_bytes:
        msg = (
            f"{path}: {size:,} bytes is over the {max_file_bytes:,}-byte limit; split the file "
            "or raise the limit (max_file_bytes)"
        )
        raise FileTooLargeError(msg)
    if size == 0:
        msg = f"{path}: the file is empty"
        raise EmptyLightCurveError(msg)
    return path


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head[:2] == b"\x1f\x8b":  # gzip: look inside
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(_SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            msg = f"{path}: not a readable gzip file ({exc})"
            raise InputError(msg) from exc
    return head


def sniff(path: Path) -> FileKind:
    """Tell the file's format from its first bytes: Parquet, FITS, or else CSV text."""
    head = _head(path)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            msg = (
                f"{path}: not a text file (byte {exc.start} is not UTF-8) and not Parquet or "
                "FITS; give a CSV, Parquet or FITS file"
            )
            raise InputError(msg) from exc
        text = head[: exc.start].decode("utf-8")
    if "\x00" in text:
        msg = f"{path}: binary content, not a CSV, Parquet or FITS file"
        raise InputError(msg)
    return "csv"


def _ragged_line(path: Path, separator: str) -> str:
    """Describe the first line with more fields than the header (for polars' ragged error)."""
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        reader = csv.reader(lines, delimiter=separator)
        width = len(next(reader, []))
        for row in reader:
            if len(row) > width:
                return f"data row {reader.line_num - 1} has {len(row)} fields, the header {width}"
    return "a line has more fields than the header"


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _reason(exc: Exception) -> str:
    """Shorten a polars error to its first line and original cause, without tuning tips."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    _, found, original = text.partition("Original error:")
    cause = " ".join(original.replace("`", "").split())
    return f"{first} ({cause})" if found and cause else first


def read_csv(path: Path) -> pl.DataFrame:
    """Every column of a CSV (TSV for ``.tsv``) as text, names stripped, with ``_row``.

    Reading as text lets :func:`~engine.data.assemble.cast_numeric` name the row of a bad
    value. ``#`` starts a comment line.
    """
    separator = "\t" if ".tsv" in path.suffixes else ","
    try:
        frame = pl.read_csv(
            path,
            infer_schema=False,
            separator=separator,
            comment_prefix="#",
        )
    except pl.exceptions.ComputeError as exc:
        detail = _ragged_line(path, separator) if "more fields" in str(exc) else _reason(exc)
        msg = f"{path}: cannot parse as CSV: {detail}"
        raise InputError(msg) from exc
    except pl.exceptions.NoDataError as exc:
        msg = f"{path}: no header line, the file holds no CSV table"
        raise EmptyLightCurveError(msg) from exc
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return _with_rows(frame, path)


def read_parquet(path: Path) -> pl.DataFrame:
    """Read a Parquet table with ``_row``; list columns (one row per object) become points."""
    frame = pl.read_parquet(path)
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    if lists:
        try:
            frame = frame.explode(lists)
        except pl.exceptions.ShapeError as exc:
            msg = f"{path}: list columns {lists} have different lengths within a row"
            raise InputError(msg) from exc
    return _with_rows(frame, path)


def _with_rows(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    if frame.height == 0:
        msg = f"{path}: no data rows (columns: {', '.join(frame.columns)})"
        raise EmptyLightCurveError(msg)
    if ROW in frame.columns:
        msg = f"{path}: the column name {ROW!r} is reserved; rename that column"
        raise InputError(msg)
    return frame.with_row_index(ROW, offset=1)


def load_frame(path: Path, kind: FileKind) -> pl.DataFrame:
    """Load a CSV or Parquet file (FITS is read by :mod:`engine.data.readers.snana`)."""
    return read_parquet(path) if kind == "parquet" else read_csv(path)
