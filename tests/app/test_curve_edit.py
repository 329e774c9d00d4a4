"""What-if editing in the inspector, without a browser: the edit bar, the curve and the panels."""

from __future__ import annotations

import io

import holoviews as hv
import panel as pn
import param
import polars as pl
from bokeh.document import Document

from app.inspector import InspectorView
from app.model_views import ContinuationView, ProbabilityView, TimelineView
from engine.data.edit import CurveEdit
from engine.data.load import load
from tests.app.conftest import PERIODIC_ID


def _inspecting(state) -> InspectorView:
    state.inspect(PERIODIC_ID)
    return InspectorView(state=state)


def _drag(slider: pn.widgets.FloatSlider, value: float) -> None:
    """Release ``slider`` at ``value``, as a user's drag does (``value_throttled`` last)."""
    slider.value = value
    with param.edit_constant(slider):
        slider.value_throttled = value


def _bars(view: ProbabilityView) -> list[dict]:
    """Legend label and values of each bar glyph of the probabilities panel (ghost bars first)."""
    (figure,) = [p.object for p in view.content().select(pn.pane.Bokeh)]
    items = figure.legend[0].items if figure.legend else []
    labels = {item.renderers[0]: item.label["value"] for item in items}
    return [
        {"label": labels.get(r, ""), "values": r.data_source.data[r.glyph.right]}
        for r in figure.renderers
    ]


def test_hiding_selected_points_edits_the_session_not_the_catalogue(state, small_catalog):
    view = _inspecting(state)
    stored = small_catalog.get(PERIODIC_ID)
    n = stored["time"].list.len()[0]
    view._editor.select([0, 2, 2])
    assert view._editor.selected == [0, 2]
    view._editor._hide.clicks += 1
    assert state.edit.hidden == {0, 2} and view._editor.selected == []
    assert state.row(PERIODIC_ID)["time"].list.len()[0] == n - 2
    assert small_catalog.get(PERIODIC_ID).equals(stored)  # stored data unchanged
    assert "2 point(s) hidden" in view._editor._status.object
    plot = view._main().object
    assert "Edited light curve" in plot.opts.get().kwargs["title"]
    assert any(getattr(layer, "label", "").startswith("left out") for layer in plot)
    points, _ = view._panels["Periodogram"].compute()  # the periodogram follows the edit
    assert points.height == n - 2
    view._editor._reset.clicks += 1
    assert state.edit.is_empty


def test_the_probabilities_show_the_edit_and_ghost_bars_of_the_stored_curve(state):
    _inspecting(state)
    panel = ProbabilityView(state=state)
    assert len(_bars(panel)) == 1
    state.edit = CurveEdit().cut_at(float(state.catalog.get(PERIODIC_ID)["time"][0][5]))
    ghost, edited = _bars(panel)
    assert (ghost["label"], edited["label"]) == ("stored curve", "edited curve")
    assert ghost["values"] != edited["values"]
    text = panel.content().objects[0].object
    assert "Edited curve:" in text and "Stored curve:" in text
    timeline = TimelineView(state=state).content()
    assert "dotted lines: the stored curve" in timeline.objects[0].object
    state.object_id = "another"  # a new object starts unedited
    assert state.edit.is_empty


def test_the_domain_score_of_both_curves_is_shown(domain_state):
    _inspecting(domain_state)
    domain_state.edit = CurveEdit().hide(range(10))
    text = ProbabilityView(state=domain_state).content().objects[0].object
    assert text.count("Domain score") == 1 and "stored curve" in text


def test_continuations_of_a_cut_curve_show_what_was_really_observed(state):
    _inspecting(state)
    times = state.catalog.get(PERIODIC_ID)["time"][0].to_numpy()
    state.edit = CurveEdit().cut_at(float(times[len(times) // 2]))
    view = ContinuationView(state=state, n_samples=3, points_per_band=4, horizon=300)
    assert "of the edited curve" in view._output.objects[0].object  # sampled only on demand
    output = view.content()
    assert "Grey crosses: stored observations the edit leaves out" in output.objects[0].object
    (figure,) = [p.object for p in output.select(pn.pane.Bokeh)]
    (item,) = [i for i in figure.legend[0].items if i.label["value"] == "left out"]
    ghost_times = item.renderers[0].data_source.data["x"]
    assert len(ghost_times) and min(ghost_times) > state.edit.cut


def test_adding_a_point_by_the_form_in_flux_and_in_magnitudes(state):
    view = _inspecting(state)
    editor = view._editor
    last = float(state.catalog.get(PERIODIC_ID)["time"][0].max())
    editor._band.value, editor._time.value = "lsst_r", last + 3.0
    editor._value.value, editor._value_err.value = 500.0, 20.0
    editor._add.clicks += 1
    (point,) = state.edit.added
    assert (point.band, point.time, point.flux) == ("lsst_r", last + 3.0, 500.0)
    editor.unit = "mag"
    assert editor._value.label == "Magnitude (AB)"
    editor.fill(last + 4.0, 20.0)
    editor._value_err.value = 0.1
    editor._add.clicks += 1
    assert round(state.edit.added[1].flux) == 1000
    assert state.row(PERIODIC_ID)["time"][0].to_list()[-2:] == [last + 3.0, round(last + 4.0, 2)]
    assert any(layer.label == "hypothetical" for layer in view._main().object)


def test_bad_input_is_refused_with_a_message_and_the_edit_kept(state):
    view = _inspecting(state)
    editor = view._editor
    editor._value.value, editor._value_err.value = 100.0, -1.0
    editor._add.clicks += 1
    assert editor._error.visible and "flux error must be positive" in editor._error.object
    assert state.edit.is_empty
    editor._cut.param.trigger("value_throttled")  # at the end: no cut
    assert state.edit.cut is None
    first = float(state.catalog.get(PERIODIC_ID)["time"][0][0])
    _drag(editor._cut, first - 1.0)
    assert "leaves no points" in editor._error.object and state.edit.cut is None
    assert editor._cut.value == editor._cut.end  # the slider went back
    _drag(editor._cut, first + 30.0)
    assert state.edit.cut == first + 30.0 and not editor._error.visible


def test_the_edited_curve_exports_as_long_points(state, tmp_path):
    view = _inspecting(state)
    state.edit = CurveEdit().hide([0, 1, 2])
    n = state.catalog.get(PERIODIC_ID)["time"].list.len()[0]
    exported = pl.read_csv(view._editor.export("csv"), schema_overrides={"object_id": pl.String})
    assert exported.height == n - 3 and exported["object_id"].unique().to_list() == [PERIODIC_ID]
    parquet = pl.read_parquet(io.BytesIO(view._editor.export("parquet").read()))
    assert parquet.columns == exported.columns
    assert view._editor._downloads.objects[0].filename == f"{PERIODIC_ID}-edited.csv"
    path = tmp_path / "edited.csv"
    path.write_bytes(view._editor.export("csv").read())
    (ingested,) = load(path).table.iter_rows(named=True)  # readable as any light curve file
    assert len(ingested["time"]) == n - 3


def test_a_selection_on_the_plot_reaches_the_editor(state):
    view = _inspecting(state)
    pane = view._main()
    pane.get_root(Document())
    markers = next(layer for layer in pane.object if "point" in layer.dimensions(label="name"))
    streams = hv.streams.Stream.registry.get(markers, [])
    (stream,) = (s for s in streams if isinstance(s, hv.streams.Selection1D))
    stream.event(index=[0, 1])
    expected = sorted(markers.data["point"].to_numpy()[[0, 1]].tolist())
    assert view._editor.selected == expected
    (tap,) = (s for s in streams if isinstance(s, hv.streams.DoubleTap))
    tap.event(x=60000.123, y=432.1)  # a double-click fills the new point's time and flux
    assert (view._editor._time.value, view._editor._value.value) == (60000.12, 432.1)
    pn.panel(view).get_root(Document())  # the whole page renders with the bar
