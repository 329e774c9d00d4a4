"""Model health, Teach and the assembled app."""

from __future__ import annotations

import json

import holoviews as hv
import panel as pn
import pytest
from bokeh.document import Document

from app import loaders
from app.health import HealthView, figures, summary_text
from app.main import create_app
from app.state import NO_MODEL, PAGES, AppState
from app.teach import TeachView
from app.teach_text import CLASS_TEXT, GENERIC_TEXT, describe_class
from engine.models.checkpoint import CONFIG_FILE, METRICS_FILE, WEIGHTS_FILE
from engine.models.registry import available_models


def _alert(viewable) -> str:
    return " ".join(str(a.object) for a in pn.panel(viewable).select(pn.pane.Alert))


def test_health_draws_every_section_of_real_metrics(state, models_dir):
    state.page = "health"
    view = HealthView(state=state)
    metrics = view.metrics()
    found = figures(metrics)
    assert [type(f) for f in found] == [hv.Overlay, hv.HeatMap, hv.Bars, hv.Overlay, hv.Overlay]
    reliability = found[0]
    assert {c.label.split()[0] for c in reliability if c.label} == {"before", "after"}
    assert len(found[1].data) == len(metrics["classification"]["class_names"]) ** 2
    text = summary_text(metrics)
    assert (
        f"Evaluated on {metrics['n_objects']:,} objects" in text and "ECE after calibration" in text
    )
    rendered = view._view()
    assert len(rendered.select(pn.pane.HoloViews)) == 5


def test_health_without_model_or_metrics(bare_state, state, models_dir, tmp_path):
    bare_state.page = "health"
    assert "No model loaded" in _alert(HealthView(state=bare_state)._view())
    info = available_models(models_dir)[0]
    bare = tmp_path / "no-metrics"
    bare.mkdir()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        (bare / name).write_bytes((info.path / name).read_bytes())
    other = AppState(
        catalog=state.catalog, labels=state.labels, models=available_models(tmp_path), page="health"
    )
    assert f"ships no {METRICS_FILE}" in _alert(HealthView(state=other)._view())
    (bare / METRICS_FILE).write_text("{not json")
    loaders.load_metrics.clear()
    assert "cannot read the model metrics" in _alert(HealthView(state=other)._view())
    (bare / METRICS_FILE).write_text(json.dumps({"n_objects": 3}))
    loaders.load_metrics.clear()
    assert "none of the figures" in _alert(HealthView(state=other)._view())


def test_health_follows_the_model_picker(state):
    state.page = "health"
    view = HealthView(state=state)
    assert view._view().select(pn.pane.HoloViews)
    state.model = NO_MODEL
    assert "No model loaded" in _alert(view._view())


def test_every_sample_class_has_its_own_text(small_catalog):
    assert set(small_catalog.classes()) <= set(CLASS_TEXT)
    assert describe_class("Nova") == ("Nova", GENERIC_TEXT)


def test_teach_tours_one_object_per_class(state):
    state.page = "teach"
    view = TeachView(state=state)
    examples = view.examples()
    assert len(examples) == len(state.catalog.classes())
    label, object_id = examples[0]
    lesson = view._lesson()
    assert f"1 of {len(examples)}: {CLASS_TEXT[label][0]}" in lesson.objects[0].object
    assert view._probabilities.object_id == object_id
    view.param.trigger("next")
    assert view.step == 1 and view._probabilities.object_id == examples[1][1]
    view.param.trigger("previous")
    view.param.trigger("previous")
    assert view.step == len(examples) - 1  # wraps around
    view.param.trigger("inspect")
    assert (state.page, state.object_id) == ("inspect", examples[-1][1])
    assert view._probabilities.content().select(pn.pane.Bokeh)  # the model's view of it


def test_teach_without_labels(bare_state, small_catalog):
    bare_state.page = "teach"
    bare_state.catalog = type(small_catalog)(name="x", table=small_catalog.table.drop("label"))
    assert "no labelled objects" in _alert(TeachView(state=bare_state)._lesson())


def test_create_app_builds_every_page_and_syncs_tabs(models_dir, tmp_path):
    app = create_app(models_dir=models_dir, labels_url=tmp_path / "labels.db")
    pn.panel(app).get_root(Document())
    assert app.tabs._names == list(PAGES.values())
    assert app.state.model == "tiny-atcat"
    app.tabs.active = list(PAGES).index("vetting")
    assert app.state.page == "vetting"
    app.state.inspect("296570")
    assert app.tabs.active == list(PAGES).index("inspect")


def test_pages_are_built_when_first_shown(models_dir, tmp_path):
    app = create_app(models_dir=models_dir, labels_url=tmp_path / "labels.db")
    assert list(app._views) == ["browse"]  # a new session builds only the page it shows
    assert app._pages["vetting"].objects == []
    app.tabs.active = list(PAGES).index("vetting")
    assert list(app._views) == ["browse", "vetting"]
    assert len(app._pages["vetting"].objects) == 1  # the view, now in its tab
    app.state.inspect("296570")  # a deep link or a click from another page builds its page
    assert "inspect" in app._views


def test_labels_survive_a_restart(tmp_path):
    path = tmp_path / "labels.db"
    first = create_app(labels_url=path)
    head = first.view("vetting").current()["object_id"]
    first.view("vetting").param.trigger("interesting")
    first.state.labels.close()
    loaders.open_label_store.clear()  # a new server process opens the store afresh

    second = create_app(labels_url=path)
    assert second.state.labels is not first.state.labels
    catalogue = second.state.catalog.name
    assert second.state.labels.label_of(head, catalogue=catalogue).label == "interesting"
    assert second.view("vetting").current()["object_id"] != head  # vetted: out of the queue


@pytest.mark.parametrize("bad", ["nowhere.parquet"])
def test_a_bad_catalogue_path_fails_at_once(bad, tmp_path):
    from engine.errors import InputError

    with pytest.raises(InputError):
        create_app(catalog_path=tmp_path / bad, labels_url=tmp_path / "l.db")


def test_health_of_a_model_that_does_not_classify(state, embed_only):
    other = AppState(catalog=state.catalog, labels=state.labels, models=[embed_only], page="health")
    text = _alert(HealthView(state=other)._view())
    assert "does not classify" in text and "catscope evaluate-embeddings" in text


def test_a_classifier_drives_the_views_by_default(state, embed_only):
    classifier = state.model_info
    mixed = AppState(catalog=state.catalog, labels=state.labels, models=[embed_only, classifier])
    assert mixed.model == classifier.name
    only_embeds = AppState(catalog=state.catalog, labels=state.labels, models=[embed_only])
    assert only_embeds.model == embed_only.name
