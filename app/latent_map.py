"""Map page: the chosen model's UMAP of the catalogue, as markers or drawn with datashader.

Up to :data:`PLAIN_LIMIT` objects the map is plain markers whose size follows the number of
points (:func:`marker_size`), selectable with the box and lasso (``Selection1D``). Beyond, as
datashader's documentation advises, the map is rasterised on the server (``datashade`` for
classes, ``rasterize`` for numbers, then ``dynspread``) so it stays smooth at a million points,
and only the box is offered, answered by a bounds query on the coordinates (``BoundsXY``).
Either way the data range is padded and the legend sits outside the plot area. Selections fill
a table that exports as CSV or Parquet; a click inspects the nearest object.

Traps found: the click is answered on the next tick of the document
(``add_next_tick_callback``): changing the page from inside a stream callback of a served app
raised ``_pending_writes should be non-None`` (see the project's stack notes).
"""

from __future__ import annotations

import io

import colorcet
import datashader as ds
import holoviews as hv
import numpy as np
import panel as pn
import param
import polars as pl
from holoviews.operation.datashader import datashade, dynspread, rasterize

from app.browse import rounded
from app.export import download_buttons, table_bytes
from app.model_views import message
from app.state import HIDDEN, NO_MODEL, AppState
from app.text import markdown, plot_title
from engine.catalog import Catalog
from engine.text import printable

#: most objects drawn as plain markers (selectable by box and lasso); beyond, datashader draws
#: the map and only the box selects (datashader's advice: rasterise from ~50k points)
PLAIN_LIMIT = 50_000
#: marker diameter (px) at 1,000 objects; it scales as n^-1/4 between the bounds below
_MARKER_AT_1K = 7.0
_MARKER_BOUNDS = (2.0, 10.0)
#: colour-by choice -> summary column (``anomaly score`` uses the chosen scorer's column)
COLOUR_COLUMNS = {
    "label": "label",
    "predicted class": "pred_class",
    "confidence": "confidence",
    "anomaly score": None,
}
UNKNOWN = "(unknown)"
_TABLE_COLUMNS = ("object_id", "label", "pred_class", "confidence", "x", "y")
#: padding: a share of the data range left free around the points, so no cluster is clipped
_MAP_OPTS = {"responsive": True, "height": 560, "xaxis": None, "yaxis": None, "padding": 0.05}


def _spread(image: hv.Element) -> hv.Element:
    """Grow isolated pixels into dots up to 4 px wide, so sparse maps stay visible.

    A high threshold keeps spreading until most filled pixels touch: a map of a thousand
    objects gets readable dots, a million-point map stays as sharp as its density allows.
    """
    return dynspread(image, threshold=0.9, max_px=4)


def marker_size(n: int) -> float:
    """Marker diameter (px) for ``n`` points: big enough to see alone, small enough not to merge.

    A map's area is fixed, so the room per point falls as 1/n; a diameter falling as n^-1/4 (a
    compromise between constant size, which merges dense maps, and n^-1/2, which makes 1,000
    points dots) keeps both a 40-object upload and 50k objects readable.
    """
    low, high = _MARKER_BOUNDS
    return float(np.clip(_MARKER_AT_1K * (1000 / max(n, 1)) ** 0.25, low, high))


class LatentMapView(pn.viewable.Viewer):
    """UMAP scatter of the catalogue, coloured by a chosen column, with selection and export."""

    state = param.ClassSelector(class_=AppState)
    colour_by = param.Selector(objects=list(COLOUR_COLUMNS), default="label", doc="Colour by.")
    scorer = param.Selector(objects=[], doc="Anomaly scorer used when colouring by anomaly score.")
    selected = param.List(default=[], item_type=str, doc="Object ids selected on the map.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._table = pn.widgets.Tabulator(
            disabled=True,
            show_index=False,
            selectable=False,
            pagination="remote",
            page_size=12,
            sizing_mode="stretch_width",
        )
        self._table.on_click(
            lambda event: self.state.inspect(self._table.value.iloc[event.row]["object_id"])
        )
        self._count = pn.pane.Markdown(margin=(0, 10))
        self._frame: tuple[Catalog | None, str | None, pl.DataFrame] = (None, None, pl.DataFrame())
        self.streams: dict[str, hv.streams.Stream] = {}
        self._update_options()
        self._show_selection()

    def model(self) -> str | None:
        """Chosen model, ``None`` without one."""
        return None if self.state.model == NO_MODEL else self.state.model

    @param.depends("state.catalog", "state.model", watch=True)
    def _update_options(self) -> None:
        products = self.state.catalog.products.get(self.model())
        scorers = products.anomaly_scorers if products is not None else []
        if self.scorer not in scorers:
            self.scorer = scorers[0] if scorers else None
        self.param.scorer.objects = scorers  # after: setting None to an empty Selector adds it
        self.selected = []

    def frame(self) -> pl.DataFrame:
        """``object_id, x, y`` of the mapped objects with the browse summary columns joined on.

        Empty when the chosen model has no map in this catalogue. Built once per catalogue and
        model (catalogues are immutable): selections and clicks on a million points reuse it.
        """
        catalog, model, _ = self._frame
        if catalog is not self.state.catalog or model != self.model():
            self._frame = (self.state.catalog, self.model(), self._build_frame())
        return self._frame[2]

    def _build_frame(self) -> pl.DataFrame:
        products = self.state.catalog.products.get(self.model())
        if products is None or products.umap is None:
            return pl.DataFrame(schema={"object_id": pl.String, "x": pl.Float64, "y": pl.Float64})
        summary = self.state.catalog.summary(self.model())
        return products.umap.select("object_id", pl.col("x", "y").cast(pl.Float64)).join(
            summary, on="object_id", how="inner", maintain_order="left"
        )

    def colour_column(self) -> str | None:
        """Summary column the map is coloured by, or ``None`` if the catalogue lacks it."""
        column = COLOUR_COLUMNS[self.colour_by]
        if column is None:
            column = f"anomaly_{self.scorer}" if self.scorer else None
        return column if column in self.frame().columns else None

    # -- selection ---------------------------------------------------------------------------
    def select_indices(self, index: list[int]) -> None:
        """Select the objects at rows ``index`` of :meth:`frame` (from the Points layer)."""
        ids = self.frame()["object_id"]
        self.selected = ids.gather(sorted(int(i) for i in index)).to_list() if index else []

    def select_bounds(self, bounds: tuple[float, float, float, float] | None) -> None:
        """Select the objects inside ``(left, bottom, right, top)`` in map coordinates."""
        if bounds is None:
            self.selected = []
            return
        left, bottom, right, top = bounds
        inside = self.frame().filter(
            pl.col("x").is_between(min(left, right), max(left, right))
            & pl.col("y").is_between(min(bottom, top), max(bottom, top))
        )
        self.selected = inside["object_id"].to_list()

    def nearest(self, x: float, y: float) -> str | None:
        """Return the id of the mapped object nearest to ``(x, y)``, ``None`` on an empty map."""
        frame = self.frame()
        if frame.height == 0:
            return None
        distance = (frame["x"].to_numpy() - x) ** 2 + (frame["y"].to_numpy() - y) ** 2
        return frame["object_id"][int(np.argmin(distance))]

    def _on_tap(self, x: float | None, y: float | None) -> None:
        object_id = None if x is None or y is None else self.nearest(x, y)
        if object_id is None:
            return
        document = pn.state.curdoc
        if document is not None and document.session_context is not None:
            document.add_next_tick_callback(lambda: self.state.inspect(object_id))
        else:
            self.state.inspect(object_id)

    def selection(self) -> pl.DataFrame:
        """Return the selected objects' rows of :meth:`frame` (table columns only)."""
        frame = self.frame().filter(pl.col("object_id").is_in(self.selected))
        return frame.select(c for c in _TABLE_COLUMNS if c in frame.columns)

    @param.depends("selected", watch=True)
    def _show_selection(self) -> None:
        chosen = self.selection()
        self._table.value = rounded(chosen, ["confidence"]).to_pandas()
        self._count.object = (
            f"**{chosen.height:,}** objects selected. Click a row to inspect it."
            if chosen.height
            else "Select objects with the box or lasso tool; click a point to inspect it."
        )

    def export(self, suffix: str) -> io.BytesIO:
        """Return the selected objects' table as CSV or Parquet bytes (``suffix``)."""
        return table_bytes(self.selection(), suffix)

    # -- drawing -----------------------------------------------------------------------------
    def _palette(self, points: hv.Points, key: str) -> dict[str, str]:
        categories = sorted(points.data[key].cat.categories)
        palette = dict(zip(categories, colorcet.palette["glasbey_category10"], strict=False))
        palette[UNKNOWN] = "#b0b0b0"
        return palette

    def _image(self, points: hv.Points, column: str | None, frame: pl.DataFrame) -> hv.Element:
        """Datashaded image of ``points``: categories as colours, numbers through a colour map."""
        if column is None or not frame.schema[column].is_numeric():
            key = column or "_all"
            palette = self._palette(points, key)
            image = datashade(points, aggregator=ds.count_cat(key), color_key=palette)
            return _spread(image)  # HoloViews adds the legend
        image = rasterize(points, aggregator=ds.mean(column)).opts(
            cmap="viridis", colorbar=True, clabel=self.colour_by, tools=["hover"]
        )
        return _spread(image)

    def _markers(self, points: hv.Points, column: str | None, frame: pl.DataFrame) -> hv.Points:
        """``points`` as plain, selectable markers sized for their number (small catalogues)."""
        key = column or "_all"
        if column is not None and frame.schema[column].is_numeric():
            colours = {"cmap": "viridis", "colorbar": True, "clabel": self.colour_by}
        else:
            colours = {"cmap": self._palette(points, key), "show_legend": column is not None}
        return points.opts(
            color=key,
            size=marker_size(frame.height),
            line_width=0,
            nonselection_alpha=0.25,
            selection_color="black",
            tools=["box_select", "lasso_select", "hover"],
            active_tools=["box_select", "wheel_zoom"],
            **colours,
        )

    def _points(self, frame: pl.DataFrame, column: str | None) -> hv.Points:
        data = frame.to_pandas()  # datashader takes pandas, not polars
        if column is None:
            data["_all"] = "object"
            column = "_all"
        if not frame.schema.get(column, pl.String).is_numeric():
            # legend entries: HoloViews names each category by its characters and fails on
            # control characters (unicodedata has no name for ESC)
            data[column] = data[column].fillna(UNKNOWN).map(printable).astype("category")
        return hv.Points(data, ["x", "y"], ["object_id", column])

    @param.depends("colour_by", "scorer", "state.catalog", "state.model", "state.page")
    def _plot(self) -> pn.viewable.Viewable:
        if not self.state.on_screen("map"):
            return HIDDEN
        frame = self.frame()
        if frame.height == 0:
            return message(
                f"No map: model {markdown(repr(self.state.model))} has no UMAP coordinates in "
                "this catalogue (build one with 'catscope index')."
            )
        column = self.colour_column()
        points = self._points(frame, column)
        if frame.height <= PLAIN_LIMIT:
            layer = plot = self._markers(points, column, frame)
            self.streams = {"select": hv.streams.Selection1D(source=layer)}
            self.streams["select"].add_subscriber(lambda index: self.select_indices(index))
        else:
            layer = points.iloc[:0].opts(
                show_legend=False, tools=["box_select"], active_tools=["box_select"]
            )
            plot = self._image(points, column, frame) * layer
            self.streams = {"bounds": hv.streams.BoundsXY(source=layer)}
            self.streams["bounds"].add_subscriber(lambda bounds: self.select_bounds(bounds))
        self.streams["tap"] = hv.streams.Tap(source=layer, x=None, y=None)
        self.streams["tap"].add_subscriber(self._on_tap)
        title = f"UMAP of {frame.height:,} objects, model {self.state.model}"
        return pn.pane.HoloViews(
            # "right" is outside the plot area, so the legend never hides a cluster
            plot.opts(title=plot_title(title), legend_position="right", **_MAP_OPTS),
            sizing_mode="stretch_width",
            linked_axes=False,
        )

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(
            pn.widgets.RadioButtonGroup.from_param(self.param.colour_by, color="default"),
            pn.widgets.Select.from_param(self.param.scorer, label="", width=180),
        )
        downloads = download_buttons(
            self.export, stem=f"selection-{self.state.catalog.name}", what="selection"
        )
        return pn.Column(
            controls,
            pn.panel(self._plot, loading_indicator=True, sizing_mode="stretch_width"),
            self._count,
            self._table,
            downloads,
            sizing_mode="stretch_width",
        )
