"""Vetting page: queue, buttons, keyboard shortcuts, notes, stored labels, export."""

from __future__ import annotations

import polars as pl
import pytest

from app.vetting import VettingView
from engine.catalog import CATALOGUE_ORDER, ModelProducts


@pytest.fixture
def view(bare_state):
    bare_state.page = "vetting"
    return VettingView(state=bare_state, known_class="RRL")


def _press(view: VettingView, key: str) -> None:
    view._keys.param.update(key=key, presses=view._keys.presses + 1)


def test_queue_starts_in_catalogue_order(view, bare_state):
    assert view.param.scorer.objects == [CATALOGUE_ORDER]
    queue = view.queue()
    assert queue["object_id"].to_list() == bare_state.catalog.table["object_id"].to_list()
    assert view.current()["object_id"] == queue["object_id"][0]


def test_buttons_store_labels_with_notes_and_advance(view, bare_state, labels):
    first, second, third = view.queue()["object_id"].head(3)
    view.note = "odd dip"
    view.param.trigger("interesting")
    view.param.trigger("known")
    view.param.trigger("skip")
    stored = labels.current(catalogue=bare_state.catalog.name)
    assert stored.select("object_id", "label", "note").rows() == [
        (first, "interesting", "odd dip"),
        (second, "known:RRL", ""),
        (third, "skip", ""),
    ]
    assert view.note == "" and "Stored **skip**" in view._feedback.object
    assert first not in view.queue()["object_id"].to_list()
    assert view.current()["object_id"] == bare_state.catalog.table["object_id"][3]


def test_a_label_goes_to_the_object_on_screen_when_another_user_labelled_it(
    view, bare_state, labels
):
    shown = view._current_view()  # the page shows the head of the queue
    head = view.current()["object_id"]
    assert head in shown.objects[0].object
    labels.add(head, "skip", catalogue=bare_state.catalog.name, user="someone else")
    assert view.current()["object_id"] != head  # it left the stored queue meanwhile
    view.param.trigger("interesting")
    assert labels.label_of(head, catalogue=bare_state.catalog.name).label == "interesting"
    assert labels.history().height == 2
    # after the label the page shows the next object, and the next label goes to it
    view._current_view()
    following = view.current()["object_id"]
    view.param.trigger("artefact")
    assert labels.label_of(following, catalogue=bare_state.catalog.name).label == "artefact"


def test_keyboard_shortcuts_label_only_on_the_vetting_page(view, bare_state, labels):
    head = view.current()["object_id"]
    _press(view, "a")
    assert labels.label_of(head, catalogue=bare_state.catalog.name).label == "artefact"
    bare_state.page = "browse"
    _press(view, "i")
    assert labels.history().height == 1


def test_user_name_is_stored(view, bare_state, labels):
    bare_state.user = "ada"
    view.param.trigger("artefact")
    assert labels.history()["user"].to_list() == ["ada"]


def test_labelled_objects_can_be_revisited(view, bare_state, labels):
    head = view.current()["object_id"]
    view.param.trigger("interesting")
    view.include_labelled = True
    assert view.position == 0
    row = view.current()
    assert row["object_id"] == head and row["vetted"] == "interesting"
    view.param.trigger("artefact")  # relabelling moves on
    assert labels.label_of(head, catalogue=bare_state.catalog.name).label == "artefact"
    assert view.position == 1


def test_previous_and_next_stay_in_the_queue(view):
    view.param.trigger("previous")
    assert view.position == 0
    for _ in range(3):
        view.param.trigger("next")
    assert view.position == 3
    view.position = 10_000
    view.param.trigger("next")
    assert view.position == view.queue().height - 1


def test_empty_queue_is_explained(view, bare_state, labels):
    for object_id in bare_state.catalog.table["object_id"]:
        labels.add(object_id, "skip", catalogue=bare_state.catalog.name, user="u")
    view.param.trigger("revision")
    assert view.current() is None
    assert "Every object of the queue is labelled" in view._current_view().object
    view.param.trigger("interesting")
    assert "queue is empty" in view._feedback.object


def test_export_current_labels(view, bare_state):
    view.param.trigger("interesting")
    view.param.trigger("artefact")
    csv = pl.read_csv(view.export("csv"))
    parquet = pl.read_parquet(view.export("parquet"))
    assert csv["label"].to_list() == ["interesting", "artefact"]
    assert parquet["object_id"].to_list() == csv["object_id"].cast(pl.String).to_list()


def test_model_scorers_rank_the_queue(bare_state, small_catalog):
    predictions = pl.DataFrame(
        {
            "object_id": small_catalog.table["object_id"],
            "pred_class": "SNIa",
            "confidence": list(reversed(range(len(small_catalog)))),
        }
    ).with_columns(pl.col("confidence") / len(small_catalog))
    bare_state.catalog = small_catalog.add(
        small_catalog.table.head(0),
        source="-",
        products={"m": ModelProducts(predictions=predictions)},
    )
    view = VettingView(state=bare_state)
    assert view.param.scorer.objects == [CATALOGUE_ORDER, "m: low confidence"]
    view.scorer = "m: low confidence"
    assert (
        view.queue()["object_id"].to_list() == small_catalog.table["object_id"].reverse().to_list()
    )


def test_known_class_needs_a_class(bare_state, small_catalog, labels):
    bare_state.catalog = type(small_catalog)(
        name="nolabels", table=small_catalog.table.drop("label")
    )
    bare_state.page = "vetting"
    view = VettingView(state=bare_state)
    assert view.known_class is None
    view.param.trigger("known")
    assert "Choose the known class first" in view._feedback.object
    assert labels.history().is_empty()
