"""HoloViews plots of light curves and model outputs; every figure keeps Bokeh's PNG save tool.

The functions take frames and arrays computed by ``engine`` and only draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import holoviews as hv
import numpy as np
import panel as pn
import polars as pl
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure as BokehFigure

from app.text import plot_title

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

# the Bokeh backend must be loaded before Bokeh plot options (tools, markers) can be set
hv.extension("bokeh", logo=False)


def figure(element: hv.Element | hv.Overlay | BokehFigure) -> pn.pane.HoloViews | pn.pane.Bokeh:
    """Wrap ``element`` in a stretching pane whose axes are not linked to other panes' axes.

    Panel links axes of HoloViews panes that share a dimension name by default, so zooming one
    flux plot (or drawing one with a huge range) would rescale every other flux plot. Plain
    Bokeh figures (drawn so for speed) get a Bokeh pane.
    """
    if isinstance(element, BokehFigure):
        return pn.pane.Bokeh(element, sizing_mode="stretch_width")
    return pn.pane.HoloViews(element, sizing_mode="stretch_width", linked_axes=False)


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


def periodogram(period: np.ndarray, power: np.ndarray, *, best: float) -> hv.Overlay:
    """Power against period (log axis), with the best period marked."""
    curve = hv.Curve((period, power), "period (days)", "power").opts(
        logx=True, color="#333333", line_width=1, tools=TOOLS
    )
    marker = hv.VLine(best).opts(color="#e6550d", line_dash="dashed")
    return (curve * marker).opts(title=f"Lomb-Scargle periodogram (best {best:.4g} d)", **_WIDE)


def phase_folded(points: pl.DataFrame, phase: np.ndarray, *, period: float) -> hv.Overlay:
    """Flux against phase, drawn over two cycles, coloured by band."""
    frame = points.with_columns(pl.Series("phase", phase))
    frame, colours = _band_styles(pl.concat([frame, frame.with_columns(pl.col("phase") + 1.0)]))
    return hv.Overlay(_with_errors(frame, "phase", "flux", "flux_err", colours)).opts(
        title=f"Folded at {period:.5g} days",
        xlabel="phase",
        ylabel="flux (FLUXCAL)",
        legend_position="right",
        **_WIDE,
    )


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
) -> hv.Overlay:
    """Probability of the ``top`` classes (by final value) and the unsure share after each point.

    ``original`` (the stored curve's timeline, for an edited one) adds the same classes dotted.
    """
    last = frame.tail(1)
    ranked = sorted(classes, key=lambda c: -float(last[f"p_{c}"].item()))[:top]
    palette = hv.Cycle.default_cycles["default_colors"]
    layers = [
        hv.Curve((frame["time"], frame[f"p_{c}"]), "time", "probability", label=c).opts(
            color=palette[k % len(palette)], line_width=2, tools=TOOLS
        )
        for k, c in enumerate(ranked)
    ]
    if original is not None:
        layers += [
            hv.Curve((original["time"], original[f"p_{c}"]), "time", "probability").opts(
                color=palette[k % len(palette)], line_width=1.5, line_dash="dotted", alpha=0.8
            )
            for k, c in enumerate(ranked)
        ]
    if "unsure" in frame.columns:
        layers.append(
            hv.Curve((frame["time"], frame["unsure"]), "time", "probability", label="unsure").opts(
                color="#888888", line_dash="dashed", tools=TOOLS
            )
        )
    return hv.Overlay(layers).opts(
        title="Probability after each point",
        xlabel="time of the last point used (MJD)",
        ylim=(0, 1),
        legend_position="right",
        **_WIDE,
    )


def attention_map(matrix: np.ndarray, *, title: str) -> hv.Image:
    """(T, T) attention weights, query point on the y axis and key point on the x axis."""
    size = matrix.shape[0]
    image = hv.Image(
        np.flipud(matrix),
        bounds=(-0.5, -0.5, size - 0.5, size - 0.5),
        kdims=["key point", "query point"],
        vdims=["weight"],
    )
    return image.opts(
        cmap="viridis",
        colorbar=True,
        tools=TOOLS,
        title=title,
        responsive=True,
        height=360,
        invert_yaxis=True,
    )


def continuation(
    points: pl.DataFrame,
    *,
    band: str,
    times: np.ndarray,
    samples: np.ndarray,
    quantiles: Mapping[float, np.ndarray],
    history: float,
    left_out: pl.DataFrame | None = None,
) -> hv.Overlay:
    """Plot the last ``history`` days of ``band``, sampled futures and the 68 % / 95 % bands.

    ``left_out`` (stored observations a what-if edit leaves out) are drawn as grey crosses.
    """
    start = float(np.min(times)) - history
    observed = points.filter((pl.col("band") == band) & (pl.col("time") >= start))
    colour = band_colour(float(observed["wavelength"][0])) if observed.height else "#333333"
    layers = [
        hv.Area(
            (times, quantiles[0.025], quantiles[0.975]), "time", ["flux", "flux_high"], label="95 %"
        ).opts(color=colour, alpha=0.15),
        hv.Area(
            (times, quantiles[0.16], quantiles[0.84]), "time", ["flux", "flux_high"], label="68 %"
        ).opts(color=colour, alpha=0.3),
    ]
    layers += [
        hv.Curve((times, path), "time", "flux").opts(color=colour, alpha=0.35, line_width=1)
        for path in samples
    ]
    layers.append(
        hv.Curve((times, quantiles[0.5]), "time", "flux", label="median").opts(
            color=colour, line_width=2
        )
    )
    layers.append(
        hv.ErrorBars(observed.to_pandas(), "time", ["flux", "flux_err"]).opts(color=colour)
    )
    layers.append(
        hv.Scatter(observed.to_pandas(), "time", ["flux", "band"], label="observed").opts(
            color=colour, size=5, tools=TOOLS
        )
    )
    if left_out is not None:
        shown = pl.col("time").is_between(start, float(np.max(times)))
        ghosts = left_out.filter((pl.col("band") == band) & shown)
        layers.append(
            hv.Scatter(ghosts.to_pandas(), "time", ["flux", "band"], label="left out").opts(
                color="#888888", marker="x", size=8, line_width=2, tools=TOOLS
            )
        )
    return hv.Overlay(layers).opts(
        title=plot_title(f"Generated continuations ({band.split('_', 1)[-1]} band)"),
        xlabel="time (MJD)",
        ylabel="flux (FLUXCAL)",
        legend_position="right",
        **_WIDE,
    )


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
