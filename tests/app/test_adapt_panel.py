"""'Train from my labels' on the vetting page: a head from the labels, its figures, re-ranking."""

from __future__ import annotations

from pathlib import Path

import pytest
from bokeh.document import Document

from app.vetting import VettingView
from engine.index.adapt import HEAD_DIR
from engine.training.head import EmbeddingHead
from tests.app.conftest import MODEL, clustered, shown, write_indexed_catalogue


@pytest.fixture
def indexed(tmp_path, small_catalog) -> Path:
    return write_indexed_catalogue(
        tmp_path / "cat", small_catalog.table, clustered(len(small_catalog))
    )


def label_first(state, n: int, even: str = "known:SNIa", odd: str = "known:EB") -> list[str]:
    """Label the first ``n`` objects: even rows (one cluster) ``even``, odd rows ``odd``."""
    ids = state.catalog.table["object_id"].to_list()
    for i, object_id in enumerate(ids[:n]):
        state.labels.add(object_id, even if i % 2 == 0 else odd, catalogue=state.catalog.name)
    return ids


def test_training_shows_figures_then_reranks_the_queue(indexed, state):
    ids = label_first(state, 30)
    view = VettingView(state=state, catalog_dir=str(indexed))
    panel = view._adapt
    assert panel.models() == [MODEL] and panel.model == MODEL
    panel.param.trigger("train")
    head = panel.head
    assert head.classes == ("EB", "SNIa") and head.report["n_objects"] == 30
    assert head.report["classification"]["macro_f1"] == 1.0  # the clusters are apart
    assert "cross-validated" in panel._report()[0].object
    assert len(panel._report()[1]) == 3  # reliability, confusion matrix, per-class F1
    panel.head_class = "SNIa"
    panel.param.trigger("apply")
    assert view.scorer == f"{MODEL}: p(SNIa) from my labels"
    queue = view.queue()["object_id"].to_list()
    unlabelled = ids[30:]
    assert sorted(queue) == sorted(unlabelled)
    n_even = len(unlabelled[::2])
    assert set(queue[:n_even]) == set(unlabelled[::2])  # the SNIa cluster comes first
    saved = EmbeddingHead.load(indexed / MODEL / HEAD_DIR)
    assert saved.classes == head.classes and "Saved to" in panel._feedback.object
    view.__panel__().get_root(Document())


@pytest.mark.parametrize(
    ("n", "even", "odd", "expected"),
    [
        (4, "known:SNIa", "known:SNIa", "at least 2 classes; found only 'SNIa'"),
        (3, "known:SNIa", "artefact", "too few: artefact (1)"),
        (6, "skip", "skip", "found none"),
    ],
)
def test_too_few_labels_are_explained(indexed, state, n, even, odd, expected):
    label_first(state, n, even, odd)
    view = VettingView(state=state, catalog_dir=str(indexed))
    view._adapt.param.trigger("train")
    assert view._adapt.head is None and expected in shown(view._adapt._feedback.object)
    view._adapt.param.trigger("apply")
    assert "Train a classifier first" in view._adapt._feedback.object


def test_without_stored_embeddings_the_panel_says_why(state, tmp_path):
    view = VettingView(state=state, catalog_dir=str(tmp_path))
    assert "needs a catalogue folder with stored embeddings" in view._adapt.__panel__().object
    assert "needs a catalogue folder" in VettingView(state=state)._adapt.__panel__().object
