"""Reference embeddings kept outside a saved map or scorer: digest checks on load."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InputError
from engine.index.anomaly import AnomalyScorers
from engine.index.reference import reference_arrays
from engine.index.umap_map import UmapMap
from engine.vectors import digest


def test_digest_depends_on_values_and_shape():
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert digest(values) == digest(values.astype(np.float64))  # compared as float32
    assert digest(values) != digest(values.reshape(4, 3))
    changed = values.copy()
    changed[2, 3] += 1e-3
    assert digest(values) != digest(changed)
    with pytest.raises(ValueError, match="reference must be one of"):
        reference_arrays(values, "copy")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, fitted_umap, umap_data):
    """The shared map and scorers fitted on the same reference, saved without it."""
    folder = tmp_path_factory.mktemp("external")
    fitted_umap[0].save(folder, reference="external")
    AnomalyScorers().fit(umap_data[0]).save(folder, reference="external")
    return folder


@pytest.mark.parametrize(
    ("kind", "arrays_file"), [(UmapMap, "umap.npz"), (AnomalyScorers, "anomaly_model.npz")]
)
def test_external_reference_is_checked_on_load(saved, umap_data, kind, arrays_file):
    train, held_out = umap_data[0], umap_data[1][:20]
    with np.load(saved / arrays_file, allow_pickle=False) as arrays:
        assert "reference" not in arrays.files
    with pytest.raises(InputError, match="saved without its reference"):
        kind.load(saved)
    with pytest.raises(InputError, match="not the 1200 x 16 it was fitted on"):
        kind.load(saved, reference=train[:-1])
    with pytest.raises(InputError, match="not the 1200 x 16"):
        kind.load(saved, reference=train[::-1].copy())
    loaded = kind.load(saved, reference=train)
    np.testing.assert_array_equal(loaded.reference_, train)
    result = loaded.transform(held_out) if kind is UmapMap else loaded.score(held_out).to_numpy()
    assert np.isfinite(result).all()
