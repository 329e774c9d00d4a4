"""Inspector panel "Observe next": expected bits of a new point per band and day, as a heat map.

The numbers come from :class:`engine.infer.plan.InformationPlanner` (validated on fold 0 in
``benchmarks/PLAN.md``); this module only draws them and says in one sentence which candidate is
best. Computed only while its tab is on screen, like the other model panels.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param
import polars as pl
from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
from bokeh.palettes import Viridis256
from bokeh.plotting import figure as BokehFigure

from app import plots
from app.model_views import _ModelPanel
from app.text import markdown
from engine.infer.plan import InformationPlanner, ObservationPlan, PlanSettings
from engine.text import printable

#: Bokeh model name of the heat map (browser tests find it by this name)
HEATMAP_NAME = "plan-heatmap"
_BEST_COLOUR = "#d62728"


def plan_heatmap(plan: ObservationPlan) -> BokehFigure:
    """Band × days-ahead heat map of expected bits, the best candidate outlined and starred."""
    bands = [printable(b) for b in plan.bands]
    n_bands, n_times = plan.bits.shape
    source = ColumnDataSource(
        {
            "days": np.tile(plan.days_ahead, n_bands),
            "band": np.repeat(bands, n_times),
            "bits": plan.bits.ravel(),
            "error": plan.standard_error.ravel(),
            "information": plan.mutual_information.ravel(),
            "outcomes": [
                printable(" or ".join(c for c in classes if c))
                for classes in plan.outcome_classes.reshape(n_bands * n_times, -1)
            ],
        }
    )
    low, high = float(plan.bits.min()), float(plan.bits.max())
    mapper = LinearColorMapper(palette=Viridis256, low=low, high=max(high, low + 1e-6))
    step = float(plan.days_ahead[1] - plan.days_ahead[0]) if n_times > 1 else 1.0
    fig = BokehFigure(
        title=printable(f"Expected information of one new point, object {plan.object_id}"),
        y_range=bands,
        tools=["save", "pan", "box_zoom", "wheel_zoom", "reset"],
        sizing_mode="stretch_width",
        height=60 + 40 * n_bands,
        name=HEATMAP_NAME,
    )
    fig.xaxis.axis_label, fig.yaxis.axis_label = "days after the last point", "band"
    cells = fig.rect(
        "days", "band", width=step, height=1.0, source=source,
        fill_color={"field": "bits", "transform": mapper}, line_color=None,
    )  # fmt: skip
    best = plan.best
    fig.rect([best.days_ahead], [printable(best.band)], width=step, height=1.0,
             fill_alpha=0.0, line_color=_BEST_COLOUR, line_width=3)  # fmt: skip
    fig.scatter([best.days_ahead], [printable(best.band)], marker="star", size=16,
                color=_BEST_COLOUR, line_color="white")  # fmt: skip
    fig.add_tools(
        HoverTool(
            renderers=[cells],
            tooltips=[
                ("band", "@band"),
                ("days ahead", "@days"),
                ("expected bits", "@bits{0.000} ± @error{0.000}"),
                ("of which from the outcome", "@information{0.000}"),
                ("likely outcome", "@outcomes"),
            ],
        )
    )
    fig.add_layout(ColorBar(color_mapper=mapper, title="bits", width=10), "right")
    fig.grid.visible = False
    return fig


class PlanView(_ModelPanel):
    """Where to observe next: expected bits about the class of one new point, per band and day."""

    capability = "generate"
    what = "where to observe next"
    controls = ("last_day", "n_samples")
    last_day = param.Integer(default=30, bounds=(1, 365), doc="Days ahead (daily candidates).")
    n_samples = param.Integer(default=32, bounds=(2, 512), doc="Sampled fluxes per candidate.")

    def draw(self, predictor, row: pl.DataFrame) -> pn.viewable.Viewable:
        """Heat map and sentence of ``InformationPlanner.plan_object`` for ``row``."""
        settings = PlanSettings(last_day=float(self.last_day), n_samples=self.n_samples)
        plan = InformationPlanner(predictor).plan_object(row, settings)
        note = (
            "Expected reduction of the class entropy (bits) if one point were taken in that "
            "band that many days after the last one, from the model's own predicted fluxes; "
            "its accuracy on held-out data is in benchmarks/PLAN.md."
        )
        return pn.Column(
            pn.pane.Markdown(f"**{markdown(plan.sentence())}**"),
            plots.figure(plan_heatmap(plan)),
            pn.pane.Markdown(note),
            sizing_mode="stretch_width",
        )
