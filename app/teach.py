"""Teach page: a guided tour of one example object per class, with plain-language explanations."""

from __future__ import annotations

import panel as pn
import param

from app.inspector import light_curve_pane
from app.model_views import ProbabilityView, message
from app.state import HIDDEN, AppState
from app.teach_text import MODEL_TEXT, describe_class
from app.text import markdown


class TeachView(pn.viewable.Viewer):
    """Step through the classes of the catalogue with Previous / Next."""

    state = param.ClassSelector(class_=AppState)
    step = param.Integer(default=0, bounds=(0, None), doc="Index of the class shown.")
    previous = param.Event(label="◀ Previous class")
    next = param.Event(label="Next class ▶")
    inspect = param.Event(label="Open in the inspector")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._probabilities = ProbabilityView(state=self.state, object_id="")
        self._sync_object()
        self._show()

    def examples(self) -> list[tuple[str, str]]:
        """(class, object id) of the tour's stops."""
        return list(self.state.catalog.examples().iter_rows())

    def stop(self) -> tuple[str, str] | None:
        """(class, object id) at ``step``, or ``None`` if the catalogue has no labelled object."""
        examples = self.examples()
        return examples[self.step % len(examples)] if examples else None

    @param.depends("step", "state.catalog", watch=True)
    def _sync_object(self) -> None:
        stop = self.stop()
        self._probabilities.object_id = stop[1] if stop else ""

    @param.depends("previous", watch=True)
    def _on_previous(self) -> None:
        self.step = (self.step - 1) % max(len(self.examples()), 1)

    @param.depends("next", watch=True)
    def _on_next(self) -> None:
        self.step = (self.step + 1) % max(len(self.examples()), 1)

    @param.depends("inspect", watch=True)
    def _on_inspect(self) -> None:
        stop = self.stop()
        if stop is not None:
            self.state.inspect(stop[1])

    @param.depends("state.page", watch=True)
    def _show(self) -> None:
        self._probabilities.shown = self.state.on_screen("teach")

    @param.depends("step", "state.catalog", "state.page")
    def _lesson(self) -> pn.viewable.Viewable:
        if not self.state.on_screen("teach"):
            return HIDDEN
        stop = self.stop()
        if stop is None:
            return message("This catalogue has no labelled objects, so there is nothing to tour.")
        label, object_id = stop
        title, text = describe_class(label)
        count = len(self.examples())
        points = self.state.catalog.points(object_id)
        return pn.Column(
            pn.pane.Markdown(
                f"## {self.step % count + 1} of {count}: {markdown(title)} ({markdown(label)})"
                f"\n\n{text}\n\n*Example: object {markdown(object_id)}, {points.height} "
                "observations. Hollow markers are points where nothing was detected.*"
            ),
            light_curve_pane(points, unit="flux", title=f"{title}: object {object_id}"),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        buttons = pn.Row(
            pn.widgets.Button.from_param(self.param.previous, color="light"),
            pn.widgets.Button.from_param(self.param.next, color="primary"),
            pn.widgets.Button.from_param(self.param.inspect, color="light"),
        )
        return pn.Column(
            pn.pane.Markdown(f"### How the model looks at light curves\n{MODEL_TEXT}"),
            buttons,
            self._lesson,
            pn.pane.Markdown("#### What the model says about this example"),
            self._probabilities,
            sizing_mode="stretch_width",
        )
