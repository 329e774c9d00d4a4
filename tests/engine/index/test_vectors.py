"""FAISS index: kind choice, exact vs approximate recall, self-search, uploads, round trip."""

from __future__ import annotations

import numpy as np
import pytest

from engine.catalog import UnknownObjectError
from engine.errors import InputError, InvalidValueError
from engine.vectors import (
    COMPRESSED_LIMIT,
    EXACT_LIMIT,
    VectorIndex,
    check_self_search,
    choose_kind,
)


def ids(n: int, prefix: str = "o") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def recall(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact k nearest that the approximate search also returns."""
    return float(
        np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approximate, exact, strict=True)])
    )


@pytest.fixture(scope="module")
def points(clustered):
    return clustered(4000, dim=32, n_clusters=20)[0]


def test_kind_is_chosen_by_size():
    assert choose_kind(10) == "flat"
    assert choose_kind(EXACT_LIMIT - 1) == "flat"
    assert choose_kind(EXACT_LIMIT) == "hnsw"
    assert choose_kind(COMPRESSED_LIMIT) == "ivfpq"
    assert VectorIndex().fit(np.eye(4, dtype=np.float32)).kind_ == "flat"


def test_exact_search_is_cosine_nearest_first(points):
    index = VectorIndex(kind="flat").fit(points)
    found = index.search(points[:50], 5)
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    expected = np.argsort(-(unit[:50] @ unit.T), axis=1)[:, :5]
    np.testing.assert_array_equal(found.rows, expected)
    np.testing.assert_array_equal(found.rows[:, 0], np.arange(50))  # each finds itself
    np.testing.assert_allclose(found.distance[:, 0], 0.0, atol=1e-5)
    assert np.all(np.diff(found.distance, axis=1) >= 0)
    # cosine: scaling a vector changes nothing
    np.testing.assert_array_equal(index.search(points[:50] * 7.0, 5).rows, found.rows)


@pytest.mark.parametrize(("kind", "minimum"), [("hnsw", 0.95), ("ivfpq", 0.5)])
def test_approximate_kinds_recall_the_exact_neighbours(points, kind, minimum):
    exact = VectorIndex(kind="flat").fit(points).search(points[::20], 10)
    index = VectorIndex(kind=kind, nlist=16).fit(points)
    assert index.kind_ == kind
    assert recall(index.search(points[::20], 10).rows, exact.rows) >= minimum


def test_search_ids_leaves_the_query_out(points):
    index = VectorIndex().fit(points, ids(len(points)))
    found = index.search_ids(["o3", "o10"], 4)
    assert found.object_id.shape == (2, 4)
    assert "o3" not in found.object_id[0] and "o10" not in found.object_id[1]
    plain = index.search(points[[3, 10]], 5)
    np.testing.assert_array_equal(found.rows, plain.rows[:, 1:])
    with pytest.raises(UnknownObjectError, match="'nope' is not in the index"):
        index.search_ids(["nope"], 3)


def test_first_rows_restricts_the_search(points):
    index = VectorIndex().fit(points)
    found = index.search(points[3000:3010], 5, first_rows=1000)
    assert found.rows.max() < 1000
    reference = VectorIndex().fit(points[:1000]).search(points[3000:3010], 5)
    np.testing.assert_array_equal(found.rows, reference.rows)


def test_uploads_are_added_without_rebuilding(points):
    index = VectorIndex(kind="hnsw").fit(points[:3000], ids(3000))
    faiss_index = index.index_
    rows = index.add(points[3000:3100], ids(100, "new"))
    assert index.index_ is faiss_index and index.ntotal == 3100
    np.testing.assert_array_equal(rows, np.arange(3000, 3100))
    found = index.search(points[3000:3100], 1)
    assert np.mean(found.rows[:, 0] == rows) >= 0.95
    assert index.search_ids(["new5"], 3).object_id.shape == (1, 3)
    with pytest.raises(InvalidValueError, match="repeated"):
        index.add(points[:1], ["o1"])
    with pytest.raises(InvalidValueError, match="for every added batch"):
        index.add(points[:1])


def test_round_trip_gives_the_same_results(tmp_path, points):
    for kind in ("ivfpq", "flat", "hnsw"):
        index = VectorIndex(kind=kind, ef_search=64, nlist=16, nprobe=4).fit(points, ids(4000))
        path = index.save(tmp_path / f"{kind}.index")
        loaded = VectorIndex.load(path, object_ids=ids(len(points)))
        assert loaded.kind_ == kind and loaded.ntotal == len(points)
        before, after = index.search(points[:40], 8), loaded.search(points[:40], 8)
        np.testing.assert_array_equal(before.rows, after.rows)
        np.testing.assert_array_equal(before.distance, after.distance)
        if kind == "ivfpq":  # search settings are stored in FAISS's format
            assert loaded.index_.nprobe == 4
            assert loaded.search_ids(["o5"], 3).object_id.shape == (1, 3)
    assert loaded.index_.hnsw.efSearch == 64
    with pytest.raises(InputError, match="3 object ids for 4000"):
        VectorIndex.load(path, object_ids=["a", "b", "c"])


def test_inputs_are_checked(points):
    index = VectorIndex().fit(points.astype(np.float64)[:, ::1])  # float64 input is converted
    with pytest.raises(InvalidValueError, match="dimension 8, the index holds 32"):
        index.search(points[:2, :8], 3)
    with pytest.raises(InvalidValueError, match="2-D"):
        index.search(points[0], 3)
    bad = points[:3].copy()
    bad[1, 0] = np.nan
    with pytest.raises(InvalidValueError, match=r"row\(s\) \[1\]"):
        VectorIndex().fit(bad)
    with pytest.raises(ValueError, match="kind must be one of"):
        VectorIndex(kind="annoy").fit(points)
    with pytest.raises(InputError, match="not built yet"):
        VectorIndex().search(points, 1)
    # a column slice is not C-contiguous: it is copied, not misread
    wide = np.hstack([points, points])
    np.testing.assert_array_equal(
        VectorIndex().fit(wide[:, :32]).search(points[:5], 3).rows,
        index.search(points[:5], 3).rows,
    )


def test_self_search_catches_a_wrong_row_order(points):
    index = VectorIndex().fit(points)
    assert check_self_search(index, points) == 1.0
    with pytest.raises(InvalidValueError, match="sanity check failed"):
        check_self_search(index, points[::-1].copy())
    # duplicates may find each other instead of themselves
    twins = np.repeat(points[:10], 3, axis=0)
    assert check_self_search(VectorIndex().fit(twins), twins) == 1.0
