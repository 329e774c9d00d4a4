"""One way in: every reader of user files (CLI commands, the app's upload page, the Dask scorer).

:func:`load` takes the shared :class:`ReadOptions` (the ``--columns``, ``--band-map``,
``--metadata``, cleaning and ``--strict`` options of every command), reads and cleans each file
with :func:`engine.data.readers.read_any`, and returns a :class:`LoadedTable`: the canonical
table, one :class:`~engine.data.report.IngestReport` per file and the band registry the bands
were resolved with, so nothing downstream looks a band name up again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from tqdm.auto import tqdm

from engine.data.bands import WAVELENGTHS, BandRegistry
from engine.data.clean import CleaningPolicy
from engine.data.photometry import (
    FLUX_KIND_COLUMN,
    FluxKindOption,
    check_flux_kind,
    with_flux_kind,
)
from engine.data.readers import DEFAULT_MAX_FILE_BYTES, read_any, read_metadata
from engine.data.readers.long import long_from_frame
from engine.data.readers.snana import partner
from engine.data.report import ROW, BandSeen, IngestReport
from engine.data.schema import LIGHT_CURVE_SCHEMA, read_table
from engine.errors import InputError, InvalidValueError


@dataclass(frozen=True)
class ReadOptions:
    """How to read a user's light-curve files: the input options every command shares.

    Parameters
    ----------
    columns
        Role -> source column, overriding detection (see :mod:`engine.data.readers.columns`).
    band_map
        Extra bands or aliases, ``name -> wavelength (Å)``.
    metadata
        Per-object metadata/labels file for the objects of every file.
    cleaning
        What to drop, floor and merge, and whether to refuse instead (``strict``).
    max_file_bytes
        Size limit per file.
    flux_kind
        ``difference`` or ``total`` photometry for every object, or ``auto`` to tell them apart
        (:func:`engine.data.photometry.with_flux_kind`); total photometry is turned into
        difference photometry at the model door.
    """

    columns: Mapping[str, str] | None = None
    band_map: Mapping[str, float] = field(default_factory=dict)
    metadata: Path | None = None
    cleaning: CleaningPolicy = field(default_factory=CleaningPolicy)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    flux_kind: FluxKindOption = "auto"

    def __post_init__(self) -> None:
        check_flux_kind(self.flux_kind)

    @property
    def registry(self) -> BandRegistry:
        """The band registry of these options: built-in bands plus ``band_map``."""
        return BandRegistry(extra=dict(self.band_map))

    @property
    def rereads_tables(self) -> bool:
        """Whether a canonical catscope table must be read again (columns, bands or metadata)."""
        return bool(self.columns or self.band_map or self.metadata)

    def refuse_rereading(self, source: str | Path) -> None:
        """Raise if ``source`` (canonical shards, read as they are) would ignore these options."""
        if self.rereads_tables:
            msg = (
                f"{source}: --columns, --band-map and --metadata do not apply to a folder of "
                "catscope Parquet shards, which are read as they are; catscope ingest the files "
                "first"
            )
            raise InputError(msg)


@dataclass(frozen=True)
class LoadedTable:
    """A canonical table with what reading it did and the bands it was resolved with.

    ``registry`` knows every band of ``table`` (built-in, ``--band-map`` and bands carried by
    a canonical input), so continuations and other look-ups need no options again.
    """

    table: pl.DataFrame
    reports: tuple[IngestReport, ...]
    registry: BandRegistry


def _without_paired_phot(paths: list[Path]) -> list[Path]:
    """Drop SNANA PHOT files whose HEAD file is also listed: reading the HEAD reads both."""
    listed = {p.resolve() for p in paths}
    return [
        p for p in paths if (head := partner(p, "HEAD")) is None or head.resolve() not in listed
    ]


def _check_unique_ids(tables: Sequence[pl.DataFrame], reports: Sequence[IngestReport]) -> None:
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


def _is_canonical(path: Path) -> bool:
    if path.suffix not in (".parquet", ".pq") or not path.is_file():
        return False
    try:
        return set(LIGHT_CURVE_SCHEMA.names()) <= set(pl.read_parquet_schema(path))
    except (OSError, pl.exceptions.PolarsError):
        return False  # read_any names the problem


def _bands_of(table: pl.DataFrame) -> list[BandSeen]:
    """List the bands of a canonical table with their wavelengths and point counts."""
    points = table.select("band", "wavelength").explode("band", "wavelength")
    counts = points.group_by("band", "wavelength", maintain_order=True).len()
    return [BandSeen(b, b, float(w), n) for b, w, n in counts.iter_rows()]


def _read_canonical(path: Path) -> tuple[pl.DataFrame, IngestReport]:
    """Read a catscope table as it is (it was cleaned when it was written)."""
    table = read_table(path)
    report = IngestReport(source=str(path), format="catscope", n_objects=table.height)
    report.n_points = int(table["time"].list.len().sum())
    report.bands = _bands_of(table)
    report.note("a catscope table: read as it is, cleaned when it was written")
    return table, report


def _with_flux_kind(
    table: pl.DataFrame, report: IngestReport, options: ReadOptions
) -> pl.DataFrame:
    """Decide each object's photometry kind (see ``ReadOptions.flux_kind``) and report it.

    A canonical table keeps the kinds it was written with unless the user gives one.
    """
    if report.format == "catscope" and options.flux_kind == "auto":
        if FLUX_KIND_COLUMN not in table.columns:
            return table
        how = "as written"
    else:
        table, how = with_flux_kind(table, options.flux_kind, format=report.format)
    report.flux_kinds = dict(table[FLUX_KIND_COLUMN].value_counts().iter_rows())
    report.flux_kind_rule = how
    return table


def _read_file(path: Path, options: ReadOptions) -> tuple[pl.DataFrame, IngestReport]:
    """Read and clean one file, then tell its difference from its total photometry."""
    if _is_canonical(path) and not options.rereads_tables:
        table, report = _read_canonical(path)
    else:
        table, report = read_any(
            path,
            columns=options.columns,
            registry=options.registry,
            metadata_path=options.metadata,
            max_file_bytes=options.max_file_bytes,
            policy=options.cleaning,
        )
    return _with_flux_kind(table, report, options), report


def _carried_registry(options: ReadOptions, reports: Sequence[IngestReport]) -> BandRegistry:
    """``options.registry`` plus the bands of the reports that no built-in name covers."""
    carried = {b.canonical: b.wavelength for r in reports for b in r.bands}
    extra = {k: v for k, v in carried.items() if k not in WAVELENGTHS} | dict(options.band_map)
    return BandRegistry(extra=extra)


def load(
    paths: str | Path | Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    progress: bool = False,
) -> LoadedTable:
    """Read and clean light-curve files of any supported format into one canonical table.

    Parameters
    ----------
    paths
        One file or several; a SNANA HEAD/PHOT pair may be given as both files or either one.
        A canonical catscope Parquet table is read as it is unless ``options`` give columns,
        bands or metadata.
    options
        The shared input options (default: detection, built-in bands, lenient cleaning).
    progress
        Show a progress bar over the files.

    Returns
    -------
    The table (objects in file order), one report per file and the carried band registry.
    Raises :class:`~engine.errors.InputError` naming the file at fault, or if an object id
    appears in two files.
    """
    options = options or ReadOptions()
    listed = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not listed:
        msg = "no input files given"
        raise InputError(msg)
    files = _without_paired_phot(listed)
    tables, reports = [], []
    for path in tqdm(files, desc="read", unit="file", disable=not progress):
        table, report = _read_file(path, options)
        tables.append(table)
        reports.append(report)
    _check_unique_ids(tables, reports)
    table = pl.concat(tables, how="diagonal_relaxed")
    return LoadedTable(table, tuple(reports), _carried_registry(options, reports))


def load_frame(frame: pl.DataFrame, options: ReadOptions, *, source: str) -> LoadedTable:
    """Read and clean an in-memory long frame (e.g. a flattened HATS partition) like a file.

    ``frame`` has one row per observation with any column names that detection or
    ``options.columns`` can place; ``_row`` is added when absent.
    """
    if ROW not in frame.columns:
        frame = frame.with_row_index(ROW, offset=1)
    metadata = (
        read_metadata(options.metadata, max_file_bytes=options.max_file_bytes)
        if options.metadata
        else None
    )
    table, report = long_from_frame(
        frame,
        source=source,
        columns=options.columns,
        registry=options.registry,
        metadata=metadata,
        policy=options.cleaning,
    )
    table = _with_flux_kind(table, report, options)
    return LoadedTable(table, (report,), _carried_registry(options, [report]))
