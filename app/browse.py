"""Browse page: the catalogue as a filterable table; clicking a row opens the object."""

from __future__ import annotations

import panel as pn
import param
import polars as pl
from bokeh.models.widgets.tables import NumberFormatter

from app.state import NO_MODEL, AppState
from app.text import html

ALL = "(all)"
IN_DOMAIN, OUT_OF_DOMAIN = "in domain", "out of domain"
_PAGE_SIZE = 20
#: anomaly score columns of the summary are ``anomaly_<scorer>``: titled by the scorer alone
_SCORE_PREFIX = "anomaly_"
#: model outputs shown rounded to this many significant digits (the summary keeps them whole)
SIGNIFICANT_DIGITS = 3
_ROUNDED = ("confidence", "unsure", "domain_score")
_FORMATTERS = {
    "confidence": {"type": "progress", "max": 1, "legend": True},
    "first_mjd": NumberFormatter(format="0.000"),
    "span_days": NumberFormatter(format="0.0"),
    # rounded to 3 significant digits in _refresh; shown without trailing zeros
    "domain_score": NumberFormatter(format="0.[00000]"),
}
_TITLES = {
    "domain_score": "domain score",
    "in_domain": "in domain",
    "domain_reason": "domain reason",
}


class BrowseView(pn.viewable.Viewer):
    """Filterable, sortable table of the catalogue's objects."""

    state = param.ClassSelector(class_=AppState)
    search = param.String(default="", doc="Part of an object id.")
    label = param.Selector(objects=[ALL], default=ALL, doc="Known class.")
    predicted = param.Selector(
        objects=[ALL], default=ALL, doc="Predicted class of the chosen model."
    )
    source = param.Selector(objects=[ALL], default=ALL, doc="Catalogue or uploaded file.")
    min_points = param.Integer(default=0, bounds=(0, None), doc="Fewest observations.")
    domain = param.Selector(
        objects=[ALL, IN_DOMAIN, OUT_OF_DOMAIN],
        default=ALL,
        doc="Whether the chosen model was trained on objects like it (its domain reference).",
    )
    has_domain = param.Boolean(
        default=False, doc="Whether the summary has the domain columns (shows the selector)."
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._table = pn.widgets.Tabulator(
            pagination="remote",
            page_size=_PAGE_SIZE,
            disabled=True,
            show_index=False,
            sizing_mode="stretch_width",
            selectable=False,
        )
        self._table.on_click(self._on_click)
        self._count = pn.pane.Markdown(margin=(0, 10))
        self._update_options()
        self._refresh()

    @param.depends("state.catalog", "state.model", watch=True)
    def _update_options(self) -> None:
        summary = self.summary()
        for name, column in (("label", "label"), ("predicted", "pred_class"), ("source", "source")):
            values = (
                summary[column].drop_nulls().unique().sort().to_list()
                if column in summary.columns
                else []
            )
            self.param[name].objects = [ALL, *values]
            if getattr(self, name) not in self.param[name].objects:
                setattr(self, name, ALL)
        self.has_domain = "in_domain" in summary.columns
        if not self.has_domain:
            self.domain = ALL

    def summary(self) -> pl.DataFrame:
        """Return the catalogue summary with the chosen model's predictions and anomaly scores."""
        model = None if self.state.model == NO_MODEL else self.state.model
        return self.state.catalog.summary(model)

    def filtered(self) -> pl.DataFrame:
        """Rows of the summary passing every filter."""
        frame = self.summary()
        if self.search.strip():
            frame = frame.filter(
                pl.col("object_id").str.contains(self.search.strip(), literal=True)
            )
        for name, column in (("label", "label"), ("predicted", "pred_class"), ("source", "source")):
            value = getattr(self, name)
            if value != ALL and column in frame.columns:
                frame = frame.filter(pl.col(column) == value)
        if self.domain != ALL and "in_domain" in frame.columns:
            frame = frame.filter(pl.col("in_domain") == (self.domain == IN_DOMAIN))
        return frame.filter(pl.col("n_points") >= self.min_points)

    @param.depends(
        "search",
        "label",
        "predicted",
        "source",
        "min_points",
        "domain",
        "state.catalog",
        "state.model",
        watch=True,
    )
    def _refresh(self) -> None:
        frame = self.filtered()
        scores = [c for c in frame.columns if c.startswith(_SCORE_PREFIX)]
        self._table.param.update(
            value=rounded(frame, [*_ROUNDED, *scores]).to_pandas(),
            # Tabulator renders titles as HTML; scorer names come from the catalogue's files
            titles=_TITLES
            | {c: html(c.removeprefix(_SCORE_PREFIX).replace("_", " ")) for c in scores},
            formatters=_FORMATTERS,
        )
        self._count.object = (
            f"**{frame.height:,}** of {len(self.state.catalog):,} objects. "
            "Click a row to inspect it."
        )

    def _on_click(self, event) -> None:
        self.state.inspect(self._table.value.iloc[event.row]["object_id"])

    def __panel__(self) -> pn.viewable.Viewable:
        widgets = pn.Param(
            self,
            parameters=["search", "label", "predicted", "source", "min_points", "domain"],
            widgets={
                "search": {
                    "type": pn.widgets.TextInput,
                    "placeholder": "object id contains...",
                    "width": 240,
                },
                "label": {"width": 170},
                "predicted": {"width": 170},
                "source": {"width": 240},
                "min_points": {"type": pn.widgets.IntInput, "step": 10, "width": 120},
                "domain": {"width": 150, "visible": self.param.has_domain},
            },
            show_name=False,
            # wraps on narrow screens instead of pushing the page wider than the window
            default_layout=pn.FlexBox,
            sizing_mode="stretch_width",
        )
        return pn.Column(widgets, self._count, self._table, sizing_mode="stretch_width")


def rounded(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``frame`` with its float ``columns`` rounded to :data:`SIGNIFICANT_DIGITS` for display.

    A number format cannot say "3 significant digits" (a fixed ``0.000`` shows anomaly scores
    of 1e-5 as 0 and of 1e4 with needless decimals) and Tabulator's progress bar prints its
    value whole, so the shown values are rounded instead; exports use the unrounded summary.
    """
    floats = [c for c in columns if c in frame.columns and frame.schema[c].is_float()]
    # float64 first: a rounded float32 reaches the browser as 0.8730000257...
    return frame.with_columns(pl.col(floats).cast(pl.Float64).round_sig_figs(SIGNIFICANT_DIGITS))
