"""In the served app: 30 vetted labels, "Train from my labels", a head that re-ranks the queue."""

from __future__ import annotations

import re

import pytest

from app.main import create_app
from app.screenshots import DRAW_TIMEOUT_MS, SHOTS, wait_until_drawn
from engine.index.adapt import HEAD_DIR
from engine.labels import LabelStore
from engine.training.head import EmbeddingHead
from tests.app.conftest import MODEL, clustered, write_indexed_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def vetted(serve_panel, small_catalog, models_dir, tmp_path_factory):
    """URL of the app on a catalogue folder with embeddings and 30 labels, and its folder.

    Even rows (one embedding cluster) are labelled SNIa, odd rows EB.
    """
    folder = write_indexed_catalogue(
        tmp_path_factory.mktemp("vetted") / "cat",
        small_catalog.table,
        clustered(len(small_catalog)),
    )
    store = LabelStore(folder / "labels.db")
    ids = small_catalog.table["object_id"].to_list()
    for i, object_id in enumerate(ids[:30]):
        store.add(object_id, "known:SNIa" if i % 2 == 0 else "known:EB", catalogue=folder.name)
    store.close()
    url = serve_panel(lambda: create_app(folder, models_dir, folder / "labels.db"))
    return url, folder, ids


def test_train_from_my_labels_then_rerank(page, vetted):
    url, folder, ids = vetted
    page.set_default_timeout(DRAW_TIMEOUT_MS)
    page.goto(url)
    title, marker = SHOTS["vetting"]
    page.get_by_text(title, exact=True).first.click()
    wait_until_drawn(page, marker)
    page.get_by_role("button", name="Train from my labels").click()
    page.get_by_text(re.compile(r"^Trained on 30 labels of 2 classes")).first.wait_for()
    page.get_by_text(re.compile(r"5-fold cross-validated on your labels")).first.wait_for()
    page.get_by_text(re.compile(r"ECE after calibration \d")).first.wait_for()
    assert page.locator(".bk-Canvas").filter(visible=True).count() >= 3  # the three figures
    page.get_by_role("button", name="Re-rank by this class").click()
    page.get_by_text(re.compile(r"^The queue is ranked by the probability of EB")).first.wait_for()
    header = page.get_by_text(re.compile(r"^1 of [\d,]+: object \S+")).first
    header.wait_for()
    object_id = re.search(r"object (\S+)", header.inner_text()).group(1)
    assert ids.index(object_id) % 2 == 1  # an unlabelled object of the EB cluster leads
    assert EmbeddingHead.load(folder / MODEL / HEAD_DIR).classes == ("EB", "SNIa")
