"""Map page driven without a browser: colouring, box/lasso selection, click, export."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from bokeh.document import Document
from bokeh.models import ColorBar, ImageRGBA, Plot

from app import latent_map
from app.latent_map import LatentMapView
from engine.catalog import Catalog, ModelProducts
from tests.app.test_neighbours import MODEL


@pytest.fixture
def mapped(state, small_catalog) -> LatentMapView:
    """The map of the small catalogue on a grid: object i at (i mod 5, i div 5)."""
    ids = small_catalog.table["object_id"]
    n = ids.len()
    position = np.arange(n)
    products = ModelProducts(
        umap=pl.DataFrame({"object_id": ids, "x": position % 5, "y": position // 5}),
        predictions=pl.DataFrame(
            {"object_id": ids, "pred_class": ["A", "B"] * (n // 2) + ["A"] * (n % 2),
             "confidence": np.linspace(0.1, 1.0, n)}
        ),
        anomaly=pl.DataFrame({"object_id": ids, "gmm_nll": position.astype(float)}),
    )  # fmt: skip
    state.catalog = Catalog(name="mapped", table=small_catalog.table, products={MODEL: products})
    state.page = "map"
    return LatentMapView(state=state)


def _render(view: LatentMapView):
    """Bokeh figure of the map."""
    return view._plot().get_root(Document()).select_one({"type": Plot})


@pytest.mark.parametrize(
    ("colour_by", "column"),
    [
        ("label", "label"),
        ("predicted class", "pred_class"),
        ("confidence", "confidence"),
        ("anomaly score", "anomaly_gmm_nll"),
    ],
)
def test_every_colouring_draws(mapped, colour_by, column):
    mapped.colour_by = colour_by
    assert mapped.colour_column() == column
    figure = _render(mapped)
    assert figure.title.text.startswith(f"UMAP of {mapped.frame().height} objects")
    if column in ("label", "pred_class"):
        (item,) = figure.legend[0].items  # one entry per category, drawn from a data column
        legend = item.renderers[0].data_source.data[item.label.field]
        assert sorted(set(legend)) == sorted(mapped.frame()[column].drop_nulls().unique())
        assert figure.legend[0] in figure.right  # outside the plot area: it hides no point
        assert not figure.select({"type": ColorBar})
    else:
        assert not figure.legend and len(figure.select({"type": ColorBar})) == 1


def test_box_or_lasso_selection_fills_the_table_and_the_export(mapped):
    _render(mapped)
    ids = mapped.frame()["object_id"]
    mapped.streams["select"].event(index=[4, 0, 7])
    assert mapped.selected == ids.gather([0, 4, 7]).to_list()
    assert list(mapped._table.value["object_id"]) == mapped.selected
    assert "**3** objects selected" in mapped._count.object
    csv = pl.read_csv(mapped.export("csv"), schema_overrides={"object_id": pl.String})
    parquet = pl.read_parquet(mapped.export("parquet"))
    assert csv["object_id"].to_list() == parquet["object_id"].to_list() == mapped.selected
    assert {"label", "pred_class", "confidence", "x", "y"} <= set(parquet.columns)
    mapped.streams["select"].event(index=[])
    assert mapped.selected == [] and len(mapped._table.value) == 0


def test_bounds_query_selects_inside_the_box(mapped, monkeypatch):
    monkeypatch.setattr(latent_map, "PLAIN_LIMIT", 3)  # the large-catalogue path
    _render(mapped)
    assert "select" not in mapped.streams
    mapped.streams["bounds"].event(bounds=(0.5, -0.5, 2.5, 1.5))  # x in {1, 2}, y in {0, 1}
    frame = mapped.frame()
    expected = frame.filter(pl.col("x").is_in([1.0, 2.0]) & pl.col("y").is_in([0.0, 1.0]))
    assert mapped.selected == expected["object_id"].to_list() and len(mapped.selected) == 4


def test_click_inspects_the_nearest_object(mapped, state):
    _render(mapped)
    mapped.streams["tap"].event(x=2.1, y=0.9)
    assert state.page == "inspect"
    assert state.object_id == mapped.frame()["object_id"][7]  # (2, 1)


def test_model_without_a_map_is_explained(state, small_catalog):
    state.page = "map"
    view = LatentMapView(state=state)
    assert "No map" in view._plot().object
    assert view.param.scorer.objects == []


def test_markers_shrink_with_the_number_of_points_within_bounds():
    sizes = [latent_map.marker_size(n) for n in (1, 40, 1_000, 50_000, 10**6)]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] == 10.0 and sizes[-1] == 2.0
    assert latent_map.marker_size(1_000) == pytest.approx(7.0)


def test_small_maps_are_padded_markers_and_large_ones_datashaded(mapped, monkeypatch):
    figure = _render(mapped)
    (points,) = [r for r in figure.renderers if "x" in getattr(r.data_source, "data", {})]
    assert points.glyph.size == pytest.approx(latent_map.marker_size(mapped.frame().height))
    x = mapped.frame()["x"]
    assert figure.x_range.start < x.min() and figure.x_range.end > x.max()  # padded
    monkeypatch.setattr(latent_map, "PLAIN_LIMIT", 3)
    assert _render(mapped).select({"type": ImageRGBA})  # the datashaded image
