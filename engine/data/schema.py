"""The canonical light-curve table: one row per object, one list element per observation.

=============  ==================  ===========================================================
column         type                meaning
=============  ==================  ===========================================================
object_id      String              unique object identifier
time           List(Float64)       MJD (TDB/UTC as delivered by the survey), sorted ascending
band           List(String)        canonical band name (see :mod:`engine.data.bands`)
wavelength     List(Float32)       central wavelength of ``band`` in Ångström
flux           List(Float32)       FLUXCAL: flux with AB zero point 27.5, i.e.
                                   ``mag = 27.5 - 2.5 log10(flux)``; may be negative
flux_err       List(Float32)       1-sigma error of ``flux``, strictly positive
detected       List(Boolean)       survey detection flag (true when unknown)
label          String, optional    class name when known (PLAsTiCC: ``SNIa``, ``RRL``, ...)
=============  ==================  ===========================================================

Any other top-level column is per-object metadata (e.g. ``hostgal_photoz``, ``mwebv``, ``ddf``).
"""

from __future__ import annotations

import math

import polars as pl

from engine.errors import InputError, InvalidValueError

#: FLUXCAL zero point (AB magnitude of a flux of 1), the PLAsTiCC/ELAsTiCC/SNANA convention.
ZERO_POINT = 27.5

LIGHT_CURVE_SCHEMA = pl.Schema(
    {
        "object_id": pl.String,
        "time": pl.List(pl.Float64),
        "band": pl.List(pl.String),
        "wavelength": pl.List(pl.Float32),
        "flux": pl.List(pl.Float32),
        "flux_err": pl.List(pl.Float32),
        "detected": pl.List(pl.Boolean),
    }
)
POINT_COLUMNS = ("time", "band", "wavelength", "flux", "flux_err", "detected")
LABEL_COLUMN = "label"
#: longest object id, in characters, accepted from ingest to the label store (its column width):
#: an id the store would refuse could be scored but never vetted
MAX_OBJECT_ID_LENGTH = 256
#: characters of an over-long id quoted in its error message
_QUOTED_ID = 40

#: metadata the models may use, with their meaning; readers fill what their format has
MODEL_METADATA = {
    "hostgal_photoz": "host-galaxy photometric redshift",
    "hostgal_photoz_err": "its 1-sigma error",
    "mwebv": "Milky Way E(B-V) along the line of sight (mag)",
    "ddf": "1 if the object lies in a deep-drilling field, else 0",
}


def mag_to_flux(mag, mag_err, zero_point: float = ZERO_POINT):
    """Convert AB magnitudes and their errors to FLUXCAL flux and flux error.

    ``flux = 10**(-0.4 (mag - zp))``; the error is propagated to first order,
    ``flux_err = flux * 0.4 ln(10) * mag_err``. Works on scalars, NumPy arrays and Polars
    expressions alike.
    """
    flux = 10.0 ** (-0.4 * (mag - zero_point))
    return flux, flux * (0.4 * math.log(10.0)) * mag_err


def metadata_columns(frame: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """Names of the per-object metadata columns of a canonical table."""
    names = frame.collect_schema().names()
    return [c for c in names if c not in LIGHT_CURVE_SCHEMA and c != LABEL_COLUMN]


def too_long(ids: pl.Series) -> str:
    """End of the error message about over-long ``ids``: the first one clipped, and the fix."""
    first = ids[0]
    return (
        f"e.g. {first[:_QUOTED_ID] + '...'!r} ({len(first):,} characters); ids are limited to "
        f"{MAX_OBJECT_ID_LENGTH} characters so that every object can be vetted: shorten them"
    )


def check_table(frame: pl.DataFrame) -> pl.DataFrame:
    """Check that ``frame`` has the canonical columns and types; return it with them first.

    Raises :class:`~engine.errors.InputError` naming every column that is missing or of the
    wrong type, and :class:`~engine.errors.InvalidValueError` for object ids over
    :data:`MAX_OBJECT_ID_LENGTH` characters.
    """
    problems = []
    for name, dtype in LIGHT_CURVE_SCHEMA.items():
        if name not in frame.columns:
            problems.append(f"missing column {name!r} ({dtype})")
        elif frame.schema[name] != dtype:
            problems.append(f"column {name!r} is {frame.schema[name]}, expected {dtype}")
    if problems:
        msg = "not a catscope light-curve table: " + "; ".join(problems)
        raise InputError(msg)
    long_ids = frame.filter(pl.col("object_id").str.len_chars() > MAX_OBJECT_ID_LENGTH)
    if long_ids.height:
        msg = (
            f"{long_ids.height:,} object id(s) over {MAX_OBJECT_ID_LENGTH} characters, "
            f"{too_long(long_ids['object_id'])}"
        )
        raise InvalidValueError(msg)
    rest = [c for c in frame.columns if c not in LIGHT_CURVE_SCHEMA]
    return frame.select(*LIGHT_CURVE_SCHEMA.names(), *rest)


def read_table(path, *, columns: list[str] | None = None) -> pl.DataFrame:
    """Read a canonical light-curve Parquet file written by ``catscope ingest``."""
    try:
        frame = pl.read_parquet(path, columns=columns)
    except (OSError, pl.exceptions.PolarsError) as exc:
        msg = f"{path}: cannot read as a catscope Parquet table ({exc})"
        raise InputError(msg) from exc
    return frame if columns else check_table(frame)


def write_table(frame: pl.DataFrame, path) -> None:
    """Write a canonical table as zstd-compressed Parquet."""
    check_table(frame).write_parquet(path, compression="zstd", statistics=True)
