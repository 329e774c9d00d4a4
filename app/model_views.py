"""Inspector panels that need a model: probabilities, timeline, attention, continuations.

Each panel asks :class:`~app.state.AppState` for the chosen model's predictor and says plainly
when there is no model or the model lacks the capability, instead of drawing anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import panel as pn
import param
import polars as pl

from app import plots
from app.state import HIDDEN, AppState
from app.text import markdown
from engine.catalog import UnknownObjectError, row_points
from engine.errors import CatscopeError, InvalidValueError

#: the warning above the probabilities of an object the model's domain reference flags
OUT_OF_DOMAIN = "Unlike anything the model was trained on — treat these probabilities with caution"


def message(text: str, kind: str = "info") -> pn.pane.Alert:
    """Make a plain-language notice to show in place of a plot."""
    return pn.pane.Alert(text, alert_type=kind, sizing_mode="stretch_width")


def domain_warning(prediction: pl.DataFrame) -> list[pn.pane.Alert]:
    """Return the out-of-domain warning of a one-row prediction, with its reason, or nothing.

    Nothing either when the model has no domain reference (no ``in_domain`` column).
    """
    if "in_domain" not in prediction.columns or prediction["in_domain"][0] is not False:
        return []
    reason = markdown(prediction["domain_reason"][0])
    return [message(f"**{OUT_OF_DOMAIN}:** {reason}", "warning")]


class _ModelPanel(pn.viewable.Viewer):
    """Base of the panels: the object row, the capability check and a loading spinner."""

    state = param.ClassSelector(class_=AppState)
    object_id = param.String(
        default=None, allow_None=True, doc="Object shown (default: the inspector's)."
    )
    shown = param.Boolean(
        default=True, doc="Whether the panel is on screen; hidden ones do not compute."
    )
    capability = ""
    what = ""
    #: parameters shown as controls above the plot; changing one redraws it
    controls: tuple[str, ...] = ()

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._stored: tuple[tuple, object] = ((), None)

    def current_id(self) -> str:
        """Object to draw: ``object_id`` if set, else the inspector's object."""
        return self.object_id if self.object_id is not None else self.state.object_id

    def follows_edit(self) -> bool:
        """Whether the panel shows the inspector's object with a what-if edit applied."""
        return self.object_id is None and not self.state.edit.is_empty

    def row(self) -> pl.DataFrame:
        """One-row canonical table of the object, edited when :meth:`follows_edit`."""
        if self.object_id is None:
            return self.state.row(self.current_id())
        return self.state.catalog.get(self.current_id())

    def points(self) -> pl.DataFrame:
        """Observations of :meth:`row`, one per row, with magnitudes."""
        return row_points(self.row())

    def stored(self, compute: Callable[[pl.DataFrame], object]) -> object:
        """``compute`` (a predictor method) of the stored, unedited curve, kept while it stays.

        An edit redraws the panel beside the stored curve's output; computing that once per
        object and model keeps an edit's server time to the edited curve's forward pass.
        """
        key = (self.state.model, self.state.catalog.name, self.current_id())
        if self._stored[0] != key:
            self._stored = (key, compute(self.state.catalog.get(self.current_id())))
        return self._stored[1]

    def blocker(self) -> pn.pane.Alert | None:
        """Why the panel cannot draw (no object, no model, missing capability), or ``None``."""
        if not self.current_id():
            return message("Pick an object first.")
        reason = self.state.missing_model_message(self.capability, self.what)
        return message(reason) if reason else None

    def content(self) -> pn.viewable.Viewable:
        """Return the panel's plot, or a message saying why there is none."""
        blocker = self.blocker()
        if blocker is not None:
            return blocker
        try:
            return self.draw(self.state.predictor(), self.row())
        except CatscopeError as exc:
            return message(markdown(exc), "warning")

    def draw(self, predictor, row: pl.DataFrame) -> pn.viewable.Viewable:
        """Plot for ``row`` with ``predictor``; subclasses implement it."""
        raise NotImplementedError

    def _live_content(self) -> pn.viewable.Viewable:
        """:meth:`content`, redrawn (with a spinner) when the object, model or a control changes."""
        inputs = [
            self.param.object_id,
            self.param.shown,
            *(self.param[name] for name in self.controls),
        ]
        inputs += [
            self.state.param.object_id,
            self.state.param.model,
            self.state.param.catalog,
            self.state.param.edit,
        ]
        return pn.panel(
            pn.bind(lambda *_: self.content() if self.shown else HIDDEN, *inputs),
            loading_indicator=True,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        controls = [
            pn.widgets.IntInput.from_param(self.param[name], width=110) for name in self.controls
        ]
        return pn.Column(pn.Row(*controls), self._live_content(), sizing_mode="stretch_width")


class ProbabilityView(_ModelPanel):
    """Calibrated class probabilities of the whole light curve, with the unsure share.

    Objects the model's domain reference flags get :data:`OUT_OF_DOMAIN` above the bars.
    """

    capability = "classify"
    what = "class probabilities"

    def draw(self, predictor, row: pl.DataFrame) -> pn.viewable.Viewable:
        """Bars of ``p_<class>`` from ``predictor.predict``; ghost bars of the stored curve."""
        result = predictor.predict(row)
        probabilities, unsure = _bars(result, predictor.classes)
        original = ghost = None
        summary = f"Predicted {_verdict(result)}."
        if self.follows_edit():
            original = self.stored(predictor.predict)
            ghost = _bars(original, predictor.classes)
            summary = (
                f"**Edited curve:** predicted {_verdict(result)}. Stored curve: "
                f"{_verdict(original)}. Grey bars: the stored curve's probabilities."
            )
        figure = plots.class_probabilities(probabilities, unsure=unsure, original=ghost)
        return pn.Column(
            *domain_warning(result),
            pn.pane.Markdown(summary + _domain_change(result, original)),
            plots.figure(figure),
            sizing_mode="stretch_width",
        )


def _bars(prediction: pl.DataFrame, classes) -> tuple[dict[str, float], float | None]:
    """Class probabilities and the unsure share (``None`` if the model has none) of a prediction."""
    probabilities = {c: float(prediction[f"p_{c}"][0]) for c in classes}
    unsure = float(prediction["unsure"][0]) if "unsure" in prediction.columns else None
    return probabilities, unsure


def _verdict(prediction: pl.DataFrame) -> str:
    """E.g. ``**SNIa** with confidence 64%; unsure share 3%`` (Markdown, escaped)."""
    unsure = prediction["unsure"][0] if "unsure" in prediction.columns else None
    return (
        f"**{markdown(prediction['pred_class'][0])}** with confidence "
        f"{float(prediction['confidence'][0]):.0%}"
        + (f"; unsure share {float(unsure):.0%}" if unsure is not None else "")
    )


def _domain_change(result: pl.DataFrame, original: pl.DataFrame | None) -> str:
    """Say the domain score of the edited curve and the stored one, when the model has one."""
    if original is None or "domain_score" not in result.columns:
        return ""

    def score(frame: pl.DataFrame) -> str:
        where = "in domain" if frame["in_domain"][0] else "out of domain"
        return f"{float(frame['domain_score'][0]):.3g} ({where})"

    return f" Domain score: {score(result)}; stored curve {score(original)}."


_EDITED_TIMELINE = (
    "Timeline of the edited curve (solid); dotted lines: the stored curve, same colours."
)


class TimelineView(_ModelPanel):
    """How each class probability evolves as the points arrive (causal, point by point).

    Objects the model's domain reference flags get :data:`OUT_OF_DOMAIN` above the curves.
    """

    capability = "classify"
    what = "the probability timeline"
    top = param.Integer(default=5, bounds=(1, 20), doc="Classes drawn.")
    controls = ("top",)

    def draw(self, predictor, row: pl.DataFrame) -> pn.viewable.Viewable:
        """Curves of ``predictor.predict_timeline``."""
        timeline = predictor.predict_timeline(row)
        original = None
        if self.follows_edit():
            original = self.stored(predictor.predict_timeline)
        figure = plots.probability_timeline(
            timeline, predictor.classes, top=self.top, original=original
        )
        return pn.Column(
            *domain_warning(predictor.predict(row)),
            *([message(_EDITED_TIMELINE)] if original is not None else []),
            plots.figure(figure),
            sizing_mode="stretch_width",
        )


class AttentionView(_ModelPanel):
    """Attention weights of one layer and head, and the last point's attention on the light curve.

    The predictor returns (L, H, S, S) weights and the times of the T points it saw; when
    ``S = T + 1`` token 0 is the metadata token, left out of the light-curve highlighting.
    Points the model did not see (long curves are subsampled) get the smallest markers.
    """

    capability = "attention"
    what = "attention maps"
    layer = param.Integer(default=0, bounds=(0, None))
    head = param.Integer(default=0, bounds=(0, None))
    controls = ("layer", "head")

    def draw(self, predictor, row: pl.DataFrame) -> pn.viewable.Viewable:
        """Heatmap of the chosen layer/head and light curve sized by the last point's attention."""
        weights, times = predictor.attention(row)
        n_layers, n_heads = weights.shape[:2]
        layer, head = min(self.layer, n_layers - 1), min(self.head, n_heads - 1)
        matrix = weights[layer, head]  # (S, S) query x key
        last = matrix[-1, matrix.shape[1] - times.size :]  # (T,) last query on each observation
        points = self.points()
        weight = np.zeros(points.height)
        weight[match_times(points["time"].to_numpy(), times)] = last / max(last.max(), 1e-12)
        title = f"Layer {layer}, head {head} (model has {n_layers} layers × {n_heads} heads)"
        curve = plots.light_curve(
            points, weight=weight, title="Attention of the last point (marker size)"
        )
        return pn.Column(
            plots.figure(plots.attention_map(matrix, title=title)),
            plots.figure(curve),
            sizing_mode="stretch_width",
        )


def match_times(
    point_times: np.ndarray, seen_times: np.ndarray, tolerance: float = 1e-3
) -> np.ndarray:
    """Return the index of the point each seen time belongs to (seen is an ordered subset).

    The tolerance (days, ~86 s) absorbs the float32 relative times the model works in.

    Raises :class:`InvalidValueError` if a seen time matches no remaining point.
    """
    index = np.empty(seen_times.size, dtype=np.int64)
    k = 0
    for j, t in enumerate(seen_times):
        while k < point_times.size and point_times[k] < t - tolerance:
            k += 1
        if k == point_times.size or abs(point_times[k] - t) > tolerance:
            msg = f"the model saw a point at MJD {t:.5f} that the light curve does not have"
            raise InvalidValueError(msg)
        index[j] = k
        k += 1
    return index


class ContinuationView(_ModelPanel):
    """Futures of the light curve sampled from the generative head, with 68 % and 95 % bands."""

    capability = "generate"
    what = "generated continuations"
    horizon = param.Integer(default=60, bounds=(1, 1000), doc="Days after the last point.")
    n_samples = param.Integer(default=20, bounds=(1, 200), doc="Sampled futures.")
    bands = param.ListSelector(default=[], objects=[], doc="Bands to continue.")
    points_per_band = param.Integer(default=30, bounds=(2, 200), doc="Future points per band.")
    generate = param.Event(doc="Sample the continuations.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._output = pn.Column(sizing_mode="stretch_width")
        self._reset()

    @param.depends(
        "object_id", "state.object_id", "state.catalog", "state.model", "state.edit", watch=True
    )
    def _reset(self) -> None:
        try:
            bands = self.state.catalog.points(self.current_id())["band"].unique().sort().to_list()
        except UnknownObjectError:
            bands = []
        self.param.bands.objects = bands
        self.bands = [b for b in self.bands if b in bands] or bands[:1]
        # sampling takes seconds, longer than an edit may: it runs only when asked for
        of = " of the edited curve" if self.follows_edit() else ""
        self._output.objects = [
            self.blocker() or message(f"Choose the horizon and bands, then press Generate{of}.")
        ]

    def future(self, last_time: float) -> tuple[np.ndarray, list[str]]:
        """Return times and bands of the future points: an even grid per chosen band, by time."""
        step = self.horizon / self.points_per_band
        grid = last_time + step * np.arange(1, self.points_per_band + 1)
        times = np.tile(grid, len(self.bands))
        bands = [b for b in self.bands for _ in grid]
        order = np.argsort(times, kind="stable")
        return times[order], [bands[i] for i in order]

    @param.depends("generate", watch=True)
    async def _generate(self) -> None:
        self._output.loading = True
        try:
            # sample in a worker thread so the spinner shows and other sessions keep running
            self._output.objects = [await asyncio.to_thread(self.content)]
        finally:
            self._output.loading = False

    def draw(self, predictor, row: pl.DataFrame) -> pn.viewable.Viewable:
        """One plot per chosen band of ``predictor.continue_curve`` samples and quantiles."""
        if not self.bands:
            return message("Choose at least one band.", "warning")
        points = self.points()
        times, bands = self.future(float(points["time"].max()))
        left_out = None
        if self.follows_edit():  # what was really observed where the edit left points out
            stored = self.state.catalog.points(self.current_id())
            left_out = stored.filter(pl.Series(self.state.edit.left_out(stored["time"])))
        result = predictor.continue_curve(row, times, bands, n_samples=self.n_samples)
        figures = []
        for band in self.bands:
            keep = np.array([b == band for b in bands])
            figure = plots.continuation(
                points,
                band=band,
                times=times[keep],
                samples=result.samples[:, keep],
                quantiles={q: v[keep] for q, v in result.quantiles.items()},
                history=max(2.0 * self.horizon, 60.0),
                left_out=left_out,
            )
            figures.append(plots.figure(figure))
        summary = (
            f"Sampled {self.n_samples} futures at {self.points_per_band} times per band over "
            f"{self.horizon} days; lines are single samples, shading the 68 % and 95 % ranges."
            + (
                " Grey crosses: stored observations the edit leaves out (what was really seen)."
                if left_out is not None
                else ""
            )
        )
        return pn.Column(pn.pane.Markdown(summary), *figures, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Param(
            self,
            parameters=["horizon", "bands", "n_samples", "points_per_band", "generate"],
            widgets={
                "horizon": {"type": pn.widgets.IntSlider, "end": 365, "width": 200},
                "n_samples": {"type": pn.widgets.IntSlider, "end": 100, "width": 200},
                "points_per_band": {"type": pn.widgets.IntSlider, "end": 100, "width": 200},
                "bands": {"type": pn.widgets.MultiChoice, "width": 260},
                "generate": {"type": pn.widgets.Button, "color": "primary", "label": "Generate"},
            },
            show_name=False,
            default_layout=pn.Row,
        )
        return pn.Column(controls, self._output, sizing_mode="stretch_width")
