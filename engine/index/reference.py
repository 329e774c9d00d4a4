"""The reference set a map or scorers were fitted on: stored with them or once beside them.

:class:`~engine.index.umap_map.UmapMap` and :class:`~engine.index.anomaly.AnomalyScorers`
keep their training embeddings (the *reference*): the map to find the neighbours of new points,
the scorers to refit the isolation forest. Saved on their own they store it in their ``.npz``
(``reference="store"``). In a catalogue, whose ``embeddings.parquet`` already holds it as its
first ``n_reference`` rows, they store only its SHA-256 digest (``reference="external"``) and
are handed the rows back on load, which are checked against the digest; this keeps one copy of
the embeddings a model instead of three. Both write and read their JSON + ``.npz`` pair through
:func:`save_fitted` and :func:`read_fitted`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np

from engine.errors import InputError, InvalidValueError
from engine.vectors import VectorIndex, as_matrix, check_self_search, digest

ReferenceStorage = Literal["store", "external"]
STORAGE = ("store", "external")


def reference_arrays(reference: np.ndarray, storage: ReferenceStorage) -> dict[str, np.ndarray]:
    """Return the ``.npz`` entries storing ``reference`` (none when it is kept elsewhere)."""
    if storage not in STORAGE:
        msg = f"reference must be one of {STORAGE}, got {storage!r}"
        raise ValueError(msg)
    return {"reference": reference} if storage == "store" else {}


def restore_reference(
    arrays: Mapping[str, np.ndarray], state: dict, given: np.ndarray | None, source: Path
) -> np.ndarray:
    """Return the reference of a saved map or scorer: its stored copy or ``given``, checked.

    Raises :class:`InputError` when it was stored elsewhere and not given, or when what is
    found does not match the digest recorded at fitting time.
    """
    if "reference" in arrays:
        reference = arrays["reference"]
    elif given is None:
        msg = (
            f"{source} was saved without its reference embeddings; pass reference= (the first "
            f"{state['n_reference']} rows of the catalogue's embeddings)"
        )
        raise InputError(msg)
    else:
        reference = given
    reference = as_matrix(reference, name="reference")
    if digest(reference) != state["reference_sha256"]:
        msg = (
            f"{source}: the reference embeddings ({reference.shape[0]} x {reference.shape[1]}) "
            f"are not the {state['n_reference']} x {state['dim']} it was fitted on"
        )
        raise InputError(msg)
    return reference


def save_fitted(
    directory: str | Path,
    files: tuple[str, str],
    state: dict,
    arrays: Mapping[str, np.ndarray],
    reference: np.ndarray,
    storage: ReferenceStorage,
) -> None:
    """Write a fitted map or scorer: a JSON file and an ``.npz`` file (``files``) in ``directory``.

    The JSON holds ``state`` plus the reference's size and digest, the ``.npz`` ``arrays`` plus
    the reference itself when ``storage`` is ``"store"``.
    """
    stored = reference_arrays(reference, storage)
    params_path, arrays_path = (Path(directory) / name for name in files)
    described = {
        "n_reference": len(reference),
        "dim": int(reference.shape[1]),
        "reference_sha256": digest(reference),
    }
    params_path.write_text(json.dumps(state | described, indent=2))
    np.savez(arrays_path, **arrays, **stored)


def read_fitted(
    directory: str | Path, files: tuple[str, str], given: np.ndarray | None, *, what: str
) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
    """Read what :func:`save_fitted` wrote: its JSON state, its arrays and the checked reference.

    ``given`` is the reference when it was stored elsewhere. Raises :class:`InputError` naming
    ``what`` (e.g. ``"UMAP map"``) when a file is missing.
    """
    params_path, arrays_path = (Path(directory) / name for name in files)
    if not params_path.is_file() or not arrays_path.is_file():
        msg = f"{directory}: no fitted {what} ({files[0]} and {files[1]})"
        raise InputError(msg)
    state = json.loads(params_path.read_text())
    with np.load(arrays_path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files if name != "reference"}
        reference = restore_reference(stored, state, given, arrays_path)
    return state, arrays, reference


def reference_index(neighbours: VectorIndex | None, reference: np.ndarray) -> VectorIndex:
    """Return ``neighbours`` checked to start with the ``reference`` rows, or an index of them.

    A map or scorer fitted on ``reference`` can share a catalogue's index, which holds the
    reference first and uploads after it; searches then pass ``first_rows=len(reference)``.
    """
    if neighbours is None:
        return VectorIndex().fit(reference)
    if neighbours.ntotal < len(reference) or neighbours.dim != reference.shape[1]:
        msg = (
            f"the neighbour index ({neighbours.ntotal} x {neighbours.dim}) must start with "
            f"the {len(reference)} x {reference.shape[1]} reference vectors"
        )
        raise InvalidValueError(msg)
    check_self_search(neighbours, reference)
    return neighbours
