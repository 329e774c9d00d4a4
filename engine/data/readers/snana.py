"""Reader for SNANA / ELAsTiCC photometry: FITS HEAD+PHOT pairs, single FITS tables, Parquet.

Supported layouts:

* **One table** (FITS or Parquet) with ``SNID``, ``MJD``, ``BAND`` (or ``FLT``), ``FLUXCAL``,
  ``FLUXCALERR`` and optionally ``PHOTFLAG`` (detected when bit 4096 is set): read like any
  long table. Band names may be bytes with trailing spaces (FITS); ``Y`` is LSST y.
* **A SNANA HEAD/PHOT pair** of FITS files (``*HEAD.FITS[.gz]`` and ``*PHOT.FITS[.gz]`` in one
  folder): give either file, the other is found by name. Each HEAD row points at its PHOT rows
  with the 1-based, inclusive ``PTROBS_MIN``/``PTROBS_MAX``. HEAD metadata kept: ``RA``,
  ``DEC``, ``MWEBV``, ``HOSTGAL_PHOTOZ``, ``HOSTGAL_PHOTOZ_ERR``, ``HOSTGAL_SPECZ``, with SNANA's
  "no value" (-9, -99, ...) read as missing.

Rows with ``MJD = -777`` (SNANA's end-of-light-curve marker) are dropped. Simulation truth
(``SIM_*``) and ``SNTYPE`` are not read: give class labels with ``--metadata``. SNANA text
(``.DAT``) files, spectra and FITS files with several tables are not supported; only the first
table of a FITS file is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
from astropy.io import fits
from astropy.table import Table

from engine.data.bands import BandRegistry
from engine.data.clean import CleaningPolicy
from engine.data.readers.columns import ROLES, detect_columns, points_from_frame, squash
from engine.data.readers.files import DEFAULT_MAX_FILE_BYTES, check_file
from engine.data.readers.long import finish
from engine.data.report import ROW, IngestReport
from engine.errors import InputError, InvalidValueError, MissingColumnError

#: HEAD column -> catscope metadata name
HEAD_METADATA = {
    "RA": "ra",
    "DEC": "dec",
    "DECL": "dec",
    "MWEBV": "mwebv",
    "HOSTGAL_PHOTOZ": "hostgal_photoz",
    "HOSTGAL_PHOTOZ_ERR": "hostgal_photoz_err",
    "HOSTGAL_SPECZ": "hostgal_specz",
}
#: SNANA writes -9, -99 or -999 for "no value" in non-negative quantities
NO_VALUE_BELOW = -8.0
SEPARATOR_MJD = -777.0


def is_snana(columns: list[str]) -> bool:
    """Tell whether ``columns`` are SNANA photometry (``FLUXCAL`` and ``FLUXCALERR``)."""
    return {"fluxcal", "fluxcalerr"} <= {squash(c) for c in columns}


def read_fits_table(path: Path) -> pl.DataFrame:
    """Read the first table of a FITS file with ``_row``; bytes decoded, masked values null.

    Multidimensional (vector) columns are left out: they cannot be per-point values.
    """
    with fits.open(path, memmap=False) as hdus:
        index = next(
            (i for i, hdu in enumerate(hdus) if isinstance(hdu, fits.BinTableHDU | fits.TableHDU)),
            None,
        )
        kinds = [type(hdu).__name__ for hdu in hdus]
    if index is None:
        msg = f"{path}: no table in this FITS file (HDUs: {', '.join(kinds)})"
        raise InputError(msg)
    table = Table.read(path, hdu=index)
    table.convert_bytestring_to_unicode()
    frame = pl.DataFrame([pl.Series(n, table[n]) for n in table.colnames if table[n].ndim == 1])
    if frame.height == 0:
        msg = f"{path}: the FITS table has no rows"
        raise InputError(msg)
    return frame.with_row_index(ROW, offset=1)


def partner(path: Path, want: str) -> Path | None:
    """Name the ``want`` (``"HEAD"`` or ``"PHOT"``) file of ``path`` (``x_HEAD`` <-> ``x_PHOT``).

    ``None`` when the name has no ``HEAD``/``PHOT`` to swap; the file may not exist.
    """
    have = "PHOT" if want == "HEAD" else "HEAD"
    name = path.name
    at = name.upper().rfind(have)
    if at < 0:
        return None
    replacement = want.lower() if name[at : at + 4].islower() else want
    return path.with_name(name[:at] + replacement + name[at + 4 :])


def _read_partner(path: Path, want: str, max_file_bytes: int) -> pl.DataFrame:
    other = partner(path, want)
    if other is None or not other.is_file():
        expected = f"{other.name} next to it" if other else f"a {want} file named like it"
        msg = (
            f"{path}: reading a SNANA HEAD/PHOT pair needs {expected}; give both files, or one "
            "photometry table with an SNID column"
        )
        raise MissingColumnError(msg)
    return read_fits_table(check_file(other, max_file_bytes))


def _columns_by_squashed(frame: pl.DataFrame) -> dict[str, str]:
    return {squash(c): c for c in frame.columns}


def _has_object_id(frame: pl.DataFrame) -> bool:
    accepted = {squash(n) for n in ROLES["object_id"]}
    return any(squash(c) in accepted for c in frame.columns)


def attach_snid(head: pl.DataFrame, phot: pl.DataFrame, *, source: str) -> pl.DataFrame:
    """PHOT rows of every HEAD object, in HEAD order, with the object's ``SNID``."""
    names = _columns_by_squashed(head)
    missing = [c for c in ("snid", "ptrobsmin", "ptrobsmax") if c not in names]
    if missing:
        msg = f"{source}: the HEAD table lacks {missing}; it has {head.columns}"
        raise MissingColumnError(msg)
    low = head[names["ptrobsmin"]].cast(pl.Int64).to_numpy()
    high = head[names["ptrobsmax"]].cast(pl.Int64).to_numpy()
    lengths = high - low + 1
    bad = (low < 1) | (lengths < 0) | (high > phot.height)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        msg = (
            f"{source}: HEAD row {row + 1} points at PHOT rows {low[row]}..{high[row]}, outside "
            f"1..{phot.height}; the HEAD and PHOT files do not belong together"
        )
        raise InvalidValueError(msg)
    # index of every PHOT row of every object: start of its object + position within it
    starts = np.repeat(low - 1, lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    snid = np.repeat(head[names["snid"]].cast(pl.String).str.strip_chars().to_numpy(), lengths)
    rows = phot[starts + within]
    return rows.drop([c for c in rows.columns if squash(c) == "snid"]).with_columns(
        pl.Series("SNID", snid, dtype=pl.String)
    )


def head_metadata(head: pl.DataFrame) -> pl.DataFrame:
    """Per-object metadata (:data:`HEAD_METADATA`) of a HEAD table, keyed by ``object_id``."""
    names = _columns_by_squashed(head)
    kept: dict[str, str] = {}
    for column, name in HEAD_METADATA.items():  # first of DEC/DECL wins
        if squash(column) in names and name not in kept.values():
            kept[names[squash(column)]] = name
    values = [pl.col(k).cast(pl.Float64).alias(v) for k, v in kept.items()]
    no_value = [
        pl.when(pl.col(v) < NO_VALUE_BELOW).then(None).otherwise(pl.col(v)).alias(v)
        for v in kept.values()
        if v not in ("ra", "dec")
    ]
    snid = pl.col(names["snid"]).cast(pl.String).str.strip_chars().alias("object_id")
    return head.select(snid, *values).with_columns(no_value)


def snana_from_frame(
    frame: pl.DataFrame,
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    registry: BandRegistry | None = None,
    metadata: pl.DataFrame | None = None,
    head: pl.DataFrame | None = None,
    policy: CleaningPolicy | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Canonical table from one loaded SNANA-style photometry table (end markers dropped).

    ``head`` is the object table of a HEAD file, whose :data:`HEAD_METADATA` columns are kept.
    """
    mjd = _columns_by_squashed(frame).get("mjd")
    if mjd is not None:
        frame = frame.filter(pl.col(mjd).cast(pl.Float64, strict=False).ne_missing(SEPARATOR_MJD))
    report = IngestReport(source=source, format="snana" if is_snana(frame.columns) else "long")
    mapping = detect_columns(frame.columns, columns, source=source)
    points = points_from_frame(frame, mapping, report=report)
    return finish(
        points,
        frame,
        mapping,
        report=report,
        registry=registry,
        metadata=metadata,
        format_metadata=None if head is None else head_metadata(head),
        policy=policy,
    )


def read_snana(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    registry: BandRegistry | None = None,
    metadata: pl.DataFrame | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    policy: CleaningPolicy | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Read a SNANA FITS file, or HEAD/PHOT pair given either file, as a canonical table."""
    path = Path(path)
    table = read_fits_table(path)
    names = _columns_by_squashed(table)
    head, phot, phot_path = None, table, path
    if "ptrobsmin" in names:  # a HEAD file
        head, phot = table, _read_partner(path, "PHOT", max_file_bytes)
        phot_path = partner(path, "PHOT")
    elif "object_id" not in (columns or {}) and not _has_object_id(table):
        # a PHOT file: its HEAD says which rows are whose
        head = _read_partner(path, "HEAD", max_file_bytes)
    source = str(phot_path)
    if head is not None:
        phot = attach_snid(head, phot, source=source)
    return snana_from_frame(
        phot, source=source, columns=columns, registry=registry, metadata=metadata, head=head,
        policy=policy,
    )  # fmt: skip
