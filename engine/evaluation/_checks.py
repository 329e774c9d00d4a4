"""Argument checks and JSON helpers shared by the evaluation modules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from engine.errors import InvalidValueError


def check_class_names(class_names: Sequence[str]) -> list[str]:
    """Class names as a list of distinct, non-empty strings."""
    names = [str(name) for name in class_names]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if not names or duplicated or "" in names:
        msg = (
            f"class_names must be a non-empty list of distinct, non-empty names; got {names!r}"
            + (f" (repeated: {duplicated})" if duplicated else "")
        )
        raise InvalidValueError(msg)
    return names


def check_codes(y: ArrayLike, n_classes: int, *, name: str) -> np.ndarray:
    """Integer class codes in ``[0, n_classes)`` as a 1-D int64 array."""
    codes = np.asarray(y)
    if codes.ndim != 1 or codes.size == 0:
        msg = f"{name} must be a non-empty 1-D array; got shape {codes.shape}"
        raise InvalidValueError(msg)
    if codes.dtype.kind not in "iu":
        msg = f"{name} must hold integer class codes; got dtype {codes.dtype}"
        raise InvalidValueError(msg)
    outside = (codes < 0) | (codes >= n_classes)
    if outside.any():
        msg = (
            f"{name} holds class codes outside 0..{n_classes - 1}, "
            f"e.g. {codes[outside][:5].tolist()}"
        )
        raise InvalidValueError(msg)
    return codes.astype(np.int64, copy=False)


def encode_labels(y: ArrayLike, class_names: Sequence[str], *, name: str = "y") -> np.ndarray:
    """Class codes of ``y``, given as class names or as integer codes into ``class_names``.

    Parameters
    ----------
    y : (N,) class names (str) or integer codes
    class_names : the classes in code order
    name : argument name shown in error messages

    Returns
    -------
    (N,) int64 codes into ``class_names``
    """
    names = check_class_names(class_names)
    values = np.asarray(y)
    if values.dtype.kind not in "USO":
        return check_codes(values, len(names), name=name)
    if values.ndim != 1 or values.size == 0:
        msg = f"{name} must be a non-empty 1-D array; got shape {values.shape}"
        raise InvalidValueError(msg)
    # map each distinct value once, then broadcast back with the inverse index
    unique, inverse = np.unique(values.astype(str), return_inverse=True)
    lookup = {label: code for code, label in enumerate(names)}
    unknown = [label for label in unique if label not in lookup]
    if unknown:
        msg = f"{name} holds unknown class names {unknown[:5]}; allowed: {names}"
        raise InvalidValueError(msg)
    return np.array([lookup[label] for label in unique], dtype=np.int64)[inverse.ravel()]


def check_same_length(**arrays: np.ndarray) -> None:
    """Raise unless all arrays have the same first dimension."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        msg = f"arrays must have the same length; got {lengths}"
        raise InvalidValueError(msg)


def check_n_bins(n_bins: int) -> int:
    """Return ``n_bins`` as an int after checking it is a positive integer."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        msg = f"n_bins must be a positive integer; got {n_bins!r}"
        raise InvalidValueError(msg)
    return int(n_bins)


def json_float(value: float) -> float | None:
    """Convert to a Python float, or ``None`` where undefined (NaN is not valid JSON)."""
    value = float(value)
    return None if np.isnan(value) else value


def json_floats(values: ArrayLike) -> list:
    """Nested lists of Python floats, with ``None`` for NaN."""
    array = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(array), None, array).tolist()
