"""Per-point values of many objects as one flat array plus offsets.

Object ``k`` owns ``flat[offsets[k]:offsets[k + 1]]``, the layout of
:class:`engine.data.packed.PackedLightCurves`. Evaluation functions accept either a list of
per-object arrays or this flat form, and convert once with :func:`to_flat`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from engine.errors import InvalidValueError


def _check_offsets(offsets: ArrayLike, n_values: int, *, name: str) -> np.ndarray:
    offsets = np.asarray(offsets)
    valid = (
        offsets.ndim == 1
        and offsets.size >= 2
        and offsets.dtype.kind in "iu"
        and offsets[0] == 0
        and offsets[-1] == n_values
        and (np.diff(offsets) >= 0).all()
    )
    if not valid:
        msg = (
            f"offsets for {name} must be a 1-D integer array of at least 2 non-decreasing values "
            f"from 0 to len({name}) = {n_values}; got {offsets!r}"
        )
        raise InvalidValueError(msg)
    return offsets.astype(np.int64, copy=False)


def to_flat(
    values: Sequence[ArrayLike] | ArrayLike,
    offsets: ArrayLike | None = None,
    *,
    name: str = "values",
) -> tuple[np.ndarray, np.ndarray]:
    """Flat values (P,) and offsets (N + 1,) int64 from either ragged form.

    Parameters
    ----------
    values : a list of N 1-D arrays (one per object), or a flat (P,) array if ``offsets`` is given
    offsets : (N + 1,) start of each object's values in the flat array, ending at P
    name : argument name shown in error messages
    """
    if offsets is not None:
        flat = np.asarray(values)
        if flat.ndim != 1:
            msg = f"{name} must be a flat 1-D array when offsets are given; got {flat.shape}"
            raise InvalidValueError(msg)
        return flat, _check_offsets(offsets, len(flat), name=name)
    arrays = [np.asarray(array) for array in values]
    if not arrays or any(array.ndim != 1 for array in arrays):
        msg = f"{name} must be a non-empty list of 1-D arrays (one per object), or pass offsets"
        raise InvalidValueError(msg)
    lengths = np.array([len(array) for array in arrays], dtype=np.int64)
    # empty lists default to float64; leaving them out keeps the dtype of the real values
    flat = np.concatenate([array for array in arrays if array.size] or arrays)
    return flat, np.concatenate([[0], np.cumsum(lengths)])
