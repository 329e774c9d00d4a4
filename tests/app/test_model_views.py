"""Inspector panels that need a model, driven with a tiny ATCAT of random weights."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import pytest
from bokeh.models import Image, MultiLine

from app.model_views import (
    OUT_OF_DOMAIN,
    AttentionView,
    ContinuationView,
    ProbabilityView,
    TimelineView,
    match_times,
)
from app.state import NO_MODEL, AppState
from app.text import markdown
from engine.errors import InvalidValueError
from tests.app.conftest import PERIODIC_ID, run_handler


def _alert(viewable) -> str:
    alerts = [str(a.object) for a in viewable.select(pn.pane.Alert)]
    return alerts[0] if alerts else ""


def _plots(viewable) -> list:
    """HoloViews elements and Bokeh figures of ``viewable``, in order."""
    return [
        p.object
        for p in viewable.select(lambda o: isinstance(o, pn.pane.HoloViews | pn.pane.Bokeh))
    ]


@pytest.mark.parametrize(
    "view_class", [ProbabilityView, TimelineView, AttentionView, ContinuationView]
)
def test_without_a_model_every_panel_says_so(bare_state, view_class):
    bare_state.object_id = PERIODIC_ID
    view = view_class(state=bare_state)
    assert "No model loaded" in _alert(view.content())


@pytest.mark.parametrize(
    ("view_class", "capability"),
    [(ProbabilityView, "classify"), (AttentionView, "attention"), (ContinuationView, "generate")],
)
def test_a_model_without_the_capability_is_named(
    small_catalog, labels, embed_only, view_class, capability
):
    state = AppState(
        catalog=small_catalog, labels=labels, models=[embed_only], object_id=PERIODIC_ID
    )
    assert f"Model 'embedder' cannot {capability}" in _alert(view_class(state=state).content())


def test_no_object_asks_for_one(state):
    assert "Pick an object" in _alert(ProbabilityView(state=state).content())


def test_probabilities_cover_every_class_and_the_unsure_share(state):
    state.object_id = PERIODIC_ID
    output = ProbabilityView(state=state).content()
    (figure,) = _plots(output)
    (bars,) = figure.renderers  # no ghost bars for a curve as stored
    classes, probability = bars.data_source.data["class"], bars.data_source.data["probability"]
    assert "(unsure)" in classes and set(classes) - {"(unsure)"} == set(state.catalog.classes())
    assert sum(probability) == pytest.approx(1.0, abs=1e-4)
    assert classes[0] == "(unsure)" and probability[-1] == max(probability[1:])  # top: likeliest
    assert "Predicted **" in output.objects[0].object


@pytest.mark.parametrize("view_class", [ProbabilityView, TimelineView])
def test_an_out_of_domain_object_gets_the_warning_and_an_in_domain_one_none(
    domain_state, view_class
):
    domain_state.object_id = f"far-{PERIODIC_ID}"
    output = view_class(state=domain_state).content()
    warning = _alert(output)
    assert warning.startswith(f"**{OUT_OF_DOMAIN}:**")
    # the reason, escaped for Markdown (it names the user's band)
    assert markdown("bands outside the trained wavelengths 3304-12623 Å: w (20000 Å)") in warning
    assert _plots(output)
    domain_state.object_id = PERIODIC_ID
    output = view_class(state=domain_state).content()
    assert _alert(output) == "" and _plots(output)


def test_without_a_domain_reference_there_is_no_warning(state, small_catalog):
    from tests.app.conftest import far_band

    state.catalog = small_catalog.add(far_band(small_catalog.get(PERIODIC_ID)), source="far.csv")
    state.object_id = f"far-{PERIODIC_ID}"
    assert _alert(ProbabilityView(state=state).content()) == ""


def test_a_fixed_object_overrides_the_inspector(state):
    state.object_id = ""
    view = ProbabilityView(state=state, object_id=PERIODIC_ID)
    assert _plots(view.content())


def test_timeline_draws_the_top_classes_and_unsure(state):
    state.object_id = PERIODIC_ID
    view = TimelineView(state=state, top=3)
    (figure,) = _plots(view.content())
    labels = [item.label["value"] for item in figure.legend[0].items]
    assert len(labels) == 4 and labels[-1] == "unsure"
    assert figure.legend[0] in figure.right  # beside the curves, never over them


def test_attention_clips_layer_and_head_and_highlights_seen_points(state):
    state.object_id = PERIODIC_ID
    view = AttentionView(state=state, layer=9, head=9)
    heat, curve = _plots(view.content())
    assert "Layer 1, head 1" in heat.title.text
    (image,) = heat.renderers
    assert isinstance(image.glyph, Image)
    assert image.data_source.data["image"][0].shape == (49, 49)  # metadata token + 48 points
    weights = np.concatenate(
        [s.dimension_values("weight") for s in curve if isinstance(s, hv.Scatter)]
    )
    n_points = state.catalog.points(PERIODIC_ID).height
    assert weights.size == n_points  # every point drawn once (detections + non-detections)
    assert 0 < (weights > 0).sum() <= 48  # the model sees at most max_points of them
    assert weights.max() == pytest.approx(1.0)


def test_match_times_maps_a_subsample_in_order():
    points = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    np.testing.assert_array_equal(match_times(points, np.array([2.0, 2.0, 5.0])), [1, 2, 4])
    with pytest.raises(InvalidValueError, match="MJD 4"):
        match_times(points, np.array([4.0]))


def test_continuation_grid_and_generation(state):
    state.object_id = PERIODIC_ID
    view = ContinuationView(state=state, horizon=30, points_per_band=3, n_samples=4)
    assert view.bands == ["lsst_g"] and "lsst_y" in view.param.bands.objects
    view.bands = ["lsst_g", "lsst_r"]
    times, bands = view.future(100.0)
    np.testing.assert_allclose(times, [110, 110, 120, 120, 130, 130])
    assert sorted(bands[:2]) == ["lsst_g", "lsst_r"]
    assert "press Generate" in _alert(view._output)

    run_handler(view._generate())
    figures = _plots(view._output)
    assert len(figures) == 2 and not view._output.loading
    assert "Sampled 4 futures" in view._output.objects[0].objects[0].object
    (paths,) = [r for r in figures[0].renderers if isinstance(r.glyph, MultiLine)]
    assert len(paths.data_source.data["ys"]) == 4
    assert all(len(p) == 3 for p in paths.data_source.data["ys"])

    state.object_id = state.catalog.table["object_id"][0]  # a new object resets the panel
    assert "press Generate" in _alert(view._output)


def test_switching_to_no_model_blocks_generation(state):
    state.object_id = PERIODIC_ID
    view = ContinuationView(state=state)
    state.model = NO_MODEL
    run_handler(view._generate())
    assert "No model loaded" in _alert(view._output)
