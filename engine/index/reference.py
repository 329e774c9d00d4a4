"""The reference set a map or scorers were fitted on: stored with them or once beside them.

:class:`~engine.index.umap_map.UmapMap` and :class:`~engine.index.anomaly.AnomalyScorers`
keep their training embeddings (the *reference*): the map to find the neighbours of new points,
the scorers to refit the isolation forest. Saved on their own they store it in their ``.npz``
(``reference="store"``). In a catalogue, whose ``embeddings.parquet`` already holds it as its
first ``n_reference`` rows, they store only its SHA-256 digest (``reference="external"``) and
are handed the rows back on load, which are checked against the digest; this keeps one copy of
the embeddings a model instead of three.
"""

from __future__ import annotations

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
