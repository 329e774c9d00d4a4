"""Upload page: good files join the catalogue, bad ones end as messages."""

from __future__ import annotations

import numpy as np
import panel as pn
import polars as pl
import pytest

from app.upload import MAX_UPLOAD_BYTES, UploadView
from engine.catalog import OBJECTS_FILE
from tests.app.conftest import run_handler, shown

GOOD = b"""object_id,mjd,band,flux,flux_err
new1,60000.1,g,10.5,1.0
new1,60001.2,r,12.0,1.1
new1,60003.0,g,11.0,0.9
new2,60000.5,i,-3.0,2.0
new2,60002.5,z,4.0,2.0
new2,60003.5,z,5.0,2.0
"""


def _status(view: UploadView) -> tuple[str, str]:
    return view._status.alert_type, shown(view._status.object)


def test_a_good_file_is_added_and_scored(state):
    before = len(state.catalog)
    view = UploadView(state=state)
    view.upload("mine.csv", GOOD)
    kind, text = _status(view)
    assert kind == "success" and "Added 2 objects (6 points) from mine.csv" in text
    assert "Scored with tiny-atcat" in text
    catalog = state.catalog
    assert len(catalog) == before + 2 and catalog.uploaded == {
        "new1": "mine.csv",
        "new2": "mine.csv",
    }
    assert catalog.get("new1")["band"].to_list() == [["lsst_g", "lsst_r", "lsst_g"]]
    summary = catalog.summary("tiny-atcat").filter(pl.col("source") == "mine.csv")
    assert summary["pred_class"].is_not_null().all()


def test_without_a_model_uploads_are_added_unscored(bare_state):
    view = UploadView(state=bare_state)
    view.upload("mine.csv", GOOD)
    assert "Scored" not in _status(view)[1] and "new2" in bare_state.catalog.uploaded


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"object_id,mjd,band,flux,flux_err\na,60000,g,bright,1\n", "non-numeric"),
        (b"object_id,mjd,band,flux,flux_err\na,60000,g,1,0\n", "1 zero errors"),
        (b"\x00\x01\x02 not a table at all", "mine.csv"),
        (b"", "mine.csv"),
    ],
)
def test_bad_files_show_an_error_and_change_nothing(state, content, expected):
    catalog = state.catalog
    view = UploadView(state=state)
    view.upload("mine.csv", content)
    kind, text = _status(view)
    assert kind == "danger" and "Could not add mine.csv" in text and expected in text
    assert "catscope-upload-" not in text  # the temporary copy is not mentioned
    assert state.catalog is catalog


def test_strict_refuses_what_the_lenient_default_drops(state):
    content = b"object_id,mjd,band,flux,flux_err\na,1,g,1,1\na,2,g,2,0\na,3,g,3,1\na,4,g,4,1\n"
    view = UploadView(state=state, strict=True)
    view.upload("z.csv", content)
    assert _status(view)[0] == "danger" and "errors must be > 0" in _status(view)[1]
    view.strict = False
    view.upload("z.csv", content)
    assert _status(view)[0] == "success" and "1 zero errors" in _status(view)[1]


def test_missing_columns_open_the_mapping_form_and_a_mapping_fixes_them(state):
    content = b"ID,T,FLT,F,E\nx1,60000.0,g,5.0,1.0\nx1,60001.0,g,6.0,1.0\nx1,60002.0,g,6.0,1.0\n"
    view = UploadView(state=state)
    assert view._mapping.collapsed
    view.upload("odd.csv", content)
    assert _status(view)[0] == "danger" and not view._mapping.collapsed
    view.columns = "object_id=ID,time=T,band=FLT,flux=F,flux_err=E"
    view.upload("odd.csv", content)
    assert _status(view)[0] == "success" and "x1" in state.catalog.uploaded


def test_unknown_bands_can_be_mapped(state):
    content = b"object_id,mjd,band,flux,flux_err\nw1,60000,W,5,1\nw1,60001,W,6,1\nw1,60002,W,7,1\n"
    view = UploadView(state=state)
    view.upload("w.csv", content)
    assert _status(view)[0] == "danger" and "unknown band 'W'" in _status(view)[1]
    view.band_map = "W=6000"
    view.upload("w.csv", content)
    assert _status(view)[0] == "success"
    assert state.catalog.get("w1")["wavelength"].to_list() == [[6000.0, 6000.0, 6000.0]]


def test_an_object_of_a_user_band_can_be_inspected_and_continued(state):
    from app.model_views import ContinuationView, ProbabilityView

    content = b"object_id,mjd,band,flux,flux_err\nw1,60000,W,5,1\nw1,60001,W,6,1\nw1,60002,W,7,1\n"
    view = UploadView(state=state, band_map="W=6000")
    view.upload("w.csv", content)
    assert _status(view)[0] == "success"
    state.object_id = "w1"
    assert not ProbabilityView(state=state).content().select(pn.pane.Alert)
    continuation = ContinuationView(state=state, points_per_band=2, n_samples=2)
    assert continuation.bands == ["W"]
    run_handler(continuation._generate())
    assert continuation._output.select(pn.pane.Bokeh)  # drawn, not an error
    assert not continuation._output.select(pn.pane.Alert)


def test_a_messy_file_is_added_with_its_report_shown(state, small_catalog, tmp_path):
    from tests.messy import write_messy_csv

    table = small_catalog.table.head(10).with_columns(
        pl.concat_str(pl.lit("messy-"), pl.col("object_id")).alias("object_id")
    )
    injected = write_messy_csv(table, tmp_path / "m.csv", fraction=0.02)
    view = UploadView(state=state)
    view.upload("m.csv", (tmp_path / "m.csv").read_bytes())
    kind, text = _status(view)
    n = injected["sentinel_magnitudes"]
    assert kind == "success" and f"{n} sentinel mags, {n} zero errors, {n} same" in text
    report = str(view._report.object)
    assert report.startswith("**kept ") and f"| sentinel mags | dropped | {n} |" in report
    assert "| lsst\\_g | lsst\\_g | 4827 Å |" in report  # escaped Markdown, as shown


def test_bad_mapping_text_is_reported(state):
    view = UploadView(state=state, columns="object_id")
    view.upload("mine.csv", GOOD)
    assert _status(view)[0] == "danger" and "ROLE=COLUMN" in _status(view)[1]


def test_ids_already_in_the_catalogue_are_refused(state):
    view = UploadView(state=state)
    view.upload("mine.csv", GOOD)
    view.upload("again.csv", GOOD)
    kind, text = _status(view)
    assert kind == "danger" and "already in catalogue" in text


def test_parquet_canonical_tables_are_accepted(bare_state, small_catalog, tmp_path):
    table = small_catalog.table.head(2).with_columns(
        pl.concat_str(pl.lit("pq-"), pl.col("object_id")).alias("object_id")
    )
    table.write_parquet(tmp_path / "t.parquet")
    view = UploadView(state=bare_state)
    view.upload("t.parquet", (tmp_path / "t.parquet").read_bytes())
    assert _status(view)[0] == "success", _status(view)[1]
    assert set(bare_state.catalog.uploaded) == set(table["object_id"])


def test_oversized_uploads_are_refused_before_reading(bare_state, monkeypatch):
    view = UploadView(state=bare_state)
    monkeypatch.setattr(view, "read", lambda *_: pytest.fail("an oversized file was read"))
    view.upload("huge.csv", b"x" * (MAX_UPLOAD_BYTES + 1))
    kind, text = _status(view)
    assert kind == "danger" and "huge.csv is 100 MB; the page accepts up to 100 MB" in text
    assert "catscope ingest FILE --out TABLE.parquet" in text


def test_the_page_states_its_size_cap(bare_state):
    page = pn.panel(UploadView(state=bare_state))
    text = " ".join(shown(p.object) for p in page.select(pn.pane.Markdown))
    assert f"files up to {MAX_UPLOAD_BYTES // 1024**2} MB" in text
    assert "catscope ingest FILE --out TABLE.parquet" in text


def test_add_button_without_a_file_asks_for_one(bare_state):
    view = UploadView(state=bare_state)
    run_handler(view._on_add())
    assert _status(view) == ("warning", "Choose a file first.")


def test_add_button_reads_the_chosen_file(bare_state):
    view = UploadView(state=bare_state)
    view._file.param.update(value=GOOD, filename="mine.csv")
    run_handler(view._on_add())
    assert _status(view)[0] == "success" and "new1" in bare_state.catalog.uploaded
    assert not view._status.loading


def test_an_unexpected_failure_is_shown_not_raised(bare_state, monkeypatch):
    view = UploadView(state=bare_state)

    def broken(filename, content):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(view, "read", broken)
    view.upload("mine.csv", GOOD)
    assert _status(view) == (
        "danger",
        "Could not add mine.csv (unexpected RuntimeError: disk on fire).",
    )


def test_uploads_to_an_indexed_catalogue_are_placed_on_its_map(state, models_dir, tmp_path):
    from engine.catalog import Catalog
    from engine.index.catalog_build import build_catalog

    model = state.model_info
    folder = build_catalog(
        state.catalog.table, tmp_path / "cat", [str(model.path)], progress=False, threads=1
    )
    state.catalog = Catalog.load(folder)
    stored = (folder / OBJECTS_FILE).read_bytes()
    view = UploadView(state=state, catalog_dir=str(folder))
    view.upload("mine.csv", GOOD)
    kind, text = _status(view)
    assert kind == "success" and f"Placed on the map of {model.name}" in text
    products = state.catalog.products[model.name]
    for frame in (products.umap, products.anomaly, products.predictions):
        assert frame["object_id"].to_list()[-2:] == ["new1", "new2"]
    assert np.isfinite(products.umap.tail(2).select("x", "y").to_numpy()).all()
    assert (folder / OBJECTS_FILE).read_bytes() == stored  # the session's, not the folder's
