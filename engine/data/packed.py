"""Flat NumPy view of a canonical table: every point of every object in one array per field.

Models and samplers work on :class:`PackedLightCurves` rather than on Polars list columns:
object ``k`` owns the points ``offsets[k]:offsets[k + 1]`` of each array, so a batch is a set
of slices with no Python loop over points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.data.photometry import FLUX_KIND_COLUMN, subtract_band_reference
from engine.data.schema import LABEL_COLUMN, check_table


@dataclass(frozen=True)
class PackedLightCurves:
    """Light curves as concatenated point arrays plus per-object offsets.

    Attributes
    ----------
    object_id : (N,) object identifiers
    offsets : (N + 1,) int64, start of each object's points; ``offsets[-1]`` = number of points
    time : (P,) float64 MJD
    flux, flux_err, wavelength : (P,) float32
    detected : (P,) bool
    label : (N,) class names or ``None`` when unlabelled
    metadata : per-object columns, name -> (N,) float64 (NaN where missing)
    """

    object_id: np.ndarray
    offsets: np.ndarray
    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    wavelength: np.ndarray
    detected: np.ndarray
    label: np.ndarray | None = None
    metadata: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> PackedLightCurves:
        """Pack a canonical table (see :mod:`engine.data.schema`) as every model reads it.

        Objects whose :data:`~engine.data.photometry.FLUX_KIND_COLUMN` is ``"total"`` get their
        per-band reference level subtracted here, the one door to every model
        (:func:`~engine.data.photometry.subtract_band_reference`).
        """
        frame = check_table(frame)
        lengths = frame["time"].list.len().to_numpy().astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])

        def flat(name: str, dtype) -> np.ndarray:
            return frame[name].explode().to_numpy().astype(dtype, copy=False)

        n_points = int(offsets[-1])
        meta = {}
        for name, dtype in frame.schema.items():
            if name in {"object_id", LABEL_COLUMN, *cls.__dataclass_fields__} or dtype.is_nested():
                continue
            if dtype.is_numeric() or dtype == pl.Boolean:
                meta[name] = frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        packed = cls(
            object_id=frame["object_id"].to_numpy().astype(str),
            offsets=offsets,
            time=flat("time", np.float64) if n_points else np.zeros(0),
            flux=flat("flux", np.float32) if n_points else np.zeros(0, np.float32),
            flux_err=flat("flux_err", np.float32) if n_points else np.zeros(0, np.float32),
            wavelength=flat("wavelength", np.float32) if n_points else np.zeros(0, np.float32),
            detected=flat("detected", bool) if n_points else np.zeros(0, bool),
            label=frame[LABEL_COLUMN].to_numpy().astype(object)
            if LABEL_COLUMN in frame.columns
            else None,
            metadata=meta,
        )
        if FLUX_KIND_COLUMN not in frame.columns:
            return packed
        total = (frame[FLUX_KIND_COLUMN] == "total").fill_null(False).to_numpy()
        return subtract_band_reference(packed, total)

    def __len__(self) -> int:
        return len(self.object_id)

    @property
    def lengths(self) -> np.ndarray:
        """Number of points of each object, (N,) int64."""
        return np.diff(self.offsets)

    def slice_points(self, k: int) -> slice:
        """Slice of the point arrays that belongs to object ``k``."""
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))

    def subset(self, index: np.ndarray) -> PackedLightCurves:
        """Objects ``index`` (in that order) as a new packed set."""
        index = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[index]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        # point indices of the chosen objects, built without a Python loop
        starts = np.repeat(self.offsets[index] - offsets[:-1], lengths)
        points = starts + np.arange(offsets[-1])
        return PackedLightCurves(
            object_id=self.object_id[index],
            offsets=offsets,
            time=self.time[points],
            flux=self.flux[points],
            flux_err=self.flux_err[points],
            wavelength=self.wavelength[points],
            detected=self.detected[points],
            label=None if self.label is None else self.label[index],
            metadata={k: v[index] for k, v in self.metadata.items()},
        )
