"""Find the columns of a light-curve file by their usual names and turn them into long points.

Names match case-insensitively with ``_``, ``-``, ``.`` and spaces ignored (``Flux_Err``,
``fluxerr`` and ``FLUX-ERR`` are one name). For each role the first name of :data:`ROLES` found
in the file wins, so a file with both ``object_id`` and ``id`` uses ``object_id``.

Roles and what is accepted:

* ``object_id``: object identifier, read as text.
* ``time``: MJD, or Julian Dates in a column named ``jd``/``hjd``/``bjd`` (converted to MJD
  with astropy). Heliocentric and barycentric dates keep their correction (an HJD becomes a
  heliocentric MJD): the minutes involved do not matter to the models, which only see times
  relative to an object's first point.
* ``band``: band names resolved by :mod:`engine.data.bands`; integer codes in a column named
  ``passband`` are PLAsTiCC's (0-5 = LSST ugrizy) and in a column named ``fid`` ZTF's
  (1, 2, 3 = ZTF g, r, i).
* ``flux`` + ``flux_err``: FLUXCAL (AB zero point 27.5); or ``mag`` + ``mag_err``: AB
  magnitudes, converted with :func:`~engine.data.schema.mag_to_flux`. Flux wins when a file has
  both.
* ``detected`` (optional): a boolean (``1/0``, ``true/false``, ``t/f``, ``yes/no``), or SNANA's
  ``PHOTFLAG`` bit mask (detected when bit 4096 is set). All points count as detected without it.
* ``label`` (optional): the object's class, read as text.

An explicit mapping (``--columns object_id=ID,time=MJD,mag=M,mag_err=E``) overrides detection
role by role; an explicitly mapped time column is read as MJD, or as JD when its values are
above 2,400,000.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from engine.data.assemble import TimeFormat, cast_numeric
from engine.data.clean import SOURCE_MAG, SOURCE_MAG_ERR
from engine.data.report import ROW, IngestReport, describe_rows
from engine.data.schema import LABEL_COLUMN, LIGHT_CURVE_SCHEMA, ZERO_POINT, mag_to_flux
from engine.errors import InputError, InvalidValueError, MissingColumnError

#: role -> accepted column names, most preferred first
ROLES: dict[str, tuple[str, ...]] = {
    "object_id": ("object_id", "objectid", "obj_id", "objid", "oid", "snid", "source_id", "id",
                  "name"),
    "time": ("time", "mjd", "mjd_obs", "obs_mjd", "hmjd", "bmjd", "jd", "hjd", "bjd"),
    "band": ("band", "filter", "passband", "flt", "fid", "filter_name", "bandpass"),
    "flux": ("flux", "fluxcal"),
    "flux_err": ("flux_err", "fluxcal_err", "flux_error", "e_flux", "sigma_flux", "flux_unc"),
    "mag": ("mag", "magpsf", "magnitude", "psf_mag"),
    "mag_err": ("mag_err", "e_mag", "sigmapsf", "magerr_psf", "mag_error", "sigma_mag",
                "mag_unc", "psf_mag_err"),
    "detected": ("detected", "detected_bool", "detection", "is_detected", "photflag"),
    "label": ("label", "class", "type", "target", "class_name"),
}  # fmt: skip
REQUIRED = ("object_id", "time", "band")
OPTIONAL = ("detected", "label")
PHOTOMETRY = {"flux": ("flux", "flux_err"), "mag": ("mag", "mag_err")}
#: time columns holding Julian Dates (squashed names)
JULIAN_DATE_NAMES = frozenset({"jd", "hjd", "bjd"})
#: PLAsTiCC ``passband`` code -> band
PLASTICC_PASSBANDS = {0: "lsst_u", 1: "lsst_g", 2: "lsst_r", 3: "lsst_i", 4: "lsst_z", 5: "lsst_y"}
#: ZTF ``fid`` code -> band
ZTF_FILTER_IDS = {1: "ztf_g", 2: "ztf_r", 3: "ztf_i"}
#: band columns whose values are integer codes (squashed name -> code -> band)
BAND_CODES = {"passband": PLASTICC_PASSBANDS, "fid": ZTF_FILTER_IDS}
#: detection columns that are bit masks (squashed name -> bit meaning "detected")
DETECTION_BITS = {"photflag": 4096}
#: source columns never read: simulation truth
TRUTH_PREFIXES = ("true_", "sim_")

_TRUE = ("1", "true", "t", "yes", "y")
_FALSE = ("0", "false", "f", "no", "n")
_SEPARATORS = re.compile(r"[\s_\-.]+")
_MAX_SHOWN = 30


def squash(name: str) -> str:
    """Column name in matching form: lower case, no ``_ - .`` or spaces."""
    return _SEPARATORS.sub("", name).lower()


def is_truth(name: str) -> bool:
    """Tell whether ``name`` is simulation truth (``true_*``, ``sim_*``), which is never read."""
    return name.lower().startswith(TRUTH_PREFIXES)


def _shown(names: Iterable[str]) -> str:
    names = list(names)
    more = f", ... ({len(names) - _MAX_SHOWN} more)" if len(names) > _MAX_SHOWN else ""
    return ", ".join(repr(n) for n in names[:_MAX_SHOWN]) + more


@dataclass(frozen=True)
class ColumnMap:
    """Which source column fills each role, and which roles the user named explicitly."""

    columns: dict[str, str]
    explicit: frozenset[str] = frozenset()

    @property
    def photometry(self) -> str:
        """``"flux"`` or ``"mag"``: the kind of brightness column the file has."""
        return "mag" if "mag" in self.columns else "flux"

    @property
    def time_format(self) -> TimeFormat:
        """``"jd"`` for a detected JD column; ``"auto"`` otherwise (JD told apart by value)."""
        named_jd = squash(self.columns["time"]) in JULIAN_DATE_NAMES
        return "jd" if named_jd and "time" not in self.explicit else "auto"


def check_roles(mapping: Mapping[str, str]) -> None:
    """Raise :class:`InputError` if ``mapping`` names a role that does not exist."""
    unknown = [role for role in mapping if role not in ROLES]
    if unknown:
        msg = (
            f"--columns: unknown role(s) {_shown(unknown)}; the roles are {_shown(ROLES)} "
            "(e.g. --columns object_id=ID,time=MJD,band=FLT,mag=M,mag_err=E)"
        )
        raise InputError(msg)
    if {"flux", "flux_err"} & mapping.keys() and {"mag", "mag_err"} & mapping.keys():
        msg = "--columns: give either flux and flux_err or mag and mag_err, not both"
        raise InputError(msg)


def _missing(
    what: str, tried: Iterable[str], names: list[str], source: str, hint: str
) -> MissingColumnError:
    """Build a :class:`MissingColumnError` for ``what`` listing the names tried and the file's."""
    msg = (
        f"{source}: no {what}: tried {_shown(tried)} (any case, ignoring _ - . and spaces); "
        f"the file has columns {_shown(names)}. Name it with --columns {hint}"
    )
    return MissingColumnError(msg)


def _missing_role(role: str, names: list[str], source: str) -> MissingColumnError:
    return _missing(f"{role} column", ROLES[role], names, source, f"{role}=COLUMN")


class _Finder:
    """Look columns up by squashed name, refusing names that match two columns."""

    def __init__(self, names: list[str], source: str) -> None:
        self.names = names
        self.source = source
        self.by_squashed: dict[str, list[str]] = {}
        for name in names:
            self.by_squashed.setdefault(squash(name), []).append(name)

    def explicit(self, role: str, column: str) -> str:
        if column in self.names:
            return column
        folded = [n for n in self.names if n.lower() == column.lower()]
        if len(folded) == 1:
            return folded[0]
        msg = (
            f"{self.source}: --columns {role}={column}: no column {column!r}; the file has "
            f"columns {_shown(self.names)}"
        )
        raise MissingColumnError(msg)

    def find(self, role: str, used: set[str]) -> str | None:
        for candidate in ROLES[role]:
            hits = [n for n in self.by_squashed.get(squash(candidate), []) if n not in used]
            if len(hits) > 1:
                msg = (
                    f"{self.source}: columns {_shown(hits)} could all be the {role}; choose one "
                    f"with --columns {role}=COLUMN"
                )
                raise InputError(msg)
            if hits:
                return hits[0]
        return None


def detect_columns(
    names: list[str], explicit: Mapping[str, str] | None = None, *, source: str
) -> ColumnMap:
    """Assign source columns ``names`` to roles; ``explicit`` (role -> column) wins.

    Raises :class:`MissingColumnError` naming the role, the names tried and the file's columns.
    """
    explicit = dict(explicit or {})
    check_roles(explicit)
    finder = _Finder([n for n in names if n != ROW], source)
    columns = {role: finder.explicit(role, col) for role, col in explicit.items()}
    used = set(columns.values())

    def fill(role: str) -> None:
        if role not in columns and (found := finder.find(role, used)) is not None:
            columns[role] = found
            used.add(found)

    for role in REQUIRED:
        fill(role)
        if role not in columns:
            raise _missing_role(role, finder.names, source)
    kind = next((k for k, pair in PHOTOMETRY.items() if set(pair) & set(columns)), None)
    if kind is None:  # nothing explicit: take the first complete pair
        found = {role: finder.find(role, used) for pair in PHOTOMETRY.values() for role in pair}
        kind = next((k for k, pair in PHOTOMETRY.items() if all(found[r] for r in pair)), None)
        if kind is None:
            tried = [n for pair in PHOTOMETRY.values() for r in pair for n in ROLES[r]]
            what = "flux and flux_err (or mag and mag_err) columns"
            hint = "flux=F,flux_err=E (or mag=M,mag_err=E)"
            raise _missing(what, tried, finder.names, source, hint)
    for role in PHOTOMETRY[kind]:
        fill(role)
        if role not in columns:
            raise _missing_role(role, finder.names, source)
    for role in OPTIONAL:
        fill(role)
    return ColumnMap(columns=columns, explicit=frozenset(explicit))


def detect_id_and_label(names: list[str], *, source: str) -> dict[str, str]:
    """Source columns of a per-object table's ``object_id`` and (if it has one) ``label``."""
    finder = _Finder([n for n in names if n != ROW], source)
    object_id = finder.find("object_id", set())
    if object_id is None:
        error = _missing_role("object_id", finder.names, source)
        raise error
    label = finder.find("label", {object_id})
    return {"object_id": object_id} | ({"label": label} if label else {})


def _bands(frame: pl.DataFrame, column: str) -> pl.Expr:
    """Band names, with integer codes translated for code columns (``passband``, ``fid``)."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    codes = BAND_CODES.get(squash(column))
    if codes is None:
        return text
    integer = text.str.replace(r"\.0*$", "")  # 2.0 from a float column is code 2
    return integer.replace({str(k): v for k, v in codes.items()})


def _detected(frame: pl.DataFrame, column: str, source: str) -> pl.Series:
    """Boolean detection flags from a boolean, 0/1, yes/no or bit-mask column."""
    series = frame[column]
    bit = DETECTION_BITS.get(squash(column))
    if bit is not None:
        values = cast_numeric(frame.select(column, ROW), column, source=source)[column]
        return (values.fill_nan(None).cast(pl.Int64, strict=False) & bit) != 0
    if series.dtype == pl.Boolean:
        return series
    if series.dtype.is_numeric():
        return series != 0
    text = series.cast(pl.String).str.strip_chars().str.to_lowercase()
    words = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
    flags = text.replace_strict(words, default=None, return_dtype=pl.Boolean)
    bad = frame.filter(flags.is_null() & text.is_not_null() & (text != ""))
    if bad.height:
        msg = (
            f"{source}: column {column!r} has values that are not true/false at "
            f"{describe_rows(bad)} (e.g. {bad[column][0]!r}); expected one of {', '.join(words)}"
        )
        raise InvalidValueError(msg)
    return flags


def _warn_if_magnitudes(
    frame: pl.DataFrame, flux: str, flux_err: str, report: IngestReport
) -> None:
    """Warn when a flux column looks like magnitudes: all in 5-35 with errors below 0.5.

    FLUXCAL of 5-35 is mag 23.6-25.7, near the detection limit of any survey, where real
    errors are several flux units; genuine fluxes do not all sit there with such small errors.
    """
    finite = frame.select(pl.col(flux), pl.col(flux_err)).filter(
        pl.col(flux).is_finite() & pl.col(flux_err).is_finite()
    )
    if finite.height < 3:
        return
    low, high = finite[flux].min(), finite[flux].max()
    median_err = finite[flux_err].median()
    if low >= 5 and high <= 35 and median_err < 0.5:
        report.warn(
            f"column {flux!r} looks like magnitudes, not FLUXCAL fluxes (all values between "
            f"{low:g} and {high:g}, median error {median_err:g}); if it is, pass "
            f"--columns mag={flux},mag_err={flux_err}"
        )


def points_from_frame(
    frame: pl.DataFrame, columns: ColumnMap, *, report: IngestReport
) -> pl.DataFrame:
    """Build the long frame :func:`~engine.data.assemble.assemble` takes, row for row.

    Casts numeric columns (naming the source column and rows of bad values), converts
    magnitudes to FLUXCAL flux (keeping the source magnitudes as ``_mag`` and ``_mag_err`` for
    :mod:`engine.data.clean`, whose rules are in magnitude space), and parses detection flags.
    ``frame`` must have the ``_row`` column.
    """
    source = report.source
    c = columns.columns
    numeric = [c["time"], *(c[r] for r in PHOTOMETRY[columns.photometry])]
    for name in numeric:
        frame = cast_numeric(frame, name, source=source)
    source_mags = []
    if columns.photometry == "mag":
        source_mags = [
            pl.col(c["mag"]).alias(SOURCE_MAG),
            pl.col(c["mag_err"]).alias(SOURCE_MAG_ERR),
        ]
        flux, flux_err = mag_to_flux(pl.col(c["mag"]), pl.col(c["mag_err"]))
        report.note(
            f"converted AB magnitudes {c['mag']!r} ± {c['mag_err']!r} to flux "
            f"(zero point {ZERO_POINT})"
        )
    else:
        _warn_if_magnitudes(frame, c["flux"], c["flux_err"], report)
        flux, flux_err = pl.col(c["flux"]), pl.col(c["flux_err"])
    report.columns.update(c)
    label = pl.col(c["label"]).cast(pl.String).str.strip_chars() if "label" in c else None
    points = frame.select(
        pl.col(c["object_id"]).cast(pl.String).alias("object_id"),
        pl.col(c["time"]).alias("time"),
        _bands(frame, c["band"]).alias("band"),
        flux.alias("flux"),
        flux_err.alias("flux_err"),
        *([] if label is None else [label.alias(LABEL_COLUMN)]),
        *source_mags,
        pl.col(ROW),
    )
    if "detected" in c:
        points = points.with_columns(_detected(frame, c["detected"], source).alias("detected"))
    return points


def as_float_where_possible(frame: pl.DataFrame, *, keep: Iterable[str] = ()) -> pl.DataFrame:
    """Cast text columns to Float64 when every non-empty value is a number (``keep`` excepted)."""
    casts = []
    for name, dtype in frame.schema.items():
        if name in keep or dtype != pl.String:
            continue
        text = frame[name].str.strip_chars().replace("", None)
        cast = text.cast(pl.Float64, strict=False)
        if cast.null_count() == text.null_count():
            casts.append(cast.alias(name))
    return frame.with_columns(casts)


def constant_columns(
    frame: pl.DataFrame, columns: ColumnMap, report: IngestReport
) -> pl.DataFrame | None:
    """Per-object metadata: the non-role columns whose value is constant within every object.

    Columns that vary within an object, simulation truth (``true_*``, ``sim_*``) and names of
    canonical columns are left out, with a note.
    """
    object_id = columns.columns["object_id"]
    used = {*columns.columns.values(), ROW}
    reserved = {*LIGHT_CURVE_SCHEMA.names(), LABEL_COLUMN}
    rest = [n for n in frame.columns if n not in used]
    candidates = [n for n in rest if not is_truth(n) and n not in reserved]
    if len(candidates) < len(rest):
        skipped = [n for n in rest if n not in candidates]
        report.note(f"columns {_shown(skipped)} are reserved or simulation truth; not read")
    if not candidates:
        return None
    counts = frame.group_by(object_id).agg(pl.col(candidates).n_unique()).max()
    constant = [n for n in candidates if counts[n][0] == 1]
    varying = [n for n in candidates if n not in constant]
    if varying:
        report.note(f"columns {_shown(varying)} vary within objects; not kept")
    if not constant:
        return None
    report.note(f"per-object columns {_shown(constant)} kept as metadata")
    metadata = (
        frame.group_by(object_id, maintain_order=True)
        .agg(pl.col(constant).first())
        .rename({object_id: "object_id"})
        .with_columns(pl.col("object_id").cast(pl.String).str.strip_chars())
    )
    return as_float_where_possible(metadata, keep=("object_id",))
