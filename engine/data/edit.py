"""What-if edits of one light curve: hide points, cut at a time, add hypothetical observations.

An edit never changes stored data: :meth:`CurveEdit.apply` returns a new one-row canonical
table, so the same models, checks and exports work on the edited curve as on any other. Point
indices refer to the object's observations in time order, as :meth:`engine.catalog.Catalog.points`
lists them. The cut leaves out *observed* points after its time ("what did the model think on
day N"); hypothetical points are always kept, so one can ask what a point after the cut would
have told.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from engine.data.bands import BandRegistry
from engine.data.clean import MAG_RANGE
from engine.data.schema import LIGHT_CURVE_SCHEMA, POINT_COLUMNS, mag_to_flux
from engine.errors import EmptyLightCurveError, InputError, InvalidValueError


@dataclass(frozen=True)
class HypotheticalPoint:
    """One observation the user imagines: MJD, canonical band, wavelength (Å), FLUXCAL ± error."""

    time: float
    band: str
    wavelength: float
    flux: float
    flux_err: float


def _finite(name: str, value: object) -> float:
    """``value`` as a finite float, or :class:`InvalidValueError` naming ``name``."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        msg = f"hypothetical point: {name} must be a finite number, got {value!r}"
        raise InvalidValueError(msg)
    return number


def _positive(name: str, value: object) -> float:
    number = _finite(name, value)
    if number <= 0:
        msg = f"hypothetical point: {name} must be positive, got {number:g}"
        raise InvalidValueError(msg)
    return number


def hypothetical_point(
    time: object,
    band: str,
    *,
    flux: object = None,
    flux_err: object = None,
    mag: object = None,
    mag_err: object = None,
    bands: Mapping[str, float] | None = None,
    registry: BandRegistry | None = None,
) -> HypotheticalPoint:
    """Validate a hypothetical observation given as flux ± error *or* AB magnitude ± error.

    ``band`` is one of the object's own ``bands`` (name -> wavelength; user-mapped bands are
    only known there) or any band the ``registry`` resolves. Magnitudes must lie in
    :data:`engine.data.clean.MAG_RANGE` and are converted with
    :func:`engine.data.schema.mag_to_flux`. Raises :class:`InvalidValueError` for NaN,
    infinite or non-positive errors, :class:`UnknownBandError` for an unknown band and
    :class:`InputError` unless exactly one of the two brightness pairs is given.
    """
    time = _finite("time (MJD)", time)
    has_flux, has_mag = flux is not None, mag is not None
    if has_flux == has_mag:
        msg = "hypothetical point: give either a flux with its error or a magnitude with its error"
        raise InputError(msg)
    if has_mag:
        mag, mag_err = _finite("magnitude", mag), _positive("magnitude error", mag_err)
        low, high = MAG_RANGE
        if not low <= mag <= high:
            msg = f"hypothetical point: magnitude must lie in [{low:g}, {high:g}], got {mag:g}"
            raise InvalidValueError(msg)
        flux, flux_err = mag_to_flux(mag, mag_err)
    else:
        flux, flux_err = _finite("flux", flux), _positive("flux error", flux_err)
    known = dict(bands or {})
    band = str(band).strip()
    if band in known:
        wavelength = float(known[band])
    else:
        registry = registry or BandRegistry()
        band, wavelength = registry.canonical(band), registry.wavelength(band)
    return HypotheticalPoint(time, band, wavelength, float(flux), float(flux_err))


@dataclass(frozen=True)
class CurveEdit:
    """Hidden point indices, an optional cut time (MJD) and hypothetical points of one object.

    Immutable: every change returns a new edit, so an edit can be kept as session state and
    compared with the previous one.
    """

    hidden: frozenset[int] = frozenset()
    cut: float | None = None
    added: tuple[HypotheticalPoint, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        """Whether the edit changes nothing."""
        return not self.hidden and self.cut is None and not self.added

    def hide(self, indices: Iterable[int]) -> CurveEdit:
        """Return this edit with the observations at ``indices`` hidden too."""
        return replace(self, hidden=self.hidden | {int(i) for i in indices})

    def cut_at(self, time: float | None) -> CurveEdit:
        """Return this edit with observed points after ``time`` left out (``None``: no cut)."""
        return replace(self, cut=None if time is None else _finite("cut time (MJD)", time))

    def add(self, point: HypotheticalPoint) -> CurveEdit:
        """Return this edit with ``point`` added."""
        return replace(self, added=(*self.added, point))

    def left_out(self, times: np.ndarray) -> np.ndarray:
        """(N,) bool: which of an object's N observations (times in order) the edit leaves out."""
        out = np.zeros(len(times), dtype=bool)
        outside = [i for i in self.hidden if not 0 <= i < len(times)]
        if outside:
            msg = (
                f"cannot hide point(s) {sorted(outside)[:5]}: the light curve has "
                f"{len(times)} points (indices 0 to {len(times) - 1})"
            )
            raise InvalidValueError(msg)
        out[list(self.hidden)] = True
        if self.cut is not None:
            out |= np.asarray(times) > self.cut
        return out

    def added_points(self) -> pl.DataFrame:
        """Return the hypothetical points, one per row, in canonical point columns (detected)."""
        schema = {name: LIGHT_CURVE_SCHEMA[name].inner for name in POINT_COLUMNS}
        return pl.DataFrame(
            {
                "time": [p.time for p in self.added],
                "band": [p.band for p in self.added],
                "wavelength": [p.wavelength for p in self.added],
                "flux": [p.flux for p in self.added],
                "flux_err": [p.flux_err for p in self.added],
                "detected": [True] * len(self.added),
            },
            schema=schema,
        )

    def describe(self) -> str:
        """Say what the edit does, in words (empty for no edit)."""
        parts = []
        if self.hidden:
            parts.append(f"{len(self.hidden)} point(s) hidden")
        if self.cut is not None:
            parts.append(f"observed points after MJD {self.cut:.2f} left out")
        if self.added:
            parts.append(f"{len(self.added)} hypothetical point(s) added")
        return "; ".join(parts)

    def apply(self, row: pl.DataFrame) -> pl.DataFrame:
        """Return the one-row canonical table ``row`` as edited; ``row`` itself is unchanged.

        Raises :class:`EmptyLightCurveError` when no point would be left, and
        :class:`InvalidValueError` for a hidden index the curve does not have.
        """
        if row.height != 1:
            msg = f"an edit applies to one object, got a table of {row.height} rows"
            raise InputError(msg)
        if self.is_empty:
            return row
        columns = list(POINT_COLUMNS)
        points = row.select(columns).explode(columns)
        kept = points.filter(~pl.Series(self.left_out(points["time"].to_numpy())))
        edited = pl.concat([kept, self.added_points().cast(points.schema)]).sort(
            "time", maintain_order=True
        )
        if edited.height == 0:
            msg = (
                f"the edit of object {row['object_id'][0]!r} leaves no points ({self.describe()}):"
                " move the cut later, show some points again or add one"
            )
            raise EmptyLightCurveError(msg)
        lists = edited.select(pl.all().implode())
        return row.with_columns(lists.get_columns()).select(row.columns)
