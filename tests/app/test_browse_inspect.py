"""Browse and Inspect pages driven without a browser."""

from __future__ import annotations

from types import SimpleNamespace

import holoviews as hv
import numpy as np
import panel as pn
import polars as pl
import pytest
from bokeh.document import Document

from app.browse import ALL, IN_DOMAIN, OUT_OF_DOMAIN, BrowseView
from app.inspector import ALL_BANDS, InspectorView, PeriodogramView
from engine.catalog import Catalog, ModelProducts
from tests.app.conftest import PERIODIC_ID
from tests.app.test_neighbours import MODEL


def _markdown(viewable) -> str:
    return "\n".join(str(m.object) for m in viewable.select(pn.pane.Markdown))


def _alerts(viewable) -> list[str]:
    return [str(a.object) for a in viewable.select(pn.pane.Alert)]


def test_browse_lists_and_filters(bare_state):
    view = BrowseView(state=bare_state)
    n = len(bare_state.catalog)
    assert len(view._table.value) == n
    assert view.param.label.objects == [ALL, *bare_state.catalog.classes()]
    assert view.param.predicted.objects == [ALL]  # no model products in this catalogue

    view.label = "RRL"
    assert set(view._table.value["label"]) == {"RRL"}
    view.param.update(label=ALL, search=PERIODIC_ID[:4])
    assert PERIODIC_ID in set(view._table.value["object_id"])
    assert all(PERIODIC_ID[:4] in i for i in view._table.value["object_id"])
    view.param.update(search="", min_points=300)
    assert (view._table.value["n_points"] >= 300).all() and len(view._table.value) < n
    assert f"of {n:,} objects" in view._count.object


def test_clicking_a_row_opens_the_object(bare_state):
    view = BrowseView(state=bare_state)
    view.label = "RRL"
    view._on_click(SimpleNamespace(row=0))
    assert bare_state.page == "inspect"
    assert bare_state.object_id == view._table.value.iloc[0]["object_id"]


def test_browse_follows_uploads(bare_state, small_catalog):
    view = BrowseView(state=bare_state)
    extra = small_catalog.table.head(2).with_columns(
        pl.concat_str(pl.lit("up-"), pl.col("object_id")).alias("object_id")
    )
    bare_state.catalog = small_catalog.add(extra, source="mine.csv")
    assert "mine.csv" in view.param.source.objects
    view.source = "mine.csv"
    assert list(view._table.value["object_id"]) == extra["object_id"].to_list()


def _domain_select(view: BrowseView) -> pn.widgets.Select:
    (select,) = [w for w in view.__panel__().select(pn.widgets.Select) if w.name == "Domain"]
    return select


def test_browse_filters_on_the_domain_when_predictions_have_it(state, small_catalog):
    ids = small_catalog.table["object_id"]
    score = np.linspace(0.0, 1.0, ids.len()) ** 3  # 3 significant digits of small values too
    predictions = pl.DataFrame(
        {
            "object_id": ids,
            "pred_class": "SNIa",
            "confidence": 0.5,
            "domain_score": score,
            "in_domain": score <= 0.95,
            "domain_reason": np.where(score <= 0.95, "", "embedding farther"),
        }
    )
    view = BrowseView(state=state)
    assert not _domain_select(view).visible  # the catalogue has no domain columns
    state.catalog = Catalog(
        name="sample",
        table=small_catalog.table,
        products={state.model: ModelProducts(predictions=predictions)},
    )
    assert _domain_select(view).visible
    shown = view._table.value
    assert shown["domain_score"].tolist() == [float(f"{v:.3g}") for v in score]
    assert view._table.titles["domain_score"] == "domain score"
    view.domain = OUT_OF_DOMAIN
    assert set(view._table.value["object_id"]) == set(ids.filter(score > 0.95))
    view.domain = IN_DOMAIN
    assert len(view._table.value) == (score <= 0.95).sum()


def test_inspector_without_object_says_what_to_do(bare_state):
    view = InspectorView(state=bare_state)
    assert view._header() == view._main() == ""  # nothing is drawn off screen
    bare_state.page = "inspect"
    assert "Pick an object" in _alerts(view._header())[0]
    assert view._main() == view._edit_bar() == ""


def test_only_the_visible_inspector_panel_computes(bare_state):
    view = InspectorView(state=bare_state)
    panels = list(view._panels.values())
    assert not any(p.shown for p in panels)
    bare_state.inspect(PERIODIC_ID)
    assert [p.shown for p in panels] == [True] + [False] * (len(panels) - 1)
    view._tabs.active = 2
    assert [p.shown for p in panels] == [False, False, True] + [False] * (len(panels) - 3)
    bare_state.page = "vetting"
    assert not any(p.shown for p in panels)


def test_inspector_shows_the_object_in_flux_and_magnitudes(bare_state):
    bare_state.inspect(PERIODIC_ID)
    view = InspectorView(state=bare_state)
    main = view._main()
    text = _markdown(view._header())
    assert f"Object {PERIODIC_ID}" in text and "Known class: **RRL**" in text
    assert f"?object={PERIODIC_ID}" in text
    plot = main.select(pn.pane.HoloViews)[0].object
    assert not plot.opts.get().kwargs.get("invert_yaxis")
    view.unit = "mag"
    plot = view._main().select(pn.pane.HoloViews)[0].object
    assert plot.opts.get().kwargs["invert_yaxis"]
    assert plot.get(0).vdims[0].name == "mag"
    pn.panel(view).get_root(Document())  # the whole page renders


def test_inspector_unknown_object_is_a_warning(bare_state):
    bare_state.inspect("no-such-id")
    view = InspectorView(state=bare_state)
    assert "no object with id" in _alerts(view._header())[0]
    assert view._main() == view._edit_bar() == ""


def test_typing_an_id_opens_it(bare_state):
    view = InspectorView(state=bare_state)
    view._go_to.value = PERIODIC_ID
    assert (bare_state.object_id, bare_state.page) == (PERIODIC_ID, "inspect")


def test_periodogram_of_a_periodic_star(bare_state):
    bare_state.object_id = PERIODIC_ID
    view = PeriodogramView(state=bare_state)
    assert view.param.band.objects[0] == ALL_BANDS and "lsst_g" in view.param.band.objects
    points, result = view.compute()
    assert result.best_power > 0.5 and len(result.bands) == 6
    output = view._plots()
    assert "Best period" in _markdown(output)
    assert len(output.select(pn.pane.Bokeh)) == 2
    view.band = "lsst_g"
    points, single = view.compute()
    assert single.bands == ("lsst_g",) and set(points["band"]) == {"lsst_g"}
    assert single.best_period == pytest.approx(result.best_period, rel=0.01)


def test_periodogram_explains_when_it_cannot_run(bare_state):
    bare_state.object_id = PERIODIC_ID
    view = PeriodogramView(state=bare_state, min_period=999.0)
    assert "No periodogram" in _alerts(view._plots())[0]


def test_plots_keep_the_png_save_tool(bare_state):
    bare_state.inspect(PERIODIC_ID)
    plot = InspectorView(state=bare_state)._main().select(pn.pane.HoloViews)[0].object
    rendered = hv.render(plot, backend="bokeh")
    periodogram = PeriodogramView(state=bare_state)._plots().select(pn.pane.Bokeh)
    for figure in [rendered, *(pane.object for pane in periodogram)]:
        assert any(type(t).__name__ == "SaveTool" for t in figure.toolbar.tools)


def test_browse_titles_anomaly_scores_by_scorer(state, small_catalog):
    ids = small_catalog.table["object_id"]
    products = ModelProducts(
        anomaly=pl.DataFrame({"object_id": ids, "knn_distance": np.linspace(0, 1, ids.len())})
    )
    state.catalog = Catalog(name="scored", table=small_catalog.table, products={MODEL: products})
    state.model = MODEL
    table = BrowseView(state=state)._table
    assert table.titles["anomaly_knn_distance"] == "knn distance"
    assert table.value["anomaly_knn_distance"].max() == pytest.approx(1.0)


def test_browse_shows_model_outputs_to_three_significant_digits(state, small_catalog):
    ids = small_catalog.table["object_id"]
    scores = np.geomspace(1.23456e-5, 12345.678, ids.len())
    products = ModelProducts(
        predictions=pl.DataFrame(
            {
                "object_id": ids,
                "pred_class": "SNIa",
                "confidence": pl.Series(
                    np.linspace(0.1234567, 0.9876543, ids.len()), dtype=pl.Float32
                ),
            }
        ),
        anomaly=pl.DataFrame({"object_id": ids, "gmm_nll": scores}),
    )
    state.catalog = Catalog(name="scored", table=small_catalog.table, products={MODEL: products})
    state.model = MODEL
    shown = BrowseView(state=state)._table.value
    assert shown["confidence"].iloc[0] == 0.123  # float64: no float32 tail in the browser
    assert shown["confidence"].iloc[-1] == 0.988
    assert shown["anomaly_gmm_nll"].iloc[0] == 1.23e-5
    assert shown["anomaly_gmm_nll"].iloc[-1] == 12300.0
    full = state.catalog.summary(MODEL)  # what exports read: whole
    assert full["anomaly_gmm_nll"][-1] == pytest.approx(12345.678)
