"""The "Observe next" inspector panel: heat map of expected bits per band and day."""

from __future__ import annotations

import re

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document

from app.inspector import InspectorView
from app.plan_view import HEATMAP_NAME, PlanView
from app.screenshots import wait_until_drawn
from tests.app.conftest import PERIODIC_ID

SENTENCE = re.compile(r"is expected to (tell you [\d.]+ ± [\d.]+ bits|make the class clearer)")


def _heatmap(viewable):
    (pane,) = viewable.select(pn.pane.Bokeh)
    return pane.object


def test_heatmap_has_every_candidate_and_marks_the_best(state):
    state.object_id = PERIODIC_ID
    view = PlanView(state=state, last_day=6, n_samples=4)
    output = view.content()
    figure = _heatmap(output)
    assert figure.name == HEATMAP_NAME
    cells = figure.renderers[0].data_source.data
    bands = state.catalog.points(PERIODIC_ID)["band"].unique().to_list()
    assert len(cells["bits"]) == 6 * len(bands) and set(cells["band"]) == set(bands)
    best_cell = figure.renderers[1].data_source.data
    best = int(np.argmax(cells["bits"]))
    assert best_cell["x"][0] == cells["days"][best] and best_cell["y"][0] == cells["band"][best]
    sentence = output.objects[0].object.replace("\\", "")  # shown as escaped Markdown
    assert SENTENCE.search(sentence) and f" {cells['band'][best]} point in " in sentence


def test_hidden_panel_does_not_compute_and_the_inspector_has_the_tab(state):
    state.object_id = PERIODIC_ID
    inspector = InspectorView(state=state)
    assert "Observe next" in inspector._tabs._names
    inspector.__panel__().get_root(Document())
    plan = inspector._panels["Observe next"]
    assert plan.shown is False


def test_without_a_model_it_says_so(bare_state):
    bare_state.object_id = PERIODIC_ID
    (alert,) = PlanView(state=bare_state).content().select(pn.pane.Alert)
    assert "No model loaded" in str(alert.object)


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_heatmap_renders_in_the_browser(page, served):
    url, _ = served
    page.goto(f"{url}/?object={PERIODIC_ID}")
    wait_until_drawn(page, "Best period")
    page.get_by_text("Observe next", exact=True).first.click()
    wait_until_drawn(page, SENTENCE)
    count = page.evaluate(
        """name => {
            for (const doc of Bokeh.documents) {
                const fig = doc.get_model_by_name(name);
                if (fig) return fig.renderers[0].data_source.data.bits.length;
            }
            return 0;
        }""",
        HEATMAP_NAME,
    )
    assert count > 0 and count % 30 == 0  # bands × 30 daily candidates
    assert page.locator(".bk-Canvas, canvas").count() > 0
