"""Inspect page: one object's light curve, periodogram and phase fold, and the model panels."""

from __future__ import annotations

from urllib.parse import quote

import holoviews as hv
import panel as pn
import param
import polars as pl

from app import plots
from app.curve_edit import CurveEditView
from app.model_views import (
    AttentionView,
    ContinuationView,
    ProbabilityView,
    TimelineView,
    message,
)
from app.neighbours import NeighboursView
from app.plan_view import PlanView
from app.state import HIDDEN, AppState
from app.text import markdown
from engine.catalog import UnknownObjectError, with_magnitudes
from engine.data.edit import CurveEdit
from engine.errors import CatscopeError
from engine.periodogram import MIN_PERIOD, Periodogram, lomb_scargle, phase_fold

ALL_BANDS = "all bands"


@pn.cache(max_items=64)
def _periodogram(time, flux, flux_err, band, min_period: float) -> Periodogram:
    return lomb_scargle(time, flux, flux_err, band, min_period=min_period)


def light_curve_pane(points: pl.DataFrame, *, unit: str, title: str) -> pn.pane.HoloViews:
    """Draw the multi-band light curve of ``points`` in a stretching pane."""
    return plots.figure(plots.light_curve(points, unit=unit, title=title))


def edited_curve_pane(
    points: pl.DataFrame, edit: CurveEdit, editor: CurveEditView, *, unit: str
) -> pn.pane.HoloViews:
    """Draw the light curve under ``edit``; selections and double-clicks go to ``editor``.

    The streams only set the editor's parameters (no redraw from inside a stream callback).
    """
    left_out = edit.left_out(points["time"].to_numpy())
    added = with_magnitudes(edit.added_points())
    title = (
        "Light curve (hollow: not detected)"
        if edit.is_empty
        else "Edited light curve, not saved (× left out, ★ hypothetical, hollow: not detected)"
    )
    overlay, markers = plots.edited_light_curve(
        points, left_out=left_out, added=added, cut=edit.cut, unit=unit, title=title
    )
    point = markers.data["point"].to_numpy()  # marker row -> index among the observations
    selection = hv.streams.Selection1D(source=markers)
    selection.add_subscriber(lambda index: editor.select(point[index]))
    double_tap = hv.streams.DoubleTap(source=markers, x=None, y=None)
    double_tap.add_subscriber(editor.fill)
    return plots.figure(overlay)


class PeriodogramView(pn.viewable.Viewer):
    """Lomb-Scargle periodogram of the inspected object (all bands or one) and the folded curve."""

    state = param.ClassSelector(class_=AppState)
    band = param.Selector(objects=[ALL_BANDS], default=ALL_BANDS, doc="Band(s) searched.")
    min_period = param.Number(
        default=MIN_PERIOD, bounds=(0.01, 1000), doc="Shortest period (days)."
    )
    shown = param.Boolean(
        default=True, doc="Whether the panel is on screen; hidden ones do not compute."
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._sync_bands()

    @param.depends("state.object_id", "state.catalog", watch=True)
    def _sync_bands(self) -> None:
        try:
            bands = (
                self.state.catalog.points(self.state.object_id)["band"].unique().sort().to_list()
            )
        except UnknownObjectError:
            bands = []
        self.param.band.objects = [ALL_BANDS, *bands]
        if self.band not in self.param.band.objects:
            self.band = ALL_BANDS

    def compute(self) -> tuple[pl.DataFrame, Periodogram]:
        """Points used (of the what-if edited curve) and their periodogram."""
        points = self.state.points(self.state.object_id)
        if self.band != ALL_BANDS:
            points = points.filter(pl.col("band") == self.band)
        result = _periodogram(
            points["time"].to_numpy(),
            points["flux"].to_numpy(),
            points["flux_err"].to_numpy(),
            points["band"].to_numpy(),
            float(self.min_period),
        )
        return points, result

    @param.depends("band", "min_period", "shown", "state.object_id", "state.catalog", "state.edit")
    def _plots(self) -> pn.viewable.Viewable:
        if not self.shown:
            return HIDDEN
        if not self.state.object_id:
            return message("Pick an object first.")
        try:
            points, result = self.compute()
        except (CatscopeError, UnknownObjectError) as exc:
            return message(f"No periodogram: {markdown(exc)}", "warning")
        period = result.best_period
        phase = phase_fold(points["time"].to_numpy(), period)
        return pn.Column(
            pn.pane.Markdown(
                f"Best period **{period:.5g} days** (power {result.best_power:.2f}, bands: "
                f"{markdown(', '.join(result.bands))}). Periods are meaningful for periodic "
                "objects (variable stars, binaries); for transients the peak is just the best "
                "sinusoid."
            ),
            plots.figure(plots.periodogram(result.period, result.power, best=period)),
            plots.figure(plots.phase_folded(points, phase, period=period)),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(
            pn.widgets.Select.from_param(self.param.band, width=160),
            pn.widgets.FloatInput.from_param(self.param.min_period, width=160, step=0.05),
        )
        return pn.Column(
            controls, pn.panel(self._plots, loading_indicator=True), sizing_mode="stretch_width"
        )


class InspectorView(pn.viewable.Viewer):
    """Everything about one object: light curve, periodogram, and what the model says."""

    state = param.ClassSelector(class_=AppState)
    unit = param.Selector(
        objects=["flux", "mag"], default="flux", doc="Flux (FLUXCAL) or AB magnitude."
    )
    catalog_dir = param.String(
        default=None, allow_None=True, doc="Catalogue folder with FAISS indexes (neighbours)."
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._go_to = pn.widgets.TextInput(
            label="Object id",
            placeholder="type an id and press Enter",
            value=self.state.object_id,
            width=240,
        )
        self._go_to.param.watch(
            lambda e: self.state.inspect(e.new.strip()) if e.new.strip() else None, "value"
        )
        self.state.param.watch(lambda e: setattr(self._go_to, "value", e.new), "object_id")
        # built hidden: a panel computes once its tab is shown (_show_active), so opening the
        # page runs one panel's model work, not every panel's
        hidden = {"state": self.state, "shown": False}
        self._panels = {
            "Periodogram": PeriodogramView(**hidden),
            "Probabilities": ProbabilityView(**hidden),
            "Timeline": TimelineView(**hidden),
            "Attention": AttentionView(**hidden),
            "Continuations": ContinuationView(**hidden),
            "Observe next": PlanView(**hidden),
        }
        self._neighbours = NeighboursView(**hidden, catalog_dir=self.catalog_dir)
        self._editor = CurveEditView(state=self.state)
        self.param.watch(lambda e: setattr(self._editor, "unit", e.new), "unit")
        # not dynamic (see app.main.Explorer); hidden panels skip their work through `shown`
        self._tabs = pn.Tabs(
            *self._panels.items(), ("Neighbours", self._neighbours), sizing_mode="stretch_width"
        )
        self._tabs.param.watch(self._show_active, "active")
        self.state.param.watch(self._show_active, "page")
        self._show_active()

    def _show_active(self, *_) -> None:
        """Let only the panel of the active tab compute, and only while this page is on screen."""
        on_screen = self.state.on_screen("inspect")
        for index, panel in enumerate([*self._panels.values(), self._neighbours]):
            panel.shown = on_screen and index == self._tabs.active

    def header(self) -> str:
        """Markdown line about the object: id, known label, points, span and deep link."""
        info = self.state.catalog.describe(self.state.object_id)
        label = markdown(info["label"] or "unknown")
        return (
            f"### Object {markdown(info['object_id'])}\n"
            f"Known class: **{label}** · {info['n_points']} points "
            f"({info['n_detected']} detected) in bands {markdown(info['bands'])} over "
            f"{info['span_days']:.0f} days · source: {markdown(info['source'])} · "
            f"[link to this view](?object={quote(info['object_id'], safe='')})"
        )

    @param.depends("state.object_id", "state.catalog", "state.page")
    def _header(self) -> pn.viewable.Viewable:
        if not self.state.on_screen("inspect"):
            return HIDDEN
        if not self.state.object_id:
            return message("Pick an object on the Browse page, or type its id above.")
        try:
            return pn.pane.Markdown(self.header())
        except UnknownObjectError as exc:
            return message(markdown(exc), "warning")

    @param.depends("unit", "state.object_id", "state.catalog", "state.page", "state.edit")
    def _main(self) -> pn.viewable.Viewable:
        """Draw the (edited) light curve; the header is drawn apart, so an edit does not redo it."""
        if not self.state.on_screen("inspect") or not self.state.object_id:
            return HIDDEN
        try:
            points = self.state.catalog.points(self.state.object_id)
        except UnknownObjectError:
            return HIDDEN  # the header says so
        return edited_curve_pane(points, self.state.edit, self._editor, unit=self.unit)

    @param.depends("state.object_id", "state.catalog", "state.page")
    def _edit_bar(self) -> pn.viewable.Viewable:
        if not self.state.on_screen("inspect") or not self.state.object_id:
            return HIDDEN
        try:
            self.state.catalog.get(self.state.object_id)
        except UnknownObjectError:
            return HIDDEN
        return self._editor

    def __panel__(self) -> pn.viewable.Viewable:
        unit = pn.widgets.RadioButtonGroup.from_param(self.param.unit, color="default")
        return pn.Column(
            pn.Row(self._go_to, unit, align="end"),
            pn.panel(self._header),
            pn.panel(self._main, loading_indicator=True),
            pn.panel(self._edit_bar),
            self._tabs,
            sizing_mode="stretch_width",
        )
