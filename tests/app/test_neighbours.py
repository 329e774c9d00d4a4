"""Neighbours panel of the inspector and the vetting queue re-ranked by artefact neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import panel as pn
import polars as pl
import pytest
from bokeh.document import Document

from app.inspector import InspectorView
from app.neighbours import N_NEIGHBOURS, NeighboursView, find_neighbours
from app.vetting import VettingView, down_weight
from engine.catalog import Catalog, ModelProducts
from tests.app.conftest import MODEL, clustered, shown, write_indexed_catalogue


@pytest.fixture
def indexed(tmp_path, small_catalog) -> Path:
    return write_indexed_catalogue(
        tmp_path / "cat", small_catalog.table, clustered(len(small_catalog))
    )


def _buttons(viewable) -> list[pn.widgets.Button]:
    return list(viewable.select(pn.widgets.Button))


def test_neighbours_are_the_same_cluster_without_the_object(indexed, small_catalog):
    ids = small_catalog.table["object_id"].to_list()
    found = find_neighbours(str(indexed), ids[0], MODEL)
    assert found.height == N_NEIGHBOURS and ids[0] not in found["object_id"].to_list()
    assert set(found["object_id"]) <= set(ids[0::2])
    assert found["distance"].is_sorted()
    labels = dict(small_catalog.table.select("object_id", "label").iter_rows())
    assert found["label"].to_list() == [labels[i] for i in found["object_id"]]


def test_panel_draws_clickable_thumbnails(indexed, state, small_catalog):
    state.object_id = small_catalog.table["object_id"][1]
    view = NeighboursView(state=state, catalog_dir=str(indexed))
    content = view._content()
    content.get_root(Document())
    buttons = _buttons(content)
    assert len(buttons) == N_NEIGHBOURS
    assert len(list(content.select(pn.pane.Bokeh))) == N_NEIGHBOURS
    thumbnail = content.select(pn.pane.Bokeh)[0].object
    assert any(type(t).__name__ == "SaveTool" for t in thumbnail.toolbar.tools)
    target = buttons[3].label.removeprefix("Inspect ")
    assert target in small_catalog.table["object_id"][1::2].to_list()
    buttons[3].clicks += 1
    assert state.object_id == target and state.page == "inspect"


@pytest.mark.parametrize(
    ("folder", "model", "expected"),
    [
        (None, MODEL, "plain table"),
        ("indexed", "(no model)", "no index for model '(no model)'"),
        ("missing", MODEL, "no catalog.json"),
    ],
)
def test_panel_says_why_there_are_no_neighbours(
    folder, model, expected, indexed, state, small_catalog, tmp_path
):
    state.object_id = small_catalog.table["object_id"][0]
    state.model = model
    catalog_dir = {"indexed": str(indexed), "missing": str(tmp_path)}.get(folder)
    view = NeighboursView(state=state, catalog_dir=catalog_dir)
    assert expected in shown(view.table())


def test_an_upload_is_searched_by_its_embedding(indexed, state, small_catalog):
    extra = small_catalog.table.head(2).with_columns(pl.Series("object_id", ["up-1", "up-2"]))
    odd = clustered(2, seed=3)[[1]]  # near the odd rows' direction
    embeddings = pl.DataFrame({"object_id": ["up-1"], "embedding": odd})
    state.catalog = small_catalog.add(
        extra, source="mine.csv", products={MODEL: ModelProducts(embeddings=embeddings)}
    )
    state.object_id = "up-1"
    view = NeighboursView(state=state, catalog_dir=str(indexed))
    found = view.table()
    assert found.height == N_NEIGHBOURS
    assert set(found["object_id"]) <= set(small_catalog.table["object_id"][1::2])

    state.object_id = "up-2"  # added without an embedding
    assert "was not embedded by tiny-atcat" in shown(view.table())


def test_inspector_shows_the_panel_in_its_neighbours_tab(indexed, state, small_catalog):
    inspector = InspectorView(state=state, catalog_dir=str(indexed))
    state.inspect(small_catalog.table["object_id"][0])
    panel = inspector._neighbours
    assert panel.catalog_dir == str(indexed) and not panel.shown
    inspector._tabs.active = len(inspector._tabs) - 1
    assert panel.shown and inspector._tabs._names[-1] == "Neighbours"


def test_down_weight_moves_neighbours_of_artefacts_down():
    ranked = pl.DataFrame({"object_id": ["a", "b", "c", "d"], "score": [4.0, 3.0, 2.0, 1.0]})
    pairs = pl.DataFrame(
        {"object_id": ["a", "a", "b", "b", "c", "c"], "neighbour": ["x", "y", "x", "c", "d", "c"]}
    )
    # a: share 1 -> 1.0 * 0.5; b: share 0.5 -> 0.75 * 0.75; c, d: 0.5, 0.25 unchanged
    out = down_weight(ranked, pairs, pl.Series(["x", "y"]))
    assert out["object_id"].to_list() == ["b", "a", "c", "d"]
    assert out["artefact_share"].to_list() == [0.5, 1.0, 0.0, 0.0]
    assert out["score"].to_list() == [3.0, 4.0, 2.0, 1.0]  # scores are kept, only the order moves


def _scored_catalogue(small_catalog) -> Catalog:
    """The small catalogue with anomaly scores of model :data:`MODEL`: first object highest."""
    ids = small_catalog.table["object_id"]
    scores = pl.DataFrame({"object_id": ids, "gmm_nll": np.arange(ids.len(), 0, -1, dtype=float)})
    return Catalog(
        name=small_catalog.name,
        table=small_catalog.table,
        products={MODEL: ModelProducts(anomaly=scores)},
    )


def test_vetting_queue_is_reranked_after_an_artefact_label(indexed, state, small_catalog, labels):
    state.catalog = _scored_catalogue(small_catalog)
    view = VettingView(state=state, catalog_dir=str(indexed))
    view.scorer = f"{MODEL}: gmm_nll"
    ids = small_catalog.table["object_id"].to_list()
    assert view.queue()["object_id"].to_list() == ids  # no artefact yet: plain ranking
    view.param.trigger("artefact")  # the first object (even cluster) is an artefact
    queue = view.queue()
    share = dict(queue.select("object_id", "artefact_share").iter_rows())
    neighbours_of_artefact = find_neighbours(str(indexed), ids[2], MODEL)["object_id"]
    assert (share[ids[2]] > 0) == (ids[0] in neighbours_of_artefact.to_list())
    assert all(share[i] == 0 for i in ids[1::2])  # the other cluster is untouched
    order = queue["object_id"].to_list()
    moved = [i for i in ids[2:12:2] if share[i] > 0]
    assert moved  # the artefact is among the 10 nearest of some of its cluster
    for object_id in moved:  # near the top, each falls below the next one of the other cluster
        below = ids[ids.index(object_id) + 1]
        assert order.index(below) < order.index(object_id)
    view.rerank = False
    assert view.queue()["object_id"].to_list() == ids[1:]


def test_vetting_without_index_keeps_the_ranking(state, small_catalog, labels):
    state.catalog = _scored_catalogue(small_catalog)
    view = VettingView(state=state)
    view.scorer = f"{MODEL}: gmm_nll"
    view.param.trigger("artefact")
    assert "artefact_share" not in view.queue().columns
