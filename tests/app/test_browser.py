"""The served app in headless Chromium: every page, deep links, upload, labelling, model picker."""

from __future__ import annotations

import re
import time

import pytest

from app.main import create_app
from app.screenshots import (
    DRAW_TIMEOUT_MS,
    EDITED,
    HARMLESS_CONSOLE,
    SHOTS,
    edit_curve,
    wait_until_drawn,
)
from engine.catalog import OBJECTS_FILE
from engine.data.schema import write_table
from engine.labels import LabelStore
from tests.app.conftest import PERIODIC_ID
from tests.app.test_upload import GOOD

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def served_map(serve_panel, small_catalog, models_dir, tmp_path_factory):
    """URL of the app serving a catalogue folder whose model has a map: objects on a grid."""
    import numpy as np
    import polars as pl

    from engine.catalog import ANOMALY_FILE, PREDICTIONS_FILE, UMAP_FILE
    from engine.models.registry import available_models

    folder = tmp_path_factory.mktemp("mapped")
    write_table(small_catalog.table, folder / OBJECTS_FILE)
    model = folder / available_models(models_dir)[0].name
    model.mkdir()
    ids = small_catalog.table["object_id"]
    position = np.arange(ids.len())
    pl.DataFrame({"object_id": ids, "x": position % 6, "y": position // 6}).write_parquet(
        model / UMAP_FILE
    )
    pl.DataFrame(
        {"object_id": ids, "pred_class": "SNIa", "confidence": np.linspace(0.2, 1, ids.len())}
    ).write_parquet(model / PREDICTIONS_FILE)
    pl.DataFrame({"object_id": ids, "gmm_nll": position * 1.0}).write_parquet(model / ANOMALY_FILE)
    return serve_panel(lambda: create_app(folder, models_dir, folder / "labels.db"))


@pytest.fixture(autouse=True)
def _patient(page):
    """Every wait of these tests allows as long as a page may take to draw on a loaded machine."""
    page.set_default_timeout(DRAW_TIMEOUT_MS)


@pytest.fixture
def errors(page):
    """Console errors and uncaught exceptions of the page; each test asserts it stays empty."""
    found: list[str] = []
    page.on(
        "console",
        lambda m: (
            found.append(m.text)
            if m.type == "error" and not HARMLESS_CONSOLE.search(m.text)
            else None
        ),
    )
    page.on("pageerror", lambda exc: found.append(str(exc)))
    page.on("requestfailed", lambda request: found.append(f"request failed: {request.url}"))
    return found


def _open(page, url: str, tab: str) -> None:
    page.goto(url)
    title, marker = SHOTS[tab]
    page.get_by_text(title, exact=True).first.click()
    wait_until_drawn(page, marker)


def test_every_page_opens(page, served, errors):
    url, _ = served
    page.goto(url)
    for key, (title, marker) in SHOTS.items():
        if key == "inspect":
            continue  # needs an object: see the deep-link test
        page.get_by_text(title, exact=True).first.click()
        wait_until_drawn(page, marker)
    assert errors == []


def test_deep_link_restores_the_object_and_the_url_follows(page, served, errors):
    url, _ = served
    page.goto(f"{url}/?object={PERIODIC_ID}")
    wait_until_drawn(page, "Best period")
    page.get_by_text(f"Object {PERIODIC_ID}").first.wait_for()
    page.get_by_text("Browse", exact=True).first.click()
    page.locator(".tabulator-row").nth(2).click()
    page.wait_for_url(re.compile(r"object=(?!296570)"))
    clicked = page.url.rsplit("object=", 1)[-1]
    page.get_by_text(re.compile(rf"^Object {clicked}\b")).first.wait_for()
    assert errors == []


def _open_probabilities(page, url: str) -> None:
    """Inspect the periodic object and open its Probabilities tab."""
    page.goto(f"{url}/?object={PERIODIC_ID}")
    wait_until_drawn(page, "Best period")
    page.get_by_text("Probabilities", exact=True).first.click()
    page.get_by_text(re.compile(r"^Predicted \S+ with confidence")).first.wait_for()


def test_model_panels_and_the_model_picker(page, served, errors):
    _open_probabilities(page, served[0])
    page.get_by_text("Continuations", exact=True).first.click()
    page.get_by_role("button", name="Generate").click()
    page.get_by_text(re.compile(r"^Sampled 20 futures")).first.wait_for()
    page.locator("select").first.select_option("(no model)")
    page.get_by_text("No model loaded").first.wait_for()
    assert errors == []


#: columns of the probability bars' data source: class -> [edited, stored (null if unedited)]
_BARS = """() => {
  for (const m of Bokeh.documents[0].all_models) {
    if (m.type !== "ColumnDataSource") continue;
    const get = (key) => (m.data instanceof Map ? m.data.get(key) : m.data[key]);
    if (get("class") && get("probability")) {
      const stored = get("stored") ? Array.from(get("stored")) : null;
      return [Array.from(get("class")), Array.from(get("probability")), stored];
    }
  }
  return null;
}"""


def _bars_when(page, ready, timeout_s: float = DRAW_TIMEOUT_MS / 1000) -> dict:
    """Probability bars (class -> (edited, stored)) once ``ready(bars)`` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = page.evaluate(_BARS)
        if found is not None:
            classes, edited, stored = found
            bars = {
                c: (p, stored[k] if stored else None)
                for k, (c, p) in enumerate(zip(classes, edited, strict=True))
            }
            if ready(bars):
                return bars
        assert time.monotonic() < deadline, f"bars never got ready: {found}"
        page.wait_for_timeout(200)


def test_what_if_edits_change_the_bars_and_reset_restores_them(page, served, errors):
    _open_probabilities(page, served[0])
    before = _bars_when(page, lambda bars: True)
    edit_curve(page)
    page.get_by_text(re.compile(r"^Edited curve: predicted")).first.wait_for()
    after = _bars_when(page, lambda bars: all(s is not None for _, s in bars.values()))
    assert {c: s for c, (_, s) in after.items()} == {c: p for c, (p, _) in before.items()}
    assert [p for p, _ in after.values()] != [p for p, _ in before.values()]
    assert page.get_by_text(
        re.compile(r"point\(s\) hidden; 1 hypothetical point")
    ).first.is_visible()
    page.get_by_role("button", name="Reset: show the stored curve").click()
    page.get_by_text(re.compile(r"^What if\?")).first.wait_for()
    restored = _bars_when(page, lambda bars: all(s is None for _, s in bars.values()))
    assert restored == before
    assert page.get_by_text(EDITED).count() == 0
    assert errors == []


def test_malformed_upload_shows_an_error_and_the_app_keeps_working(page, served, errors, tmp_path):
    url, _ = served
    _open(page, url, "upload")
    bad = tmp_path / "broken.csv"
    bad.write_text("object_id,mjd,band,flux,flux_err\na,60000,g,bright,1\n")
    page.locator("input[type=file]").set_input_files(bad)
    page.get_by_role("button", name="Add to catalogue").click()
    page.get_by_text("Could not add broken.csv").first.wait_for()
    assert page.get_by_text("non-numeric").first.is_visible()

    good = tmp_path / "mine.csv"
    good.write_bytes(GOOD)
    page.locator("input[type=file]").set_input_files(good)
    page.get_by_role("button", name="Add to catalogue").click()
    page.get_by_text("Added 2 objects").first.wait_for()
    page.get_by_text("(2 uploaded)").first.wait_for()
    page.get_by_text("Browse", exact=True).first.click()
    search = page.get_by_placeholder("object id contains...")
    search.fill("new")
    search.press("Enter")
    page.get_by_text("new1", exact=True).first.wait_for()
    page.get_by_text("new2", exact=True).first.wait_for()
    assert errors == []


@pytest.fixture(scope="module")
def served_with_domain(serve_panel, small_catalog, tmp_path_factory):
    """URL of the app serving the small catalogue with the shipped models (ATCAT has a domain
    reference)."""
    folder = tmp_path_factory.mktemp("served-domain")
    write_table(small_catalog.table, folder / "sample.parquet")
    return serve_panel(lambda: create_app(folder / "sample.parquet", None, folder / "labels.db"))


def _csv_in_band_w(catalog, object_id: str) -> bytes:
    """The object's points as an upload, id ``far-<id>``, its y band called ``w`` (unknown)."""
    points = catalog.points(object_id)
    letter = points["band"].str.split("_").list.last().replace("y", "w")
    rows = [
        f"far-{object_id},{t},{b},{f},{e}"
        for t, b, f, e in zip(
            points["time"], letter, points["flux"], points["flux_err"], strict=True
        )
    ]
    return "\n".join(["object_id,mjd,band,flux,flux_err", *rows]).encode()


def test_out_of_domain_upload_gets_the_banner_and_a_fold0_object_none(
    page, served_with_domain, small_catalog, errors, tmp_path
):
    _open(page, served_with_domain, "upload")
    upload = tmp_path / "far.csv"
    upload.write_bytes(_csv_in_band_w(small_catalog, PERIODIC_ID))
    page.get_by_text("Column and band mapping").first.click()
    band_map = page.get_by_label("Band map")
    band_map.fill("w=20000")
    band_map.press("Enter")
    page.locator("input[type=file]").set_input_files(upload)
    page.get_by_role("button", name="Add to catalogue").click()
    page.get_by_text("Added 1 objects").first.wait_for()
    page.get_by_text("Browse", exact=True).first.click()
    search = page.get_by_placeholder("object id contains...")
    search.fill("far-")
    search.press("Enter")
    # the Browse row, not the id in the Upload page's report (hidden once Browse is shown)
    page.locator(".tabulator-row", has_text=f"far-{PERIODIC_ID}").first.click()
    wait_until_drawn(page, "Best period")
    page.get_by_text("Probabilities", exact=True).first.click()
    page.get_by_text("Unlike anything the model was trained on").first.wait_for()
    assert page.get_by_text("w (20000 Å)").first.is_visible()

    page.goto(f"{served_with_domain}/?object={PERIODIC_ID}")
    wait_until_drawn(page, "Best period")
    page.get_by_text("Probabilities", exact=True).first.click()
    page.get_by_text(re.compile(r"^Predicted \S+ with confidence")).first.wait_for()
    assert page.get_by_text("Unlike anything the model was trained on").count() == 0
    assert errors == []


def test_labelling_with_the_keyboard_is_stored(page, served, errors):
    url, labels_path = served
    _open(page, url, "vetting")
    header = page.get_by_text(re.compile(r"^1 of [\d,]+: object \S+")).first
    object_id = re.search(r"object (\S+)", header.inner_text()).group(1)
    page.keyboard.press("i")
    page.get_by_text(f"Stored interesting for object {object_id}").first.wait_for()
    store = LabelStore(labels_path)
    assert store.label_of(object_id, catalogue="sample").label == "interesting"
    store.close()
    assert errors == []


def test_map_box_selection_fills_the_table_and_a_click_inspects(page, served_map, errors):
    _open(page, served_map, "map")
    canvas = page.locator(".bk-Canvas").filter(visible=True).first
    canvas.wait_for()
    page.wait_for_timeout(1500)  # the datashaded image and the glyph layer arrive after layout
    box = canvas.bounding_box()
    # drag the box tool (active by default) over the middle of the plot
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.7 * box["height"], steps=8)
    page.mouse.up()
    selected = page.get_by_text(re.compile(r"^\d+ objects selected")).first
    selected.wait_for()
    count = int(re.match(r"\d+", selected.inner_text()).group())
    assert 0 < count < 40  # some of the 40 objects, not all
    # a click on the map opens the nearest object in the inspector
    page.mouse.click(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
    page.wait_for_url(re.compile(r"object="))
    clicked = page.url.rsplit("object=", 1)[-1]
    page.get_by_text(re.compile(rf"^Object {clicked}\b")).first.wait_for()
    assert errors == []


#: (title, plot-area width, height) of every Bokeh figure on the page
_FIGURE_FRAMES = """() => {
  const found = [], seen = new Set();
  const walk = (view) => {
    if (!view || seen.has(view)) return;
    seen.add(view);
    if (view.model?.type === "Figure") {
      found.push([view.model.title?.text ?? "", view.frame.bbox.width, view.frame.bbox.height]);
    }
    for (const child of view.child_views ?? []) walk(child);
  };
  for (const root of Bokeh.index.roots) walk(root);
  return found;
}"""


@pytest.fixture(scope="module")
def served_shipped(serve_panel, tmp_path_factory):
    """URL of the app on the shipped catalogue and models (it has FAISS indexes)."""
    from app.main import DEFAULT_CATALOG

    labels = tmp_path_factory.mktemp("shipped") / "labels.db"
    return serve_panel(lambda: create_app(DEFAULT_CATALOG, None, labels))


def test_neighbour_thumbnails_are_drawn(page, served_shipped, errors):
    page.goto(f"{served_shipped}/?object=615")
    wait_until_drawn(page, "Best period")
    page.get_by_text("Neighbours", exact=True).first.click()
    page.get_by_text(re.compile(r"^The 10 objects nearest to 615")).first.wait_for()
    page.get_by_role("button", name=re.compile(r"^Inspect ")).nth(9).wait_for()
    page.wait_for_timeout(1000)  # let Bokeh lay the figures out
    thumbnails = [f for f in page.evaluate(_FIGURE_FRAMES) if "(d = " in f[0]]
    assert len(thumbnails) == 10
    # each has a real plot area (a FlexBox once left them 0 x 0: axes piled in a corner)
    assert all(width > 100 and height > 50 for _, width, height in thumbnails), thumbnails
    assert errors == []
