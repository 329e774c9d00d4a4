import numpy as np
import polars as pl
import pytest

from engine.data.assemble import assemble
from engine.data.batching import collate, evenly_subsample
from engine.data.packed import PackedLightCurves


@pytest.fixture
def packed() -> PackedLightCurves:
    points = pl.DataFrame(
        {
            "object_id": ["a"] * 3 + ["b"] * 5,
            "time": [60002.0, 60000.0, 60001.0, 10.0, 11.0, 12.0, 13.0, 14.0],
            "band": ["g", "r", "g", "u", "u", "y", "y", "z"],
            "flux": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "flux_err": [0.1] * 8,
            "label": ["SNIa"] * 3 + ["RRL"] * 5,
        }
    )
    meta = pl.DataFrame({"object_id": ["a", "b"], "mwebv": [0.1, None]})
    table, _ = assemble(points, source="test", metadata=meta)
    return PackedLightCurves.from_frame(table)


def test_packed_offsets_and_sorting(packed):
    assert list(packed.object_id) == ["a", "b"]
    assert list(packed.lengths) == [3, 5]
    np.testing.assert_array_equal(packed.time[:3], [60000.0, 60001.0, 60002.0])
    np.testing.assert_array_equal(packed.flux[:3], [2.0, 3.0, 1.0])
    assert list(packed.label) == ["SNIa", "RRL"]
    assert np.isnan(packed.metadata["mwebv"][1])


def test_subset_keeps_points_of_each_object(packed):
    sub = packed.subset(np.array([1, 0]))
    assert list(sub.object_id) == ["b", "a"]
    np.testing.assert_array_equal(sub.flux[:5], packed.flux[3:])
    np.testing.assert_array_equal(sub.offsets, [0, 5, 8])


def test_collate_pads_zeroes_time_and_subsamples(packed):
    batch = collate(packed, np.array([0, 1]), max_points=4, metadata_names=("mwebv",))
    assert batch.time.shape == (2, 4)
    assert batch.mask.sum(1).tolist() == [3, 4]
    assert batch.time[0, :3].tolist() == [0.0, 1.0, 2.0]
    assert batch.time[1].tolist() == [0.0, 1.0, 3.0, 4.0]  # first and last kept
    assert batch.flux[0, 3] == 0.0 and not batch.mask[0, 3]
    assert batch.wavelength[1, 0] == pytest.approx(3671.0)
    assert np.isnan(batch.metadata[1, 0].item())


@pytest.mark.parametrize(("length", "limit"), [(5, 10), (10, 10), (1000, 256), (257, 256)])
def test_evenly_subsample(length, limit):
    chosen = evenly_subsample(length, limit)
    assert len(chosen) == min(length, limit)
    assert chosen[0] == 0 and chosen[-1] == length - 1
    assert np.all(np.diff(chosen) > 0)
