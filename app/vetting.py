"""Vetting page: a ranked queue of objects to label with the keyboard (i / a / k / s).

Objects are ranked by a scorer the catalogue offers (:meth:`engine.catalog.Catalog.scorers`);
labelled objects leave the queue.

Re-ranking (``rerank``, on by default) uses the labels so far: an object whose nearest
neighbours were labelled *artefact* probably shares their problem, so it moves down. Each
object's score is turned into its percentile ``q`` in the ranking (sign- and scale-free, so
it works for any scorer) and ordered by ``q × (1 − 0.5 · s)``, where ``s`` is the share of
artefacts among its 10 nearest neighbours in the scorer's model (FAISS index of the catalogue
folder). Only the first :data:`RERANK_DEPTH` objects are searched; the rest keep their
percentile. Without an index, a score or any artefact label the ranking is unchanged.

*Train from my labels* (:mod:`app.adapt_panel`) fits a classifier head on the labels so far;
once applied, the queue can be ranked by its probability of a class (the same re-ranking by
artefact neighbours then applies).

Labels go to the :class:`~engine.labels.LabelStore` with the note and the user's name, and
can be exported as CSV or Parquet.
"""

from __future__ import annotations

import io

import panel as pn
import param
import polars as pl

from app.adapt_panel import AdaptPanel
from app.export import download_buttons, table_bytes
from app.inspector import light_curve_pane
from app.keys import KeyboardShortcuts
from app.model_views import message
from app.neighbours import index_blocker, neighbour_pairs
from app.state import HIDDEN, AppState
from app.text import markdown
from engine.catalog import CATALOGUE_ORDER
from engine.errors import CatscopeError
from engine.labels import KNOWN_PREFIX

#: shortcut key -> label kind
SHORTCUTS = {"i": "interesting", "a": "artefact", "k": "known", "s": "skip"}
#: how far an object with only artefact neighbours moves down (its percentile is multiplied by 0.5)
ARTEFACT_PENALTY = 0.5
#: objects at the head of the ranking whose neighbours the re-ranking searches
RERANK_DEPTH = 500
_SHOWN_QUEUE = 10
_SHOWN_LABELS = 15
#: what the current object and the queue table are redrawn on
_QUEUE_INPUTS = (
    "position", "scorer", "include_labelled", "rerank", "revision", "state.catalog", "state.page",
)  # fmt: skip


class VettingView(pn.viewable.Viewer):
    """The queue, the object at its head, label buttons with shortcuts, and the labels so far."""

    state = param.ClassSelector(class_=AppState)
    catalog_dir = param.String(
        default=None, allow_None=True, doc="Catalogue folder with FAISS indexes (re-ranking)."
    )
    scorer = param.Selector(
        objects=[CATALOGUE_ORDER], default=CATALOGUE_ORDER, doc="Ranking of the queue."
    )
    include_labelled = param.Boolean(default=False, doc="Keep labelled objects in the queue.")
    rerank = param.Boolean(
        default=True, doc="Move down objects whose nearest neighbours were labelled artefact."
    )
    position = param.Integer(default=0, bounds=(0, None), doc="Place in the queue.")
    note = param.String(default="", doc="Note stored with the next label.")
    known_class = param.Selector(objects=[], doc="Class used by the 'known class' label.")
    interesting = param.Event(label="Interesting (i)")
    artefact = param.Event(label="Artefact (a)")
    known = param.Event(label="Known class (k)")
    skip = param.Event(label="Skip (s)")
    previous = param.Event(label="◀ Previous")
    next = param.Event(label="Next ▶")
    revision = param.Integer(default=0, precedence=-1, doc="Bumped after each stored label.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._keys = KeyboardShortcuts(keys=list(SHORTCUTS), height=0, width=0, margin=0)
        self._keys.param.watch(self._on_key, "presses")
        self.param.watch(lambda event: self.store(event.name), list(SHORTCUTS.values()))
        self._feedback = pn.pane.Alert(visible=False, sizing_mode="stretch_width")
        #: queue row on screen: a label goes to the object the user sees, even when someone
        #: else labelled it meanwhile (it has left the stored queue); None until drawn
        self._shown: dict | None = None
        self.param.watch(
            self._forget_shown, ["position", "scorer", "include_labelled", "rerank", "revision"]
        )
        self.state.param.watch(self._forget_shown, ["catalog"])
        self._adapt = AdaptPanel(state=self.state, catalog_dir=self.catalog_dir)
        self._adapt.param.watch(self._on_head_applied, ["applied"])
        self._update_options()

    @param.depends("state.catalog", watch=True)
    def _update_options(self) -> None:
        catalog = self.state.catalog
        head_scorer = self._adapt.scorer
        self.param.scorer.objects = catalog.scorers() + ([head_scorer] if head_scorer else [])
        if self.scorer not in self.param.scorer.objects:
            self.scorer = CATALOGUE_ORDER
        classes = catalog.classes()
        self.param.known_class.objects = classes
        if self.known_class not in classes:
            self.known_class = classes[0] if classes else None

    def labelled(self) -> pl.DataFrame:
        """Return the current labels of this catalogue's objects."""
        return self.state.labels.current(catalogue=self.state.catalog.name)

    def queue(self) -> pl.DataFrame:
        """Return the queue ``object_id, score, vetted`` (current label) in rank order."""
        ranked = self.ranking()
        labels = self.labelled().select("object_id", pl.col("label").alias("vetted"))
        ranked = ranked.join(labels, on="object_id", how="left", maintain_order="left")
        return ranked if self.include_labelled else ranked.filter(pl.col("vetted").is_null())

    def ranking(self) -> pl.DataFrame:
        """``object_id, score``, re-ranked by artefact neighbours when ``rerank`` applies.

        Re-ranked queues gain the ``artefact_share`` column (see the module docstring).
        """
        if self.scorer == self._adapt.scorer:
            ranked = self._adapt.ranking()
        else:
            ranked = self.state.catalog.ranking(self.scorer)
        model, _, _ = self.scorer.partition(": ")
        if (
            not self.rerank
            or self.scorer == CATALOGUE_ORDER
            or index_blocker(self.catalog_dir, model) is not None
        ):
            return ranked
        labels = self.labelled()
        artefacts = labels.filter(pl.col("label") == "artefact")["object_id"]
        if artefacts.len() == 0:
            return ranked
        head = ranked.head(RERANK_DEPTH)["object_id"].to_list()
        pairs = neighbour_pairs(self.catalog_dir, model, head)
        return down_weight(ranked, pairs, artefacts)

    def current(self) -> dict | None:
        """Queue row at ``position`` (clipped to the queue), or ``None`` when the queue is empty."""
        queue = self.queue()
        if queue.height == 0:
            return None
        return queue.row(min(self.position, queue.height - 1), named=True)

    def store(self, kind: str) -> None:
        """Label the object on screen (else the current one) ``kind``; move on.

        ``kind`` is interesting, artefact, known or skip.
        """
        row = self._shown if self._shown is not None else self.current()
        if row is None:
            self._say("The queue is empty: nothing to label.", "warning")
            return
        if kind == "known" and not self.known_class:
            self._say("Choose the known class first (this catalogue lists none).", "warning")
            return
        label = f"{KNOWN_PREFIX}{self.known_class}" if kind == "known" else kind
        try:
            self.state.labels.add(
                row["object_id"],
                label,
                catalogue=self.state.catalog.name,
                note=self.note,
                user=self.state.user or None,
            )
        except CatscopeError as exc:
            self._say(f"Label not stored: {markdown(exc)}", "danger")
            return
        self._say(
            f"Stored **{markdown(label)}** for object {markdown(row['object_id'])}.", "success"
        )
        step = 1 if self.include_labelled else 0
        self.param.update(note="", position=self.position + step, revision=self.revision + 1)

    def _on_head_applied(self, *_) -> None:
        """Offer the applied head's ranking and switch the queue to it."""
        self._update_options()
        self.scorer = self._adapt.scorer

    def _forget_shown(self, *_) -> None:
        """Forget the object on screen: this session changed its queue, the next one is drawn."""
        self._shown = None

    def _say(self, text: str, kind: str) -> None:
        self._feedback.param.update(object=text, alert_type=kind, visible=True)

    def _on_key(self, event) -> None:
        if self.state.on_screen("vetting"):
            self.store(SHORTCUTS[self._keys.key])

    @param.depends("previous", watch=True)
    def _on_previous(self) -> None:
        self.position = max(0, self.position - 1)

    @param.depends("next", watch=True)
    def _on_next(self) -> None:
        self.position = min(self.position + 1, max(self.queue().height - 1, 0))

    @param.depends("scorer", "include_labelled", "rerank", watch=True)
    def _restart(self) -> None:
        self.position = 0

    @param.depends(*_QUEUE_INPUTS)
    def _current_view(self) -> pn.viewable.Viewable:
        if not self.state.on_screen("vetting"):
            return HIDDEN
        queue = self.queue()
        row = self.current()
        if row is None:
            return message(
                "Every object of the queue is labelled. Tick *include labelled* to revisit them."
            )
        self._shown = row
        rank = min(self.position, queue.height - 1) + 1
        info = self.state.catalog.describe(row["object_id"])
        score = "" if row["score"] is None else f" · score {row['score']:.3g}"
        header = (
            f"### {rank} of {queue.height:,}: object {markdown(row['object_id'])}\n"
            f"Known class: **{markdown(info['label'] or 'unknown')}** · "
            f"{info['n_points']} points{score}"
            + (f" · vetted: **{markdown(row['vetted'])}**" if row["vetted"] else "")
        )
        points = self.state.catalog.points(row["object_id"])
        return pn.Column(
            pn.pane.Markdown(header),
            light_curve_pane(points, unit="flux", title=f"Object {row['object_id']}"),
            sizing_mode="stretch_width",
        )

    @param.depends(*_QUEUE_INPUTS)
    def _queue_table(self) -> pn.viewable.Viewable:
        if not self.state.on_screen("vetting"):
            return HIDDEN
        start = self.position
        head = self.queue().slice(start, _SHOWN_QUEUE)
        if head["score"].null_count() == head.height:
            head = head.drop("score")  # catalogue order: no score to show
        return pn.widgets.Tabulator(
            head.to_pandas(),
            disabled=True,
            show_index=False,
            sizing_mode="stretch_width",
            selectable=False,
            height=300,
        )

    @param.depends("revision", "state.catalog", "state.page")
    def _labels_table(self) -> pn.viewable.Viewable:
        if not self.state.on_screen("vetting"):
            return HIDDEN
        latest = self.labelled().reverse().head(_SHOWN_LABELS)
        table = latest.select(
            "object_id",
            "label",
            "note",
            "user",
            pl.col("created_at").dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        return pn.widgets.Tabulator(
            table.to_pandas(),
            disabled=True,
            show_index=False,
            sizing_mode="stretch_width",
            selectable=False,
        )

    def export(self, suffix: str) -> io.BytesIO:
        """Return this catalogue's current labels as CSV or Parquet bytes (``suffix``)."""
        return table_bytes(self.labelled(), suffix)

    def __panel__(self) -> pn.viewable.Viewable:
        buttons = pn.Row(
            pn.widgets.Button.from_param(self.param.interesting, color="success"),
            pn.widgets.Button.from_param(self.param.artefact, color="danger"),
            pn.widgets.Button.from_param(self.param.known, color="primary"),
            pn.widgets.Select.from_param(self.param.known_class, label="", width=150),
            pn.widgets.Button.from_param(self.param.skip, color="light"),
            pn.widgets.Button.from_param(self.param.previous, color="light"),
            pn.widgets.Button.from_param(self.param.next, color="light"),
        )
        downloads = download_buttons(
            self.export, stem=f"labels-{self.state.catalog.name}", what="labels"
        )
        settings = pn.Row(
            pn.widgets.Select.from_param(self.param.scorer, label="Rank by", width=240),
            pn.widgets.Checkbox.from_param(
                self.param.include_labelled, label="include labelled", align="end"
            ),
            pn.widgets.Checkbox.from_param(
                self.param.rerank, label="move down neighbours of artefacts", align="end"
            ),
            pn.widgets.TextInput.from_param(
                self.state.param.user, label="Your name", width=180, placeholder="(login name)"
            ),
        )
        note = pn.widgets.TextAreaInput.from_param(
            self.param.note,
            label="Note (stored with the next label)",
            height=70,
            sizing_mode="stretch_width",
        )
        main = pn.Column(
            self._current_view, note, buttons, self._feedback, sizing_mode="stretch_width"
        )
        side = pn.Column(
            pn.pane.Markdown("#### Next in the queue"),
            self._queue_table,
            pn.pane.Markdown("#### Latest labels"),
            self._labels_table,
            downloads,
            width=420,
        )
        return pn.Column(
            self._keys,
            pn.pane.Markdown(
                "Keys: **i** interesting · **a** artefact · **k** known class · **s** skip "
                "(not while typing in a field)."
            ),
            settings,
            pn.Row(main, side, sizing_mode="stretch_width"),
            self._adapt,
            sizing_mode="stretch_width",
        )


def down_weight(
    ranked: pl.DataFrame,
    pairs: pl.DataFrame,
    artefacts: pl.Series,
    *,
    penalty: float = ARTEFACT_PENALTY,
) -> pl.DataFrame:
    """Re-order ``ranked`` (``object_id, score``, best first) by artefact neighbours.

    ``pairs`` holds ``object_id, neighbour``; an object's ``artefact_share`` is the share of
    its neighbours in ``artefacts`` (0 without neighbours). Objects are sorted by
    ``percentile × (1 − penalty · artefact_share)``, the percentile of the first being 1.
    """
    share = pairs.group_by("object_id").agg(
        pl.col("neighbour").is_in(artefacts.implode()).mean().alias("artefact_share")
    )
    n = ranked.height
    return (
        ranked.with_row_index("_rank")
        .join(share, on="object_id", how="left", maintain_order="left")
        .with_columns(pl.col("artefact_share").fill_null(0.0))
        .with_columns(
            ((n - pl.col("_rank")) / n * (1.0 - penalty * pl.col("artefact_share"))).alias("_key")
        )
        .sort("_key", descending=True, maintain_order=True)
        .drop("_rank", "_key")
    )
