"""Reader for the PLAsTiCC challenge format: a light-curve CSV plus its metadata CSV.

Light curves: ``object_id, mjd, passband (0-5 = LSST ugrizy), flux, flux_err, detected_bool``,
read like any long table (:mod:`engine.data.readers.long`), which knows PLAsTiCC's passband codes.
Metadata: one row per object; ``target`` becomes the class name, simulation-truth columns
(``true_*``, ``tflux_*``, ``libid_cadence``) are never read.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data.bands import BandRegistry
from engine.data.readers.columns import PLASTICC_PASSBANDS as PASSBANDS
from engine.data.readers.files import read_csv
from engine.data.readers.long import long_from_frame
from engine.data.report import IngestReport

__all__ = [
    "CLASS_NAMES",
    "PASSBANDS",
    "is_plasticc",
    "is_plasticc_metadata",
    "read_plasticc",
    "read_plasticc_metadata",
]

#: PLAsTiCC ``target`` -> class name (Kessler et al. 2019; names as catscope reports them)
CLASS_NAMES = {
    6: "μLens-Single", 15: "TDE", 16: "EB", 42: "SNII", 52: "SNIax", 53: "Mira", 62: "SNIbc",
    64: "KN", 65: "M-dwarf", 67: "SNIa-91bg", 88: "AGN", 90: "SNIa", 92: "RRL", 95: "SLSN-I",
}  # fmt: skip

#: non-truth metadata columns kept, renamed to catscope names
METADATA_COLUMNS = {
    "ra": "ra",
    "decl": "dec",
    "ddf_bool": "ddf",
    "hostgal_specz": "hostgal_specz",
    "hostgal_photoz": "hostgal_photoz",
    "hostgal_photoz_err": "hostgal_photoz_err",
    "distmod": "distmod",
    "mwebv": "mwebv",
}
LIGHT_CURVE_COLUMNS = ("object_id", "mjd", "passband", "flux", "flux_err", "detected_bool")


def is_plasticc(columns: list[str]) -> bool:
    """Tell whether ``columns`` are those of a PLAsTiCC light-curve file."""
    return set(LIGHT_CURVE_COLUMNS) <= {c.lower() for c in columns}


def read_plasticc_metadata(path: str | Path) -> pl.DataFrame:
    """Per-object metadata (non-truth columns) and ``label`` from a PLAsTiCC metadata CSV."""
    # the file pads its fields with spaces: read as text, strip, then cast
    raw = pl.read_csv(path, infer_schema=False)
    raw = raw.rename({c: c.strip() for c in raw.columns})
    keep = {k: v for k, v in METADATA_COLUMNS.items() if k in raw.columns}
    frame = raw.select(
        pl.col("object_id").str.strip_chars(),
        *(pl.col(k).str.strip_chars().cast(pl.Float64).alias(v) for k, v in keep.items()),
        *([pl.col("target").str.strip_chars().cast(pl.Int64)] if "target" in raw.columns else []),
    )
    if "ddf" in frame.columns:
        frame = frame.with_columns(pl.col("ddf").cast(pl.Int8))
    if "distmod" in frame.columns:  # -9 marks "no distance" (galactic objects)
        frame = frame.with_columns(
            pl.when(pl.col("distmod") == -9)
            .then(None)
            .otherwise(pl.col("distmod"))
            .alias("distmod")
        )
    if "target" in frame.columns:
        frame = frame.with_columns(
            pl.col("target").replace_strict(CLASS_NAMES, return_dtype=pl.String).alias("label")
        ).drop("target")
    return frame


def read_plasticc(
    path: str | Path,
    metadata_path: str | Path | None = None,
    *,
    registry: BandRegistry | None = None,
) -> tuple[pl.DataFrame, IngestReport]:
    """Read a PLAsTiCC light-curve CSV (and optionally its metadata) as a canonical table."""
    path = Path(path)
    metadata = read_plasticc_metadata(metadata_path) if metadata_path else None
    return long_from_frame(
        read_csv(path), source=str(path), registry=registry, metadata=metadata, format="plasticc"
    )


def is_plasticc_metadata(columns: list[str]) -> bool:
    """Tell whether ``columns`` are those of a PLAsTiCC metadata file (training or test set)."""
    return {"object_id", "ddf_bool", "hostgal_photoz"} <= {c.strip().lower() for c in columns}
