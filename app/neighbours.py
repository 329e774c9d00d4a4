"""Nearest neighbours of an object in a model's embedding space, as clickable small light curves.

The search is the engine's :func:`engine.index.catalog_build.neighbours` on the catalogue
folder written by ``catscope index``; it needs that folder and the chosen model's FAISS index.
Objects uploaded in this session are not in the stored index: their embeddings, computed when
they were placed on the maps, are searched against it instead.
:func:`neighbour_pairs` searches many objects at once (the vetting queue's re-ranking).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import panel as pn
import param
import polars as pl

from app import plots
from app.model_views import message
from app.state import HIDDEN, AppState
from app.text import markdown
from engine.catalog import UnknownObjectError
from engine.errors import CatscopeError
from engine.index.catalog_build import (
    INDEX_FILE,
    load_index,
    neighbours,
    neighbours_of_vector,
    read_manifest,
)

#: neighbours shown per object
N_NEIGHBOURS = 10
_THUMB = {"height": 160, "width": 220}
#: thumbnails a row: five fit a 1280-pixel screen. A grid, not a FlexBox: in the inspector's
#: tabs a FlexBox left Bokeh figures laid out with a 0 x 0 plot area (Panel 1.9, Bokeh 3.9)
_COLUMNS = 5


@pn.cache(max_items=512)
def _search(catalog_dir: str, object_id: str, model: str, k: int, stamp: int) -> pl.DataFrame:
    """Search with the engine, cached; ``stamp`` (index file mtime) drops a rebuilt index's."""
    return neighbours(catalog_dir, object_id, k=k, model=model)


def index_blocker(catalog_dir: str | None, model: str) -> str | None:
    """Why ``model`` has no neighbour index in ``catalog_dir``, or ``None`` when it has one."""
    if not catalog_dir:
        return (
            "Nearest neighbours need a catalogue folder indexed by 'catscope index'; "
            "this catalogue is a plain table."
        )
    try:
        models = read_manifest(catalog_dir)["models"]
    except CatscopeError as exc:
        return f"Nearest neighbours need a catalogue index: {markdown(exc)}"
    if model not in models or not (Path(catalog_dir) / model / INDEX_FILE).is_file():
        return (
            f"This catalogue has no index for model {markdown(repr(model))}; "
            f"it has {markdown(sorted(models))}."
        )
    return None


def find_neighbours(
    catalog_dir: str,
    object_id: str,
    model: str,
    k: int = N_NEIGHBOURS,
    *,
    vector: np.ndarray | None = None,
) -> pl.DataFrame:
    """Return ``object_id, distance, label, pred_class`` of the ``k`` nearest other objects.

    ``vector`` is the object's embedding when the stored index does not hold it (an upload).
    """
    if vector is not None:
        return neighbours_of_vector(catalog_dir, vector, k=k, model=model)
    return _search(str(catalog_dir), str(object_id), model, k, _stamp(catalog_dir, model))


def _stamp(catalog_dir: str, model: str) -> int:
    return (Path(catalog_dir) / model / INDEX_FILE).stat().st_mtime_ns


def neighbour_pairs(
    catalog_dir: str, model: str, object_ids: Sequence[str], k: int = N_NEIGHBOURS
) -> pl.DataFrame:
    """``object_id, neighbour``: the ``k`` nearest others of each object, in one FAISS search.

    Objects the index does not hold (this session's uploads) get no rows.
    """
    index = load_index(Path(catalog_dir) / model)
    stored = set(index.object_ids_.tolist())
    known = [str(i) for i in object_ids if str(i) in stored]
    if not known:
        return pl.DataFrame(schema={"object_id": pl.String, "neighbour": pl.String})
    found = index.search_ids(known, k)
    return pl.DataFrame(
        {"object_id": np.repeat(known, found.rows.shape[1]), "neighbour": found.object_id.ravel()}
    ).drop_nulls()  # (n, k) results flattened row by row; missing neighbours are None


class NeighboursView(pn.viewable.Viewer):
    """The nearest neighbours of the inspected object; clicking one inspects it."""

    state = param.ClassSelector(class_=AppState)
    catalog_dir = param.String(
        default=None, allow_None=True, doc="Catalogue folder holding the FAISS indexes."
    )
    shown = param.Boolean(
        default=True, doc="Whether the panel is on screen; hidden ones do not compute."
    )

    def table(self) -> pl.DataFrame | str:
        """Neighbours of the inspected object, or the reason there are none (Markdown)."""
        if not self.state.object_id:
            return "Pick an object first."
        blocker = index_blocker(self.catalog_dir, self.state.model)
        if blocker:
            return blocker
        object_id, model = self.state.object_id, self.state.model
        vector = self.state.catalog.new_embedding(object_id, model)
        try:
            return find_neighbours(self.catalog_dir, object_id, model, vector=vector)
        except UnknownObjectError:
            return (
                f"Object {markdown(object_id)} is not in the stored index and was not embedded "
                f"by {markdown(model)} when it was added, so it has no neighbours here."
            )
        except CatscopeError as exc:
            return f"No neighbours: {markdown(exc)}"

    def _card(self, row: dict) -> pn.Column:
        """Small light curve of one neighbour, its classes and distance, and an inspect button."""
        object_id = row["object_id"]
        button = pn.widgets.Button(
            label=f"Inspect {object_id}", color="light", width=_THUMB["width"] - 20
        )
        button.on_click(lambda _: self.state.inspect(object_id))
        points = self.state.catalog.points(object_id)
        curve = plots.thumbnail(points, title=f"{object_id} (d = {row['distance']:.3f})", **_THUMB)
        return pn.Column(
            pn.pane.Bokeh(curve),
            pn.pane.Markdown(
                f"label **{markdown(row['label'] or 'unknown')}** · "
                f"predicted **{markdown(row['pred_class'] or '–')}**",
                margin=(0, 10),
            ),
            button,
            width=_THUMB["width"] + 10,
        )

    @param.depends("shown", "catalog_dir", "state.object_id", "state.model", "state.catalog")
    def _content(self) -> pn.viewable.Viewable:
        if not self.shown:
            return HIDDEN
        found = self.table()
        if isinstance(found, str):
            return message(found)
        cards = [self._card(row) for row in found.iter_rows(named=True)]
        return pn.Column(
            pn.pane.Markdown(
                f"The {len(cards)} objects nearest to {markdown(self.state.object_id)} in the "
                f"embedding of model *{markdown(self.state.model)}* (cosine distance d). "
                "Click one to inspect it."
            ),
            pn.GridBox(*cards, ncols=_COLUMNS),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(self._content, loading_indicator=True, sizing_mode="stretch_width")
