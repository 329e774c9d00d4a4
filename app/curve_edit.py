"""What-if editing bar of the inspector: hide points, cut the curve at a time, add a point.

The edit is session state (:attr:`app.state.AppState.edit`, an immutable
:class:`~engine.data.edit.CurveEdit`); the stored catalogue never changes. Every model panel of
the inspector reads the edited curve and draws the stored one beside it. An edit that would
leave no point, or a point the engine refuses, is not applied: the bar says why.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np
import panel as pn
import param
import polars as pl

from app.export import download_buttons, table_bytes
from app.state import AppState
from app.text import markdown
from engine.catalog import UnknownObjectError
from engine.data.bands import BandRegistry
from engine.data.edit import CurveEdit, hypothetical_point
from engine.data.schema import POINT_COLUMNS
from engine.errors import CatscopeError

UNEDITED = (
    "**What if?** Select points on the light curve (click, or drag the box-select tool) and "
    "press *Hide selected*; move the slider to see what the model thought on that day; or add "
    "a hypothetical observation (double-click the plot to fill its time and brightness). "
    "Nothing is saved: the catalogue stays as it is."
)


def _file_safe(text: str, limit: int = 60) -> str:
    """``text`` with every character but letters, digits, ``.`` and ``-`` made ``_``."""
    return re.sub(r"[^\w.-]", "_", text)[:limit]


class CurveEditView(pn.viewable.Viewer):
    """Controls that change :attr:`AppState.edit` for the inspected object, and its export."""

    state = param.ClassSelector(class_=AppState)
    selected = param.List(default=[], item_type=int, doc="Indices of the selected points.")
    unit = param.Selector(objects=["flux", "mag"], default="flux", doc="Unit of the new point.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._status = pn.pane.Markdown(UNEDITED, sizing_mode="stretch_width")
        self._error = pn.pane.Alert("", alert_type="danger", visible=False)
        self._hide = pn.widgets.Button(label="Hide selected", disabled=True, width=140)
        self._reset = pn.widgets.Button(
            label="Reset: show the stored curve", color="primary", disabled=True, width=230
        )
        self._cut = pn.widgets.FloatSlider(
            label="Use observed points up to MJD", start=0.0, end=1.0, step=0.01, width=420
        )
        self._band = pn.widgets.Select(label="Band", width=110)
        self._time = pn.widgets.FloatInput(label="Time (MJD)", width=130)
        self._value = pn.widgets.FloatInput(label="Flux (FLUXCAL)", width=130)
        self._value_err = pn.widgets.FloatInput(label="Error", value=None, width=100)
        self._add = pn.widgets.Button(label="Add point", width=110)
        self._downloads = pn.Row()
        self._bands: dict[str, float] = {}
        self._hide.on_click(lambda _: self._try(self.state.edit.hide(self.selected)))
        self._reset.on_click(lambda _: self._try(CurveEdit()))
        self._add.on_click(lambda _: self._add_point())
        self._cut.param.watch(self._on_cut, "value_throttled")
        self._sync_object()

    def _row(self) -> pl.DataFrame | None:
        try:
            return self.state.catalog.get(self.state.object_id)
        except UnknownObjectError:
            return None

    @param.depends("state.object_id", "state.catalog", watch=True)
    def _sync_object(self) -> None:
        """Bounds of the cut slider, the band choices and the export for a new object."""
        self.selected = []
        row = self._row()
        if row is None:
            return
        times = row["time"][0].to_numpy()
        names, wavelengths = row["band"][0].to_list(), row["wavelength"][0].to_list()
        self._bands = dict(zip(names, wavelengths, strict=True))
        bands = list(self._bands)
        start, end = float(times.min()), float(times.max())
        self._cut.param.update(start=start, end=max(end, start + 0.01), value=end)
        others = [b for b in BandRegistry().known_names if b not in bands]
        self._band.param.update(options=[*sorted(bands), *others], value=sorted(bands)[0])
        self._time.value = round(end + 1.0, 2)
        self._downloads.objects = download_buttons(
            self.export, stem=f"{_file_safe(self.state.object_id)}-edited", what="edited curve"
        ).objects
        self._show_edit()

    @param.depends("state.edit", "selected", watch=True)
    def _show_edit(self) -> None:
        edit = self.state.edit
        self._hide.label = f"Hide selected ({len(self.selected)})"
        self._hide.disabled = not self.selected
        self._reset.disabled = edit.is_empty
        if edit.cut is None and self._cut.value != self._cut.end:
            self._cut.value = self._cut.end
        self._status.object = (
            UNEDITED
            if edit.is_empty
            else f"**Edited curve (not saved):** {edit.describe()}. The panels below show the "
            "edited curve; grey bars and dotted lines show the stored curve. "
            "Press *Reset* to go back to it."
        )

    @param.depends("unit", watch=True)
    def _label_value(self) -> None:
        self._value.label = "Magnitude (AB)" if self.unit == "mag" else "Flux (FLUXCAL)"

    def _try(self, edit: CurveEdit) -> None:
        """Apply ``edit`` if the edited curve can be built, else say why and keep the old one."""
        try:
            row = self._row()
            if row is not None:
                edit.apply(row)
        except CatscopeError as exc:
            self._fail(exc)
            return
        self._error.visible = False
        self.selected = []
        self.state.edit = edit

    def _fail(self, exc: Exception) -> None:
        self._error.object = f"Edit not applied: {markdown(exc)}"
        self._error.visible = True

    def _on_cut(self, event) -> None:
        cut = None if event.new is None or event.new >= self._cut.end else float(event.new)
        self._try(self.state.edit.cut_at(cut))
        if self.state.edit.cut != cut:  # refused: the slider goes back to the edit's cut
            self._cut.value = self._cut.end if self.state.edit.cut is None else self.state.edit.cut

    def _add_point(self) -> None:
        brightness = (
            {"mag": self._value.value, "mag_err": self._value_err.value}
            if self.unit == "mag"
            else {"flux": self._value.value, "flux_err": self._value_err.value}
        )
        try:
            point = hypothetical_point(
                self._time.value, self._band.value, bands=self._bands, **brightness
            )
        except CatscopeError as exc:
            self._fail(exc)
            return
        self._try(self.state.edit.add(point))

    def select(self, indices: Sequence[int]) -> None:
        """Remember the points selected on the plot (indices among the object's observations)."""
        self.selected = sorted({int(i) for i in indices})

    def fill(self, x: float | None, y: float | None) -> None:
        """Fill the new point's time (``x``) and brightness (``y``) from a double-click."""
        if x is None or y is None or not np.isfinite([x, y]).all():
            return
        self._time.value = round(float(x), 2)
        self._value.value = round(float(y), 2 if self.unit == "mag" else 1)

    def export(self, suffix: str) -> io.BytesIO:
        """Return the edited curve as long points (``object_id`` + point columns) to download."""
        points = self.state.points(self.state.object_id).select(POINT_COLUMNS)
        object_id = pl.lit(self.state.object_id).alias("object_id")
        return table_bytes(points.select(object_id, *POINT_COLUMNS), suffix)

    def __panel__(self) -> pn.viewable.Viewable:
        unit = pn.widgets.RadioButtonGroup.from_param(self.param.unit, color="default", width=110)
        return pn.Card(
            self._status,
            pn.Row(self._hide, self._cut, self._reset),
            pn.Row(self._band, self._time, unit, self._value, self._value_err, self._add),
            self._error,
            self._downloads,
            title="What-if editing",
            collapsible=False,
            sizing_mode="stretch_width",
        )
