"""Interaction latency of the explorer app, measured on the server (no browser).

What a user waits for after a click is the server building the Bokeh models of the new view
(this script) plus the network and the browser drawing them (not measured here). Every
timing renders the view to a Bokeh document (``get_root``), as the served app does.

* **object**: the inspector on the shipped sample catalogue and models: header and light
  curve, then each tab (periodogram, probabilities, timeline, attention, continuations,
  neighbours) for ``--objects`` objects; p50 and p95 per view. The ratio compares the same
  object view in a catalogue of ``--large`` objects (the sample resampled with new ids) with
  the 1,002-object sample: looking an object up must not slow with the catalogue's size.
* **map**: the Map page on a synthetic UMAP of ``--map-points`` objects (clustered 2-D
  points, short light curves): first draw, re-colouring, a zoom (datashader re-aggregates),
  a box selection (bounds query feeding the table) and a click (nearest object). Baseline:
  the same points at ``--baseline-points`` drawn as plain Bokeh glyphs (every point sent to
  the browser) against the datashaded map at that size: time and document size.

* **session**: a new session on the shipped sample: server time to build and render its first
  page, and the document the browser receives, with pages built when first shown against the
  baseline of every page built at session start (timed alternately, ``--sessions`` each).

* **upload**: placing ``--upload-objects`` uploaded objects (sample objects under new ids) in
  the shipped sample catalogue with every catalogue model (embed, UMAP ``transform``, anomaly
  scores, predictions), as the Upload page does: with each model's embedder, map and scorers
  loaded once per process (``engine.index.catalog_build._placer``) against the baseline of
  loading them for every upload (the cache cleared), alternately, ``--uploads`` times each.

* **edit**: what-if edits in the inspector (hide ``--edit-hide`` random points, cut the curve
  at the middle of its span, add a hypothetical point) on ``--objects`` sample objects cut to
  exactly ``--edit-points`` points, with the shipped ATCAT and the Probabilities tab open: server
  time of one edit = the edit bar's update, the redrawn light curve and the probabilities of
  the edited curve beside the stored one (whose prediction is kept while the object stays).
  The other tabs are timed as they would redraw if open; continuations are only sampled when
  asked for (their Generate button), so they are not part of an edit.

Run from the repository root (``--quick`` shrinks everything for a smoke test)::

    .venv/bin/python benchmarks/app_latency.py
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "APP_LATENCY.md"
SAMPLE_CATALOG = ROOT / "sample_data" / "catalog"
#: server time one what-if edit may take (issue 15)
EDIT_BUDGET_MS = 300


def timed(action: Callable[[], object]) -> float:
    """Seconds taken by ``action()``."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def render(viewable) -> object:
    """Build the Bokeh model of a Panel object in a fresh document, as a served session would."""
    import panel as pn
    from bokeh.document import Document

    return pn.panel(viewable).get_root(Document())


def document_bytes(viewable) -> int:
    """Size of the JSON a browser would receive for ``viewable`` (Bokeh document)."""
    import panel as pn
    from bokeh.core.json_encoder import serialize_json
    from bokeh.document import Document

    document = Document()
    document.add_root(pn.panel(viewable).get_root(document))
    return len(serialize_json(document.to_json()))


def quantiles(seconds: list[float]) -> dict:
    """p50 and p95 in milliseconds."""
    ms = sorted(1000 * s for s in seconds)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return {"p50_ms": statistics.median(ms), "p95_ms": p95, "n": len(ms)}


def scratch_labels():
    """A label store in a temporary folder (the views need one; nothing is labelled)."""
    from engine.labels import LabelStore

    return LabelStore(Path(tempfile.mkdtemp(prefix="catscope-bench-")) / "labels.db")


# -- object view -----------------------------------------------------------------------------
def inspector_timings(catalog, object_ids: list[str], catalog_dir: Path | None) -> dict:
    """p50/p95 of every inspector view for ``object_ids`` in ``catalog``."""
    from app.inspector import InspectorView
    from app.state import AppState
    from engine.models.registry import available_models

    models = [m for m in available_models() if m.name == "atcat-plasticc"]
    state = AppState(catalog=catalog, labels=scratch_labels(), models=models, page="inspect")
    view = InspectorView(state=state, catalog_dir=str(catalog_dir) if catalog_dir else None)
    panels = view._panels
    view._neighbours.shown = True  # tabs compute only when shown; each view is timed on its own
    steps: dict[str, Callable[[], object]] = {
        "header + light curve": lambda: render(view._main()),
        "periodogram": lambda: render(panels["Periodogram"]._plots()),
        "probabilities": lambda: render(panels["Probabilities"].content()),
        "timeline": lambda: render(panels["Timeline"].content()),
        "attention": lambda: render(panels["Attention"].content()),
        "continuations (20 paths)": lambda: render(panels["Continuations"].content()),
        "neighbours (10 thumbnails)": lambda: render(view._neighbours._content()),
    }
    state.object_id = object_ids[0]
    for step in steps.values():  # load the model, build caches, first kernels
        step()
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    seconds["object view (light curve + probabilities)"] = []
    for object_id in object_ids[1:]:
        state.object_id = object_id
        for name, step in steps.items():
            seconds[name].append(timed(step))
        seconds["object view (light curve + probabilities)"].append(
            seconds["header + light curve"][-1] + seconds["probabilities"][-1]
        )
    state.labels.close()
    return {name: quantiles(values) for name, values in seconds.items()}


def resampled_catalog(catalog, n: int, seed: int = 0):
    """The catalogue's light curves resampled with replacement to ``n`` objects, new ids."""
    from engine.catalog import Catalog

    rows = np.random.default_rng(seed).integers(0, len(catalog), n)
    table = catalog.table[rows].with_columns(
        pl.format("bench{}", pl.int_range(pl.len())).alias("object_id")
    )
    return Catalog(name=f"resampled-{n}", table=table)


def section_object(args) -> dict:
    from engine.catalog import Catalog

    catalog_dir = SAMPLE_CATALOG
    catalog = Catalog.load(catalog_dir)
    ids = catalog.table["object_id"].head(args.objects + 1).to_list()
    small = inspector_timings(catalog, ids, catalog_dir)
    large_catalog = resampled_catalog(catalog, args.large)
    large_ids = large_catalog.table["object_id"].tail(args.objects + 1).to_list()
    large = inspector_timings(large_catalog, large_ids, None)
    del large_catalog
    gc.collect()
    return {"sample": small, "large": large, "n_sample": len(catalog), "n_large": args.large}


# -- map -------------------------------------------------------------------------------------
def synthetic_map_catalog(n: int, seed: int = 0):
    """``n`` objects with 3-point light curves, a clustered UMAP, predictions and scores."""
    from engine.catalog import Catalog, ModelProducts

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8.0, size=(40, 2))
    cluster = rng.integers(0, len(centres), n)
    xy = centres[cluster] + rng.normal(scale=0.7, size=(n, 2))
    ids = pl.Series("object_id", [f"m{i}" for i in range(n)])
    classes = np.array(["SNIa", "SNII", "AGN", "RRL", "EB", "Mira", "TDE", "KN"])
    points = 3
    table = pl.DataFrame({
        "object_id": ids,
        "time": pl.Series([[60000.0, 60001.0, 60002.0]] * n, dtype=pl.List(pl.Float64)),
        "band": pl.Series([["lsstg", "lsstr", "lssti"]] * n, dtype=pl.List(pl.String)),
        "wavelength": pl.Series([[4827.0, 6223.0, 7546.0]] * n, dtype=pl.List(pl.Float64)),
        "flux": pl.Series(rng.normal(100, 10, (n, points)).tolist(), dtype=pl.List(pl.Float64)),
        "flux_err": pl.Series([[5.0] * points] * n, dtype=pl.List(pl.Float64)),
        "detected": pl.Series([[True] * points] * n, dtype=pl.List(pl.Boolean)),
        "label": classes[cluster % len(classes)],
    })  # fmt: skip
    products = ModelProducts(
        umap=pl.DataFrame({"object_id": ids, "x": xy[:, 0], "y": xy[:, 1]}),
        predictions=pl.DataFrame({
            "object_id": ids,
            "pred_class": classes[rng.integers(0, len(classes), n)],
            "confidence": rng.uniform(0.2, 1.0, n),
        }),
        anomaly=pl.DataFrame({"object_id": ids, "gmm_nll": rng.gumbel(size=n)}),
    )  # fmt: skip
    return Catalog(name=f"map-{n}", table=table, products={"bench": products})


def map_view(catalog):
    """The Map page of a session on ``catalog`` with its model chosen."""
    from app.latent_map import LatentMapView
    from app.state import AppState
    from engine.models.registry import ModelInfo

    info = ModelInfo(
        name="bench", family="atcat", path=ROOT, capabilities=frozenset({"classify", "embed"})
    )
    state = AppState(catalog=catalog, labels=scratch_labels(), models=[info], page="map")
    return LatentMapView(state=state)


def range_stream(pane):
    """The RangeXY stream the datashaded image of a rendered map pane listens to."""
    import holoviews as hv

    def streams(element):
        if isinstance(element, hv.DynamicMap):
            yield from element.streams
            for upstream in element.callback.inputs:
                yield from streams(upstream)
        elif isinstance(element, hv.Overlay):
            for layer in element:
                yield from streams(layer)

    return next(s for s in streams(pane.object) if isinstance(s, hv.streams.RangeXY))


def map_timings(n: int) -> dict:
    """Latencies of the Map page at ``n`` points."""
    catalog = synthetic_map_catalog(n)
    view = map_view(catalog)
    result = {}
    pane = None

    def first_draw():
        nonlocal pane
        pane = view._plot()
        render(pane)

    result["first draw (summary, join, datashade)"] = timed(first_draw)
    result["redraw (same colouring)"] = timed(lambda: render(view._plot()))
    view.colour_by = "confidence"
    result["re-colour by confidence"] = timed(lambda: render(view._plot()))
    view.colour_by = "label"
    pane = view._plot()
    render(pane)
    stream = range_stream(pane)
    zooms = []
    for scale in (4.0, 2.0, 1.0, 0.5):
        zooms.append(
            timed(lambda s=scale: stream.event(x_range=(-s * 10, s * 10), y_range=(-s * 8, s * 8)))
        )
    result["zoom (datashader re-aggregates), median of 4"] = statistics.median(zooms)
    result["box selection (bounds query + table)"] = timed(
        lambda: view.select_bounds((-3.0, -3.0, 3.0, 3.0))
    )
    result["selected"] = len(view.selected)
    result["click (nearest object)"] = timed(lambda: view.nearest(1.0, 1.0))
    return result


def plain_bokeh_timings(n: int) -> dict:
    """The baseline: every point as a Bokeh glyph (what the map would be without datashader)."""
    import holoviews as hv

    catalog = synthetic_map_catalog(n)
    view = map_view(catalog)
    frame = view.frame()
    points = view._points(frame, "label")
    plain = hv.Points(points.data, ["x", "y"], ["object_id", "label"]).opts(
        color="label", cmap="Category10", size=3, responsive=True, height=560
    )
    seconds = timed(lambda: render(plain))
    shaded = view._plot()
    return {
        "plain seconds": seconds,
        "plain bytes": document_bytes(plain),
        "datashader seconds": timed(lambda: render(view._plot())),
        "datashader bytes": document_bytes(shaded),
    }


def section_map(args) -> dict:
    import holoviews as hv

    hv.extension("bokeh")
    return {
        "large": map_timings(args.map_points),
        "n_large": args.map_points,
        "baseline": plain_bokeh_timings(args.baseline_points),
        "n_baseline": args.baseline_points,
    }


def section_session(args) -> dict:
    """A new session's server time and first document: pages built when shown, against all.

    The baseline builds every page at session start, as the app did before; the two are timed
    alternately, ``--sessions`` times each, on the shipped sample catalogue and models.
    """
    from app.main import create_app
    from app.state import PAGES

    def every_page():
        app = create_app()
        for page in PAGES:
            app.view(page)
        return app

    render(create_app())  # warm the process-wide caches (catalogue, models, label store)
    lazy, eager = [], []
    for _ in range(args.sessions):
        lazy.append(timed(lambda: render(create_app())))
        eager.append(timed(lambda: render(every_page())))
    return {
        "lazy": quantiles(lazy),
        "eager": quantiles(eager),
        "lazy bytes": document_bytes(create_app()),
        "eager bytes": document_bytes(every_page()),
        "n": args.sessions,
    }


def section_upload(args) -> dict:
    """Place an upload in the sample catalogue with loaded placers, and loading them each time."""
    from engine.data.schema import read_table
    from engine.index.catalog_build import _load_placer, place_objects

    table = read_table(SAMPLE_CATALOG / "objects.parquet").head(args.upload_objects)
    table = table.with_columns(pl.col("object_id") + "-upload")

    def place():
        place_objects(SAMPLE_CATALOG, table, threads=1)

    def cold():
        _load_placer.cache_clear()
        place()

    place()  # warm torch and the imports for both
    cached, loaded = [], []
    for _ in range(args.uploads):
        loaded.append(timed(cold))
        place()  # prime the cache after a cold run
        cached.append(timed(place))
    return {"cached": quantiles(cached), "loaded": quantiles(loaded), "n": args.upload_objects}


# -- what-if edits ---------------------------------------------------------------------------
def section_edit(args) -> dict:
    """p50/p95 of a what-if edit's server work on ``--edit-points``-point curves."""
    from app.inspector import InspectorView
    from app.state import AppState
    from engine.catalog import Catalog
    from engine.data.edit import CurveEdit, hypothetical_point
    from engine.data.schema import POINT_COLUMNS
    from engine.models.registry import available_models

    full = Catalog.load(SAMPLE_CATALOG).table
    long = full.filter(pl.col("time").list.len() >= args.edit_points).head(args.objects + 1)
    table = long.with_columns(pl.col(c).list.head(args.edit_points) for c in POINT_COLUMNS)
    catalog = Catalog(name=f"edit-{args.edit_points}", table=table)
    models = [m for m in available_models() if m.name == "atcat-plasticc"]
    state = AppState(catalog=catalog, labels=scratch_labels(), models=models, page="inspect")
    view = InspectorView(state=state)
    panels = view._panels
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()[0]

    def edits(times: np.ndarray) -> dict[str, CurveEdit]:
        point = hypothetical_point(times[-1] + 3.0, "lsst_r", flux=500.0, flux_err=30.0)
        return {
            f"hide {args.edit_hide} points": CurveEdit().hide(
                rng.choice(times.size, args.edit_hide, replace=False)
            ),
            "cut at mid-span": CurveEdit().cut_at(float(times[0] + times[-1]) / 2),
            "add a point": CurveEdit().add(point),
        }

    on_edit = {
        "light curve": lambda: render(view._main()),
        "probabilities (edited + stored)": lambda: render(panels["Probabilities"].content()),
    }
    tabs = {
        "timeline tab, if open": lambda: render(panels["Timeline"].content()),
        "periodogram tab, if open": lambda: render(panels["Periodogram"]._plots()),
        "attention tab, if open": lambda: render(panels["Attention"].content()),
    }
    seconds: dict[str, list[float]] = {"edit (bar + light curve + probabilities)": []}
    seconds |= {name: [] for name in [*on_edit, *tabs]}
    for k, object_id in enumerate(table["object_id"]):
        state.object_id = object_id
        for step in [*on_edit.values(), *tabs.values()]:  # the object as opened, unedited
            step()
        for edit in edits(table["time"][k].to_numpy()).values():
            parts = [timed(lambda e=edit: setattr(state, "edit", e))]
            for name, step in on_edit.items():
                parts.append(timed(step))
                seconds[name].append(parts[-1])
            if k:  # the first object warms the kernels
                seconds["edit (bar + light curve + probabilities)"].append(sum(parts))
                for name, step in tabs.items():
                    seconds[name].append(timed(step))
            else:
                for name in on_edit:
                    seconds[name].pop()
    state.labels.close()
    return {
        "timings": {name: quantiles(values) for name, values in seconds.items()},
        "points": args.edit_points,
        "objects": table.height - 1,
        "edits": list(edits(table["time"][0].to_numpy())),
        # what else ran on the machine: timings here scale with it
        "load": (load_before, os.getloadavg()[0], os.cpu_count()),
    }


# -- report ----------------------------------------------------------------------------------
def report(results: dict, args) -> str:
    lines = [
        "# App latency (server side)",
        "",
        "Written by `python benchmarks/app_latency.py` (module docstring: what is measured).",
        f"Command: `python benchmarks/app_latency.py {' '.join(args.argv)}`".rstrip() + ".",
        "",
    ]
    if "object" in results:
        r = results["object"]
        lines += [
            f"## Object view ({r['sample']['header + light curve']['n']} objects each)",
            "",
            f"| view | p50 ms ({r['n_sample']:,} objects) | p95 ms | p50 ms ({r['n_large']:,} "
            "objects) | p95 ms | large / sample (p50) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, small in r["sample"].items():
            large = r["large"].get(name)
            if large is None or name.startswith("neighbours"):
                cells = ["–", "–", "–"]  # the resampled catalogue has no FAISS index
            else:
                ratio = large["p50_ms"] / small["p50_ms"]
                cells = [f"{large['p50_ms']:.0f}", f"{large['p95_ms']:.0f}", f"{ratio:.2f}x"]
            lines.append(
                f"| {name} | {small['p50_ms']:.0f} | {small['p95_ms']:.0f} | "
                + " | ".join(cells)
                + " |"
            )
        lines.append("")
    if "map" in results:
        r = results["map"]
        large, base = r["large"], r["baseline"]
        lines += [f"## Map at {r['n_large']:,} points", "", "| action | ms |", "|---|---:|"]
        for name, value in large.items():
            if name != "selected":
                lines.append(f"| {name} | {1000 * value:.0f} |")
        lines += [
            "",
            f"The box selected {large['selected']:,} objects.",
            "",
            f"Baseline at {r['n_baseline']:,} points: plain Bokeh glyphs (every point sent to "
            "the browser) against the datashaded map.",
            "",
            "| map | server ms | document KiB |",
            "|---|---:|---:|",
            f"| plain Bokeh | {1000 * base['plain seconds']:.0f} | "
            f"{base['plain bytes'] / 2**10:,.0f} |",
            f"| datashader | {1000 * base['datashader seconds']:.0f} | "
            f"{base['datashader bytes'] / 2**10:,.0f} |",
            "",
            f"Ratios: plain / datashader server time **"
            f"{base['plain seconds'] / base['datashader seconds']:.1f}x**, document size **"
            f"{base['plain bytes'] / base['datashader bytes']:.0f}x**.",
        ]
    if "session" in results:
        r = results["session"]
        lazy, eager = r["lazy"], r["eager"]
        lines += [
            "",
            f"## A new session ({r['n']} of each, alternately)",
            "",
            "| pages built at start | p50 ms | p95 ms | first document KiB |",
            "|---|---:|---:|---:|",
            f"| when first shown (Browse) | {lazy['p50_ms']:.0f} | {lazy['p95_ms']:.0f} | "
            f"{r['lazy bytes'] / 2**10:,.0f} |",
            f"| all seven (before) | {eager['p50_ms']:.0f} | {eager['p95_ms']:.0f} | "
            f"{r['eager bytes'] / 2**10:,.0f} |",
            "",
            f"Ratios: all / when shown, server time (p50) **"
            f"{eager['p50_ms'] / lazy['p50_ms']:.1f}x**, document **"
            f"{r['eager bytes'] / r['lazy bytes']:.1f}x**.",
        ]
    if "upload" in results:
        r = results["upload"]
        cached, loaded = r["cached"], r["loaded"]
        lines += [
            "",
            f"## An upload of {r['n']} objects placed with every catalogue model "
            f"({cached['n']} of each, alternately)",
            "",
            "| embedders, maps, scorers | p50 ms | p95 ms |",
            "|---|---:|---:|",
            f"| loaded once per process | {cached['p50_ms']:.0f} | {cached['p95_ms']:.0f} |",
            f"| loaded for every upload (before) | {loaded['p50_ms']:.0f} | "
            f"{loaded['p95_ms']:.0f} |",
            "",
            f"Ratio: before / now (p50) **{loaded['p50_ms'] / cached['p50_ms']:.1f}x**.",
        ]
    if "edit" in results:
        r = results["edit"]
        lines += [
            "",
            f"## What-if edits of {r['points']}-point curves ({r['objects']} objects x "
            f"{len(r['edits'])} edits: {', '.join(r['edits'])})",
            "",
            "| server work of one edit | p50 ms | p95 ms | n |",
            "|---|---:|---:|---:|",
        ]
        for name, q in r["timings"].items():
            lines.append(f"| {name} | {q['p50_ms']:.0f} | {q['p95_ms']:.0f} | {q['n']} |")
        total = r["timings"]["edit (bar + light curve + probabilities)"]
        verdict = "met" if total["p95_ms"] <= EDIT_BUDGET_MS else "missed"
        lines += [
            "",
            f"Budget {EDIT_BUDGET_MS} ms per edit (p95): **{verdict}** ({total['p95_ms']:.0f} ms). "
            "Continuations are sampled only when their Generate button is pressed.",
            "",
            "Load average (1 min) at the start and the end: {:.1f} and {:.1f} on {} cores.".format(
                *r["load"]
            ),
        ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sections", default="object,map,session,upload", help="object,map,session,upload,edit"
    )
    parser.add_argument("--edit-points", type=int, default=300, help="points per edited curve")
    parser.add_argument("--edit-hide", type=int, default=5, help="points hidden by one edit")
    parser.add_argument("--uploads", type=int, default=5, help="uploads timed (each kind)")
    parser.add_argument("--upload-objects", type=int, default=100, help="objects per upload")
    parser.add_argument("--sessions", type=int, default=20, help="new sessions timed (each kind)")
    parser.add_argument("--objects", type=int, default=20, help="objects timed per catalogue")
    parser.add_argument("--large", type=int, default=100_000, help="objects of the large catalogue")
    parser.add_argument("--map-points", type=int, default=1_000_000)
    parser.add_argument("--baseline-points", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="tiny sizes; writes nothing")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.objects, args.large, args.map_points, args.baseline_points = 3, 5_000, 20_000, 5_000
        args.sessions, args.uploads, args.upload_objects = 2, 1, 5
    args.argv = argv
    return args


def main(argv: list[str]) -> None:
    import holoviews as hv
    import torch

    torch.set_num_threads(2)
    hv.extension("bokeh")
    args = parse_args(argv)
    results = {}
    sections = args.sections.split(",")
    if "object" in sections:
        results["object"] = section_object(args)
    if "map" in sections:
        results["map"] = section_map(args)
    if "session" in sections:
        results["session"] = section_session(args)
    if "upload" in sections:
        results["upload"] = section_upload(args)
    if "edit" in sections:
        results["edit"] = section_edit(args)
    text = report(results, args)
    print(text)
    if not args.quick:
        args.results.write_text(text)
        print(f"written to {args.results}")


if __name__ == "__main__":
    main(sys.argv[1:])
