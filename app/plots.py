"""Plots of light curves and model outputs; every figure keeps Bokeh's PNG save tool.

The functions take frames and arrays computed by ``engine`` and only draw them. Views redrawn
for every object (periodogram, phase fold, timeline, attention) are plain Bokeh figures: a
HoloViews overlay costs ~0.2-0.35 s of server time to render, a Bokeh figure a tenth of it
(``benchmarks/app_latency.py``); the other plots are HoloViews elements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import holoviews as hv
import numpy as np
import panel as pn
import polars as pl
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    HoverTool,
    Legend,
    LegendItem,
    LinearColorMapper,
    Span,
)
from bokeh.palettes import Category10_10, Viridis256
from bokeh.plotting import figure as BokehFigure

from app.text import plot_title
from engine.text import printable

#: (wavelength Å, colour) anchors: violet u, green g, orange r, red i, dark red z, grey-black y
_COLOUR_ANCHORS = (
    (3600.0, (0x6A, 0x00, 0xA8)),
    (4800.0, (0x1B, 0x9E, 0x77)),
    (6200.0, (0xE6, 0x55, 0x0D)),
    (7500.0, (0xC5, 0x1B, 0x2A)),
    (8700.0, (0x67, 0x00, 0x0D)),
    (9700.0, (0x40, 0x40, 0x40)),
)
TOOLS = ["hover", "save", "pan", "box_zoom", "wheel_zoom", "reset"]
_WIDE = {"responsive": True, "height": 340}
#: the same size for plain Bokeh figures
_BOKEH_WIDE = {"sizing_mode": "stretch_width", "height": 340}

# the Bokeh backend must be loaded before Bokeh plot options (tools, markers) can be set
hv.extension("bokeh", logo=False)


def figure(element: hv.Element | hv.Overlay | BokehFigure) -> pn.pane.PaneBase:
    """Wrap ``element`` (HoloViews or Bokeh) in a stretching pane with axes of its own.

    Panel links axes of HoloViews panes that share a dimension name by default, so zooming one
    flux plot (or drawing one with a huge range) would rescale every other flux plot. Plain
    Bokeh figures (drawn so for speed) get a Bokeh pane.
    """
    if isinstance(element, BokehFigure):
        return pn.pane.Bokeh(element, sizing_mode="stretch_width")
    return pn.pane.HoloViews(element, sizing_mode="stretch_width", linked_axes=False)


def _bokeh_figure(*, title: str, x_label: str, y_label: str, **options) -> BokehFigure:
    """Return a wide Bokeh figure with :data:`TOOLS` and axis labels; ``options`` override."""
    fig = BokehFigure(title=printable(title), tools=TOOLS, **(_BOKEH_WIDE | options))
    fig.xaxis.axis_label, fig.yaxis.axis_label = x_label, y_label
    return fig


def _legend_outside(fig: BokehFigure) -> None:
    """Move the figure's legend to the right of the plot, so it never covers data."""
    if fig.legend:
        legend = fig.legend[0]
        fig.center.remove(legend)
        fig.add_layout(legend, "right")


def band_colour(wavelength: float) -> str:
    """Hex colour of a band, interpolated in wavelength so any survey's bands read blue to red."""
    anchors = np.array([a for a, _ in _COLOUR_ANCHORS])
    rgb = np.array([c for _, c in _COLOUR_ANCHORS], dtype=float)
    channels = [np.interp(wavelength, anchors, rgb[:, k]) for k in range(3)]
    return "#" + "".join(f"{round(c):02x}" for c in channels)


def _band_styles(points: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """``points`` sorted by wavelength with a short ``filter`` name column, and filter -> colour.

    The filter name drops the survey prefix (``lsst_g`` -> ``g``) unless two surveys share it.
    """
    bands = points.group_by("band").agg(pl.col("wavelength").first()).sort("wavelength")
    short = {b: b.split("_", 1)[-1] for b in bands["band"]}
    names = short if len(set(short.values())) == len(short) else {b: b for b in short}
    colours = {names[b]: band_colour(w) for b, w in bands.iter_rows()}
    # detections first: a field legend draws each band with the style of its first point
    frame = points.sort(
        ["wavelength", "detected"], descending=[False, True], maintain_order=True
    ).with_columns(pl.col("band").replace_strict(names, return_dtype=pl.String).alias("filter"))
    return frame, colours


def _with_errors(
    frame: pl.DataFrame, x: str, value: str, error: str, colours: dict[str, str]
) -> list:
    """Error bars (one Segments glyph for all bands) and markers (hollow where not detected).

    One glyph per kind, coloured by filter, keeps a 6-band plot quick to render (~0.1 s).
    """
    frame = frame.with_columns(
        (pl.col(value) - pl.col(error)).alias("_low"),
        (pl.col(value) + pl.col(error)).alias("_high"),
        pl.col("detected").cast(pl.Float64).alias("_fill"),
    ).to_pandas()
    bars = hv.Segments(frame, [x, "_low", x, "_high"], ["filter"]).opts(
        color="filter", cmap=colours, alpha=0.5, show_legend=False
    )
    vdims = [value, error, "filter", "detected", "_fill"]
    vdims += [c for c in ("weight", "point") if c in frame]
    size = hv.dim("weight") * 10 + 3 if "weight" in frame else 6
    markers = hv.Scatter(frame, x, vdims).opts(
        color="filter",
        cmap=colours,
        fill_alpha="_fill",
        size=size,
        line_width=1.2,
        tools=TOOLS,
        show_legend=True,
    )
    return [bars, markers]


def _bokeh_points(
    fig: BokehFigure, frame: pl.DataFrame, x: str, value: str, error: str, colours: dict[str, str]
) -> None:
    """Draw :func:`_with_errors` with Bokeh: one error-bar and one marker glyph for all bands."""
    source = ColumnDataSource({
        "x": frame[x].to_numpy(),
        "y": frame[value].to_numpy(),
        "error": frame[error].to_numpy(),
        "low": (frame[value] - frame[error]).to_numpy(),
        "high": (frame[value] + frame[error]).to_numpy(),
        "filter": frame["filter"].to_list(),
        "colour": [colours[f] for f in frame["filter"]],
        "fill": frame["detected"].cast(pl.Float64).to_numpy(),
    })  # fmt: skip
    fig.segment("x", "low", "x", "high", source=source, color="colour", alpha=0.5)
    markers = fig.scatter(
        "x", "y", source=source, color="colour", fill_alpha="fill", size=6, line_width=1.2
    )
    fig.select_one(HoverTool).update(
        renderers=[markers],
        tooltips=[(x, "@x{0.000}"), (value, "@y{0.000} ± @error{0.000}"), ("band", "@filter")],
    )
    # one entry per band, blue to red (frame order), drawn like the band's first point
    first = frame.with_row_index().group_by("filter", maintain_order=True).agg(pl.first("index"))
    items = [LegendItem(label=f, renderers=[markers], index=i) for f, i in first.iter_rows()]
    fig.add_layout(Legend(items=items), "right")


def light_curve(
    points: pl.DataFrame,
    *,
    unit: str = "flux",
    title: str = "",
    weight: np.ndarray | None = None,
    extra: Sequence[hv.Element] = (),
) -> hv.Overlay:
    """Multi-band light curve with error bars; non-detections are hollow markers.

    Parameters
    ----------
    points : observations with time, band, wavelength, flux, flux_err, detected, mag, mag_err,
        upper_limit (see :meth:`engine.catalog.Catalog.points`)
    unit : ``"flux"`` (FLUXCAL) or ``"mag"`` (AB magnitudes, upper limits as down triangles)
    weight : optional (N,) values in [0, 1], in the order of ``points``, drawn as marker size
        (e.g. the attention a model pays to each point)
    extra : layers drawn on top (see :func:`edited_light_curve`)
    """
    if weight is not None:
        points = points.with_columns(pl.Series("weight", weight, dtype=pl.Float64))
    frame, colours = _band_styles(points)
    value, error = ("mag", "mag_err") if unit == "mag" else ("flux", "flux_err")
    layers = []
    y_range = {}
    if unit == "mag":
        y_range = {"ylim": _magnitude_range(frame)}
        limits = frame.filter(pl.col("upper_limit"))
        frame = frame.filter(~pl.col("upper_limit"))
        layers.append(
            hv.Scatter(limits.to_pandas(), "time", [value, "filter", "flux", "flux_err"]).opts(
                color="filter",
                cmap=colours,
                marker="inverted_triangle",
                size=7,
                alpha=0.35,
                show_legend=False,
                tools=TOOLS,
            )
        )
    layers += _with_errors(frame, "time", value, error, colours)
    return hv.Overlay([*layers, *extra]).opts(
        title=plot_title(title),
        xlabel="time (MJD)",
        ylabel="AB magnitude (▼ 3σ upper limit)" if unit == "mag" else "flux (FLUXCAL, zp 27.5)",
        invert_yaxis=unit == "mag",
        legend_position="right",
        **y_range,
        **_WIDE,
    )


def edited_light_curve(
    points: pl.DataFrame,
    *,
    left_out: np.ndarray,
    added: pl.DataFrame,
    cut: float | None,
    unit: str = "flux",
    title: str = "",
) -> tuple[hv.Overlay, hv.Scatter]:
    """Light curve under a what-if edit, and its selectable markers layer.

    Kept observations are drawn as in :func:`light_curve`, carrying their index among
    ``points`` in a ``point`` column (what a selection of the returned markers refers to);
    the ``left_out`` ones (hidden or after the cut) are grey crosses, the hypothetical ``added``
    points (with magnitudes, as ``points``) black-edged stars and the cut a dashed line.
    """
    value = "mag" if unit == "mag" else "flux"
    indexed = points.with_row_index("point").with_columns(pl.col("point").cast(pl.Int64))
    left = pl.Series(left_out, dtype=pl.Boolean)
    extra = []
    if left.any():
        gone = indexed.filter(left).to_pandas()
        extra.append(
            hv.Scatter(gone, "time", [value, "band"], label="left out (hidden / after cut)").opts(
                color="#888888", marker="x", size=9, line_width=2, tools=TOOLS
            )
        )
    if added.height:
        stars = added.with_columns(
            pl.col("wavelength").map_elements(band_colour, return_dtype=pl.String).alias("colour")
        ).to_pandas()
        extra.append(
            hv.Scatter(stars, "time", [value, "band", "colour"], label="hypothetical").opts(
                marker="star", size=16, fill_color="colour", line_color="black", tools=TOOLS
            )
        )
    if cut is not None:
        extra.append(hv.VLine(cut).opts(color="#555555", line_dash="dashed", line_width=1.5))
    overlay = light_curve(indexed.filter(~left), unit=unit, title=title, extra=extra)
    markers = next(
        layer
        for layer in overlay
        if isinstance(layer, hv.Scatter) and "point" in layer.dimensions(label="name")
    )
    # a click or a drag selects points to hide; zoom and pan stay in the toolbar
    markers.opts(tools=[*TOOLS, "tap", "box_select"], active_tools=["box_select"])
    return overlay, markers


def thumbnail(points: pl.DataFrame, *, title: str, width: int, height: int) -> BokehFigure:
    """Small light curve for grids of many objects: markers only, drawn with Bokeh directly.

    A HoloViews light curve costs ~0.25 s to render; ten of them made the neighbours panel
    slow. Colours and hollow non-detections follow :func:`light_curve`.
    """
    frame, colours = _band_styles(points)
    source = ColumnDataSource({
        "time": frame["time"].to_numpy(),
        "flux": frame["flux"].to_numpy(),
        "colour": [colours[f] for f in frame["filter"]],
        "fill": frame["detected"].cast(pl.Float64).to_numpy(),
    })  # fmt: skip
    fig = BokehFigure(title=title, width=width, height=height, tools="save")
    fig.toolbar.autohide = True  # the PNG save button shows on hover
    fig.scatter("time", "flux", source=source, color="colour", fill_alpha="fill", size=4)
    fig.xaxis.axis_label = "time (MJD)"
    fig.xaxis.ticker.desired_num_ticks = 3  # five-digit MJDs overlap at thumbnail size
    fig.yaxis.ticker.desired_num_ticks = 4
    fig.title.text_font_size = "9pt"
    return fig


def _magnitude_range(frame: pl.DataFrame, *, max_error: float = 0.5, pad: float = 0.3) -> tuple:
    """Magnitude axis range covering limits and points measured to ``max_error`` mag or better.

    Faint positive fluxes have magnitude errors of several magnitudes; letting them set the
    axis would squash the light curve (they stay reachable by zooming out).
    """
    good = frame.filter(pl.col("upper_limit") | (pl.col("mag_err") <= max_error))["mag"]
    values = good if good.len() else frame["mag"]
    return (float(values.min()) - pad, float(values.max()) + pad) if values.len() else (None, None)


def periodogram(period: np.ndarray, power: np.ndarray, *, best: float) -> BokehFigure:
    """Power against period (log axis), with the best period marked."""
    fig = _bokeh_figure(
        title=f"Lomb-Scargle periodogram (best {best:.4g} d)",
        x_label="period (days)",
        y_label="power",
        x_axis_type="log",
    )
    fig.line(period, power, color="#333333", line_width=1)
    fig.select_one(HoverTool).tooltips = [("period", "$x{0.0000} d"), ("power", "$y{0.000}")]
    fig.add_layout(
        Span(location=best, dimension="height", line_color="#e6550d", line_dash="dashed")
    )
    return fig


def phase_folded(points: pl.DataFrame, phase: np.ndarray, *, period: float) -> BokehFigure:
    """Flux against phase, drawn over two cycles, coloured by band."""
    frame = points.with_columns(pl.Series("phase", phase))
    frame, colours = _band_styles(pl.concat([frame, frame.with_columns(pl.col("phase") + 1.0)]))
    fig = _bokeh_figure(
        title=f"Folded at {period:.5g} days", x_label="phase", y_label="flux (FLUXCAL)"
    )
    _bokeh_points(fig, frame, "phase", "flux", "flux_err", colours)
    return fig


def class_probabilities(
    probabilities: Mapping[str, float],
    *,
    unsure: float | None,
    original: tuple[Mapping[str, float], float | None] | None = None,
) -> BokehFigure:
    """Horizontal bars of calibrated class probabilities, highest on top, unsure share at the foot.

    ``original`` (probabilities and unsure share of the stored curve, for an edited one) is
    drawn as wide grey ghost bars behind narrower coloured bars of the edited curve. Drawn with
    Bokeh directly: ~20 ms against ~130 ms as HoloViews bars, and every what-if edit redraws it.
    """

    def shares(values: Mapping[str, float], share: float | None) -> dict[str, float]:
        return {**({"(unsure)": share} if share is not None else {}), **values}

    shown = shares(probabilities, unsure)
    # Bokeh puts the first factor at the bottom
    classes = sorted(shown, key=lambda c: (c != "(unsure)", shown[c]))
    data = {"class": classes, "probability": [shown[c] for c in classes]}
    tooltips = [("class", "@class"), ("probability", "@probability{0.000}")]
    title = "Class probabilities (calibrated)"
    if original is not None:
        stored = shares(*original)
        data["stored"] = [stored.get(c, 0.0) for c in classes]
        tooltips.append(("stored curve", "@stored{0.000}"))
        title += ": edited curve (green) and stored curve (grey)"
    fig = BokehFigure(
        y_range=classes,
        x_range=(0, 1),
        height=max(200, 22 * len(classes)),
        sizing_mode="stretch_width",
        tools=",".join(t for t in TOOLS if t != "hover"),
        tooltips=tooltips,
        title=title,
        x_axis_label="probability",
    )
    source = ColumnDataSource(data)
    if original is not None:
        fig.hbar(
            y="class", right="stored", height=0.85, source=source, color="#c8c8c8",
            legend_label="stored curve",
        )  # fmt: skip
    fig.hbar(
        y="class", right="probability", height=0.45 if original else 0.8, source=source,
        color="#1b9e77", **({"legend_label": "edited curve"} if original else {}),
    )  # fmt: skip
    if original is not None:
        fig.legend.location = "bottom_right"
    fig.ygrid.grid_line_color = None
    return fig


def probability_timeline(
    frame: pl.DataFrame,
    classes: Sequence[str],
    *,
    top: int = 5,
    original: pl.DataFrame | None = None,
) -> BokehFigure:
    """Probability of the ``top`` classes (by final value) and the unsure share after each point.

    ``original`` (the stored curve's timeline, for an edited one) adds the same classes dotted.
    """
    last = frame.tail(1)
    ranked = sorted(classes, key=lambda c: -float(last[f"p_{c}"].item()))[:top]
    fig = _bokeh_figure(
        title="Probability after each point",
        x_label="time of the last point used (MJD)",
        y_label="probability",
        y_range=(0, 1),
    )
    time = frame["time"].to_numpy()
    for k, name in enumerate(ranked):
        colour = Category10_10[k % len(Category10_10)]
        fig.line(time, frame[f"p_{name}"].to_numpy(), color=colour, line_width=2,
                 legend_label=printable(name))  # fmt: skip
        if original is not None:
            fig.line(original["time"].to_numpy(), original[f"p_{name}"].to_numpy(),
                     color=colour, line_width=1.5, line_dash="dotted", alpha=0.8)  # fmt: skip
    if "unsure" in frame.columns:
        fig.line(time, frame["unsure"].to_numpy(), color="#888888", line_dash="dashed",
                 legend_label="unsure")  # fmt: skip
    fig.select_one(HoverTool).tooltips = [("time", "$x{0.00}"), ("probability", "$y{0.000}")]
    _legend_outside(fig)
    return fig


def attention_map(matrix: np.ndarray, *, title: str) -> BokehFigure:
    """(T, T) attention weights, query point on the y axis (first at the top), key on the x axis."""
    size = matrix.shape[0]
    extent = (-0.5, size - 0.5)
    fig = _bokeh_figure(
        title=title, x_label="key point", y_label="query point", height=360,
        x_range=extent, y_range=extent[::-1],
    )  # fmt: skip
    mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=float(np.max(matrix, initial=0)))
    fig.image(image=[matrix], x=-0.5, y=-0.5, dw=size, dh=size, color_mapper=mapper)
    fig.select_one(HoverTool).tooltips = [
        ("key point", "$x{0}"), ("query point", "$y{0}"), ("weight", "@image{0.000}")
    ]  # fmt: skip
    fig.add_layout(ColorBar(color_mapper=mapper, title="weight"), "right")
    return fig


def continuation(
    points: pl.DataFrame,
    *,
    band: str,
    times: np.ndarray,
    samples: np.ndarray,
    quantiles: Mapping[float, np.ndarray],
    history: float,
    left_out: pl.DataFrame | None = None,
) -> BokehFigure:
    """Plot the last ``history`` days of ``band``, sampled futures and the 68 % / 95 % bands.

    All sampled paths are one ``multi_line`` glyph: one glyph per path made 20 paths cost ~1 s
    of server time to render. ``left_out`` (stored observations a what-if edit leaves out) are
    drawn as grey crosses.
    """
    start = float(np.min(times)) - history
    observed = points.filter((pl.col("band") == band) & (pl.col("time") >= start))
    colour = band_colour(float(observed["wavelength"][0])) if observed.height else "#333333"
    fig = _bokeh_figure(
        title=f"Generated continuations ({band.split('_', 1)[-1]} band)",
        x_label="time (MJD)",
        y_label="flux (FLUXCAL)",
    )
    for (low, high), alpha, label in (((0.025, 0.975), 0.15, "95 %"), ((0.16, 0.84), 0.3, "68 %")):
        fig.varea(times, quantiles[low], quantiles[high], color=colour, alpha=alpha,
                  legend_label=label)  # fmt: skip
    fig.multi_line([times] * len(samples), list(samples), color=colour, alpha=0.35, line_width=1)
    fig.line(times, quantiles[0.5], color=colour, line_width=2, legend_label="median")
    observed_time, flux, error = (observed[c].to_numpy() for c in ("time", "flux", "flux_err"))
    fig.segment(observed_time, flux - error, observed_time, flux + error, color=colour)
    markers = fig.scatter(observed_time, flux, color=colour, size=5, legend_label="observed")
    fig.select_one(HoverTool).update(
        renderers=[markers], tooltips=[("time", "@x{0.000}"), ("flux", "@y{0.000}")]
    )
    if left_out is not None:
        shown = pl.col("time").is_between(start, float(np.max(times)))
        ghosts = left_out.filter((pl.col("band") == band) & shown)
        fig.scatter(ghosts["time"].to_numpy(), ghosts["flux"].to_numpy(), marker="x",
                    color="#888888", size=8, line_width=2, legend_label="left out")  # fmt: skip
    _legend_outside(fig)
    return fig


def reliability(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> hv.Overlay:
    """Reliability diagram: accuracy against confidence per curve, with the diagonal."""
    palette = {"before": "#e6550d", "after": "#1b9e77"}
    layers = [
        hv.Curve(([0, 1], [0, 1]), "confidence", "accuracy").opts(
            color="#999999", line_dash="dotted"
        )
    ]
    for name, (confidence, accuracy) in curves.items():
        colour = palette.get(name.split()[0], "#333333")
        layers.append(
            hv.Curve((confidence, accuracy), "confidence", "accuracy", label=name).opts(
                color=colour, line_width=2
            )
        )
        layers.append(
            hv.Scatter((confidence, accuracy), "confidence", "accuracy").opts(
                color=colour, size=6, tools=TOOLS
            )
        )
    return hv.Overlay(layers).opts(
        title="Reliability diagram",
        xlim=(0, 1),
        ylim=(0, 1),
        legend_position="bottom_right",
        responsive=True,
        height=360,
    )


def confusion(matrix: np.ndarray, class_names: Sequence[str]) -> hv.HeatMap:
    """Row-normalised confusion matrix (rows = true class)."""
    cells = [
        (p, t, float(matrix[i, j]))
        for i, t in enumerate(class_names)
        for j, p in enumerate(class_names)
    ]
    return hv.HeatMap(cells, ["predicted", "true"], "fraction").opts(
        cmap="Blues",
        colorbar=True,
        tools=TOOLS,
        xrotation=60,
        title="Confusion matrix (row-normalised)",
        responsive=True,
        height=420,
        invert_yaxis=True,
        clim=(0, 1),
    )


def per_class_f1(scores: Mapping[str, float]) -> hv.Bars:
    """F1 of each class."""
    return hv.Bars(sorted(scores.items(), key=lambda kv: kv[1]), "class", "F1").opts(
        invert_axes=True,
        ylim=(0, 1),
        color="#6a00a8",
        tools=TOOLS,
        title="Per-class F1",
        responsive=True,
        height=max(240, 22 * len(scores)),
    )


def score_curve(x: Sequence[float], y: Sequence[float], *, xlabel: str, title: str) -> hv.Overlay:
    """Plot a score (e.g. macro F1) against a resource such as the number of points seen."""
    curve = hv.Curve((x, y), xlabel, "macro F1").opts(color="#1b9e77", line_width=2)
    return (
        curve * hv.Scatter((x, y), xlabel, "macro F1").opts(color="#1b9e77", size=5, tools=TOOLS)
    ).opts(title=title, ylim=(0, 1), responsive=True, height=300)
