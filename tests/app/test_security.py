"""Hostile object ids, labels, file, scorer and user names in the served app: shown as text only.

One app serves a catalogue folder whose objects, class labels, predicted classes and anomaly
scorer are named by :data:`~tests.app.payloads.PAYLOADS`; a session uploads the same light
curves under those names (from a file whose name is a payload too), searches, inspects, maps,
tours and vets them with payload notes and user name, exports the labels, and opens deep links.
Every step checks that no dialog opened and no element was injected, and that the text shown
is the payload's own (control characters removed).
"""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import numpy as np
import polars as pl
import pytest

from app.main import create_app
from app.screenshots import DRAW_TIMEOUT_MS, INSPECTOR_TABS, SHOTS, wait_until_drawn
from engine.catalog import OBJECTS_FILE
from engine.data.schema import write_table
from engine.labels import LabelStore
from engine.text import printable
from tests.app.payloads import INJECTED, LONG_PAYLOAD, PAYLOADS

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
#: anomaly scorer of the served catalogue: its name becomes a Browse column title
SCORER = "<img src=x onerror=alert(10)>"
#: name of the uploaded file, shown in the status message, the header and the source filter
UPLOAD_NAME = "<img src=x onerror=alert(11)>.csv"
USER = "<svg onload=alert(12)>"
#: uploaded objects are the catalogue's light curves under these ids
UPLOAD_PREFIX = "up "


def shown(text: str) -> str:
    """What the page shows for ``text``: its characters minus the control ones."""
    return printable(text)


def searchable(text: str) -> str:
    """The longest run of ``text`` without control characters (typed into the search box)."""
    return max(
        re.split(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]", text), key=len
    )


@pytest.fixture(scope="module")
def hostile(small_catalog, models_dir, tmp_path_factory):
    """A catalogue folder of :data:`PAYLOADS` objects with a map, predictions and anomaly scores."""
    from engine.catalog import ANOMALY_FILE, PREDICTIONS_FILE, UMAP_FILE
    from engine.models.registry import available_models

    n = len(PAYLOADS)
    table = small_catalog.table.head(n).with_columns(
        object_id=pl.Series(PAYLOADS), label=pl.Series(PAYLOADS[1:] + PAYLOADS[:1])
    )
    folder = tmp_path_factory.mktemp("hostile")
    write_table(table, folder / OBJECTS_FILE)
    model = folder / available_models(models_dir)[0].name
    model.mkdir()
    position = np.arange(n)
    ids = table["object_id"]
    pl.DataFrame({"object_id": ids, "x": position % 4, "y": position // 4}).write_parquet(
        model / UMAP_FILE
    )
    pl.DataFrame(
        {"object_id": ids, "pred_class": PAYLOADS[2:] + PAYLOADS[:2], "confidence": 0.5}
    ).write_parquet(model / PREDICTIONS_FILE)
    pl.DataFrame({"object_id": ids, SCORER: position * 1.0}).write_parquet(model / ANOMALY_FILE)
    return folder, table


@pytest.fixture(scope="module")
def served(serve_panel, hostile, models_dir):
    """URL of the app on the hostile catalogue, and its label file."""
    folder, _ = hostile
    labels = folder / "labels.db"
    return serve_panel(lambda: create_app(folder, models_dir, labels)), labels


@pytest.fixture
def watched(page):
    """Dialogs the page opened (each dismissed); a test asserts it stays empty."""
    page.set_default_timeout(DRAW_TIMEOUT_MS)
    dialogs: list[str] = []

    def dismiss(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def assert_inert(page, dialogs: list[str]) -> None:
    """No dialog opened and no element a payload could add is on the page."""
    assert dialogs == []
    assert page.locator(INJECTED).count() == 0


def long_csv(table: pl.DataFrame, ids: list[str]) -> bytes:
    """``table``'s light curves under ``ids``, as a long CSV (one row per observation)."""
    points = (
        table.head(len(ids))
        .with_columns(object_id=pl.Series(ids))
        .select("object_id", "time", "band", "flux", "flux_err")
        .explode("time", "band", "flux", "flux_err")
    )
    buffer = io.BytesIO()
    points.rename({"time": "mjd"}).write_csv(buffer)
    return buffer.getvalue()


def _upload(page, path) -> None:
    page.locator("input[type=file]").set_input_files(path)
    page.get_by_role("button", name="Add to catalogue").click()


def test_upload_search_map_tour_vet_and_export(page, served, hostile, watched, tmp_path):
    url, labels_path = served
    _, table = hostile
    page.goto(url)
    page.get_by_text("Upload", exact=True).first.click()
    wait_until_drawn(page, SHOTS["upload"][1])
    uploads = [UPLOAD_PREFIX + p for p in PAYLOADS]
    (tmp_path / UPLOAD_NAME).write_bytes(long_csv(table, uploads))
    _upload(page, tmp_path / UPLOAD_NAME)
    page.get_by_text(f"Added {len(PAYLOADS)} objects").first.wait_for()
    page.get_by_text(f"from {UPLOAD_NAME}.").first.wait_for()
    assert_inert(page, watched)

    # an id over the limit: refused at ingest, the message quotes it as text
    (tmp_path / "long.csv").write_bytes(long_csv(table, [LONG_PAYLOAD]))
    _upload(page, tmp_path / "long.csv")
    page.get_by_text("Could not add long.csv").first.wait_for()
    page.get_by_text(f"'{LONG_PAYLOAD[:40]}...' (10,000 characters)").first.wait_for()
    assert page.get_by_text("object id over 256 characters at rows").first.is_visible()
    assert_inert(page, watched)

    # Browse: the scorer's column title, then each object found by search, in a row, inspected
    page.get_by_text("Browse", exact=True).first.click()
    wait_until_drawn(page, SHOTS["browse"][1])
    page.locator(".tabulator-col-title").filter(has_text=SCORER.replace("_", " ")).wait_for()
    search = page.get_by_placeholder("object id contains...")
    for payload in PAYLOADS:
        search.fill(searchable(payload))
        search.press("Enter")
        # the id's own cell: rows of the previous search may hold the payload as a label
        cell = page.locator(".tabulator-cell[tabulator-field=object_id]")
        cell.filter(has_text=re.compile(rf"^{re.escape(payload)}$")).first.wait_for()
        assert_inert(page, watched)
    # the case: an img onerror id searched, then opened in the inspector by a click
    search.fill(PAYLOADS[1])
    search.press("Enter")
    cell = page.locator(".tabulator-cell[tabulator-field=object_id]")
    cell = cell.filter(has_text=re.compile(rf"^{re.escape(PAYLOADS[1])}$")).first
    cell.wait_for()
    page.wait_for_timeout(500)  # Tabulator binds its row clicks after drawing the rows
    cell.dispatch_event("click")  # a layout div of the page lies over the table
    page.get_by_text(f"Object {PAYLOADS[1]}").first.wait_for()
    assert_inert(page, watched)

    # the map coloured by label and by predicted class (payloads in its legend)
    page.get_by_text("Map", exact=True).first.click()
    wait_until_drawn(page, SHOTS["map"][1], settle_ms=1500)
    canvas = page.locator(".bk-Canvas").filter(visible=True).first
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # hover
    page.get_by_text("predicted class", exact=True).first.click()
    page.wait_for_timeout(1000)
    assert_inert(page, watched)

    # the tour: its titles name the class labels
    page.get_by_text("Teach", exact=True).first.click()
    wait_until_drawn(page, SHOTS["teach"][1])
    for _ in range(3):
        page.get_by_role("button", name="Next class ▶").click()
        page.wait_for_timeout(300)
        assert_inert(page, watched)

    # vetting: every object labelled with a payload note under a payload user name
    page.get_by_text("Vetting", exact=True).first.click()
    wait_until_drawn(page, SHOTS["vetting"][1])
    page.get_by_label("Your name").fill(USER)
    page.get_by_label("Your name").press("Enter")
    note = page.get_by_label("Note (stored with the next label)")
    vetted = {}
    for step, payload in enumerate(PAYLOADS):
        header = page.get_by_text(re.compile(rf"^1 of {2 * len(PAYLOADS) - step}: object "))
        header = header.filter(visible=True).first
        header.wait_for()
        object_id = header.inner_text().split(": object ", 1)[1].split("\n")[0]
        note.fill(payload)
        note.press("Tab")  # the note is sent on blur
        page.get_by_role("button", name="Interesting (i)").click()
        page.get_by_text(f"Stored interesting for object {object_id}").first.wait_for()
        vetted[object_id] = payload
        assert_inert(page, watched)
    page.get_by_text(f"1 of {len(PAYLOADS)}: object ").first.wait_for()

    with page.expect_download() as download:
        page.get_by_role("button", name="Export labels (CSV)").click()
    exported = pl.read_csv(download.value.path())
    store = LabelStore(labels_path)
    stored = store.current()
    store.close()
    for frame in (exported, stored):
        assert frame.height == len(PAYLOADS)
        assert set(frame["note"]) == set(PAYLOADS)  # whole, not escaped
        assert set(frame["user"]) == {USER}
        assert {shown(i) for i in frame["object_id"]} == set(vetted)
    assert_inert(page, watched)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_deep_link_shows_the_id_as_text_on_every_inspector_tab(page, served, watched, payload):
    url, _ = served
    page.goto(f"{url}/?object={quote(payload, safe='')}")
    wait_until_drawn(page, SHOTS["inspect"][1])
    page.get_by_text(f"Object {shown(payload)}").first.wait_for()
    assert_inert(page, watched)
    for tab, marker in INSPECTOR_TABS.items():
        page.get_by_text(tab, exact=True).first.click()
        wait_until_drawn(page, marker)
        assert_inert(page, watched)
    link = page.get_by_role("link", name="link to this view")
    assert link.get_attribute("href") == f"?object={quote(payload, safe='')}"


def test_deep_links_to_unknown_ids_say_so_in_plain_text(page, served, watched):
    url, _ = served
    for payload in [*PAYLOADS, LONG_PAYLOAD]:
        page.goto(f"{url}/?object={quote('no ' + payload, safe='')}")
        found = page.get_by_text(re.compile(r"^no object with id")).first
        found.wait_for()
        assert repr("no " + payload) in found.inner_text()
        assert_inert(page, watched)
