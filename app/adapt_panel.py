"""Train from my labels: a classifier head on a catalogue model's embeddings (vetting page).

The current labels of the catalogue (``known:<class>``, ``interesting``, ``artefact``; skips left
out, see :mod:`engine.index.adapt`) train a head on the embeddings ``catscope index`` stored.
Before it is used the page shows its cross-validated per-class F1 and reliability diagram (the
figures of the model-health page). *Re-rank* saves it beside the catalogue
(``<model>/head``, for ``catscope score --head``) and hands the vetting queue the ranking by
the head's probability of the chosen class.
"""

from __future__ import annotations

from pathlib import Path

import panel as pn
import param
import polars as pl

from app import plots
from app.health import figures, summary_text
from app.model_views import message
from app.state import AppState
from app.text import markdown
from engine.errors import CatscopeError
from engine.index.adapt import (
    HEAD_DIR,
    catalogue_embeddings,
    fit_catalogue_head,
    head_labels,
    head_ranking,
)
from engine.index.catalog_build import EMBEDDINGS_FILE
from engine.training.head import EmbeddingHead


class AdaptPanel(pn.viewable.Viewer):
    """Model picker, train button, the head's cross-validated figures and the re-rank button."""

    state = param.ClassSelector(class_=AppState)
    catalog_dir = param.String(default=None, allow_None=True, doc="Catalogue folder.")
    model = param.Selector(objects=[], doc="Model whose stored embeddings the head reads.")
    train = param.Event(label="Train from my labels")
    head_class = param.Selector(objects=[], doc="Class whose probability ranks the queue.")
    apply = param.Event(label="Re-rank by this class")
    #: the fitted head, once trained
    head = param.ClassSelector(class_=EmbeddingHead, default=None, allow_None=True)
    #: (head, class) the queue is ranked by, once applied
    applied = param.Parameter(default=None)

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._feedback = pn.pane.Alert(visible=False, sizing_mode="stretch_width")
        self.param.model.objects = self.models()
        if self.param.model.objects:
            self.model = self.param.model.objects[0]

    def models(self) -> list[str]:
        """Models of the catalogue folder that have stored embeddings."""
        if not self.catalog_dir or not Path(self.catalog_dir).is_dir():
            return []
        folders = sorted(p for p in Path(self.catalog_dir).iterdir() if p.is_dir())
        return [p.name for p in folders if (p / EMBEDDINGS_FILE).is_file()]

    def labels(self) -> pl.DataFrame:
        """Return the catalogue's current labels as head classes."""
        return head_labels(self.state.labels.current(catalogue=self.state.catalog.name))

    @param.depends("train", watch=True)
    def _on_train(self) -> None:
        try:
            head = fit_catalogue_head(self.catalog_dir, self.labels(), self.model)
        except CatscopeError as exc:
            self.head = None
            self._say(f"No classifier trained: {markdown(exc)}", "warning")
            return
        self.param.head_class.objects = list(head.classes)
        self.head_class = head.classes[0]
        self.head = head
        self._say(
            f"Trained on {head.report['n_objects']:,} labels of {len(head.classes)} classes. "
            "Check the cross-validated scores below, then re-rank.",
            "success",
        )

    @param.depends("apply", watch=True)
    def _on_apply(self) -> None:
        if self.head is None:
            self._say("Train a classifier first.", "warning")
            return
        folder = Path(self.catalog_dir) / self.head.model / HEAD_DIR
        try:
            self.head.save(folder)
            saved = f" Saved to {markdown(folder)} (for `catscope score --head`)."
        except OSError as exc:
            saved = f" It could not be saved ({markdown(exc)}); it ranks this session only."
        self.applied = (self.head, self.head_class)
        self._say(
            f"The queue is ranked by the probability of **{markdown(self.head_class)}**.{saved}",
            "success",
        )

    @property
    def scorer(self) -> str | None:
        """Name of the applied head's ranking in the queue's *Rank by* list (``None`` before)."""
        if self.applied is None:
            return None
        head, class_name = self.applied
        return f"{head.model}: p({class_name}) from my labels"

    def ranking(self) -> pl.DataFrame:
        """``object_id, score`` of the applied head, catalogue objects without embeddings last."""
        head, class_name = self.applied
        ids, embeddings = catalogue_embeddings(self.catalog_dir, head.model)
        scores = head_ranking(ids, embeddings, head, class_name)
        ranked = self.state.catalog.table.select("object_id").join(
            scores, on="object_id", how="left", maintain_order="left"
        )
        return ranked.sort("score", descending=True, nulls_last=True, maintain_order=True)

    def _say(self, text: str, kind: str) -> None:
        self._feedback.param.update(object=text, alert_type=kind, visible=True)

    @param.depends("head")
    def _report(self) -> pn.viewable.Viewable:
        if self.head is None:
            return pn.Spacer(height=0)
        report = self.head.report
        intro = (
            f"{report['n_splits']}-fold cross-validated on your labels (each object scored by a "
            f"head that did not see it); temperature {self.head.temperature:.2f}. "
            + summary_text(report)
        )
        return pn.Column(
            pn.pane.Markdown(intro),
            pn.GridBox(
                *[plots.figure(f) for f in figures(report)], ncols=2, sizing_mode="stretch_width"
            ),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        if not self.param.model.objects:
            return message(
                "Training from your labels needs a catalogue folder with stored embeddings "
                "(`catscope index`); this catalogue has none."
            )
        return pn.Card(
            pn.pane.Markdown(
                "A small classifier on a model's embeddings, from this catalogue's labels "
                "(known classes, interesting, artefact; skips are left out). At least 2 classes "
                "with 2 labelled objects each."
            ),
            pn.Row(
                pn.widgets.Select.from_param(self.param.model, label="Embeddings of", width=200),
                pn.widgets.Button.from_param(self.param.train, color="primary", align="end"),
                pn.widgets.Select.from_param(self.param.head_class, label="Class", width=160),
                pn.widgets.Button.from_param(self.param.apply, color="success", align="end"),
            ),
            self._feedback,
            self._report,
            title="A classifier from my labels",
            collapsed=False,
            sizing_mode="stretch_width",
        )
