"""State shared by the pages of one session: catalogue, selected object, page and model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import param
import polars as pl

from app.loaders import load_predictor
from app.text import markdown
from engine.catalog import Catalog, row_points
from engine.data.edit import CurveEdit
from engine.labels import LabelStore
from engine.models.registry import ModelInfo

if TYPE_CHECKING:
    from engine.infer import Predictor

#: page key -> tab title, in tab order
PAGES = {
    "browse": "Browse",
    "map": "Map",
    "inspect": "Inspect",
    "upload": "Upload",
    "vetting": "Vetting",
    "health": "Model health",
    "teach": "Teach",
}
NO_MODEL = "(no model)"
#: what a page shows while it is not on screen: pages draw only when visible
HIDDEN = ""


class AppState(param.Parameterized):
    """What every page of a session reads and writes.

    ``model`` is the name of the registry model driving the views (by default the first that
    classifies, else the first).
    """

    catalog = param.ClassSelector(
        class_=Catalog, doc="Catalogue shown (with this session's uploads)."
    )
    object_id = param.String(default="", doc="Object shown in the inspector.")
    page = param.Selector(objects=list(PAGES), default="browse", doc="Page on screen.")
    model = param.Selector(objects=[NO_MODEL], default=NO_MODEL, doc="Model driving the views.")
    labels = param.ClassSelector(class_=LabelStore, doc="Where vetting labels are stored.")
    user = param.String(default="", doc="Name stored with each label (empty: the login name).")
    edit = param.ClassSelector(
        class_=CurveEdit,
        default=CurveEdit(),
        instantiate=False,  # immutable: every change assigns a new edit
        doc="What-if edit of the inspected object's light curve (never stored).",
    )

    def __init__(self, *, models: Sequence[ModelInfo] = (), **params) -> None:
        self._models = {info.name: info for info in models}
        super().__init__(**params)
        self.param.model.objects = [NO_MODEL, *self._models]
        if self._models and self.model == NO_MODEL:
            # a classifier drives every view; models that only embed are one pick away
            classifiers = [name for name, info in self._models.items() if info.can("classify")]
            self.model = (classifiers or list(self._models))[0]
        self.param.watch(lambda _: setattr(self, "edit", CurveEdit()), ["object_id", "catalog"])

    @property
    def model_info(self) -> ModelInfo | None:
        """Registry record of the chosen model, or ``None``."""
        return self._models.get(self.model)

    def can(self, capability: str) -> bool:
        """Whether the chosen model has ``capability`` (classify, embed, generate, attention...)."""
        info = self.model_info
        return info is not None and info.can(capability)

    def predictor(self) -> Predictor | None:
        """Return the chosen model's predictor (loaded once per process), ``None`` without one."""
        info = self.model_info
        return load_predictor(str(info.path)) if info is not None else None

    def row(self, object_id: str) -> pl.DataFrame:
        """One-row table of ``object_id``: with the what-if edit if it is the inspected object.

        The stored catalogue is never changed; :class:`~engine.data.edit.CurveEdit` errors
        (e.g. an edit leaving no points) propagate for the views to show.
        """
        row = self.catalog.get(object_id)
        return self.edit.apply(row) if object_id == self.object_id else row

    def points(self, object_id: str) -> pl.DataFrame:
        """Observations of :meth:`row`, one per row, with magnitudes."""
        return row_points(self.row(object_id))

    def on_screen(self, page: str) -> bool:
        """Whether ``page`` is the page on screen (hidden pages skip their drawing)."""
        return self.page == page

    def inspect(self, object_id: str) -> None:
        """Show ``object_id`` in the inspector."""
        self.param.update(object_id=str(object_id), page="inspect")

    def missing_model_message(self, capability: str, what: str) -> str | None:
        """Why ``what`` cannot be shown with the chosen model (Markdown), or ``None`` if it can."""
        if self.model_info is None:
            return f"No model loaded: pick a model at the top of the page to see {what}."
        if not self.can(capability):
            model = markdown(repr(self.model))
            return f"Model {model} cannot {capability}, so it cannot show {what}."
        return None
