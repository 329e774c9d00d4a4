"""The explorer app: one session = one :class:`~app.state.AppState` shared by the pages.

``create_app`` builds the page tree for a session; ``serve`` runs the Panel server (all JS and
CSS come from the server itself, nothing from a CDN). The URL ``?object=ID`` opens that object
in the inspector, and the URL follows the object shown.
"""

from __future__ import annotations

from pathlib import Path

import panel as pn
import param

from app.browse import BrowseView
from app.health import HealthView
from app.inspector import InspectorView
from app.latent_map import LatentMapView
from app.loaders import list_models, load_catalog, open_label_store
from app.state import PAGES, AppState
from app.teach import TeachView
from app.text import markdown
from app.upload import MAX_UPLOAD_BYTES, UploadView
from app.vetting import VettingView

#: catalogue shown when none is given: the PLAsTiCC sample shipped in the repository, indexed
#: with the shipped models (``catscope index``)
DEFAULT_CATALOG = Path(__file__).resolve().parents[1] / "sample_data" / "catalog"
TITLE = "catscope"
_HEADER_STYLE = {
    "background": "#16324f",
    "color": "white",
    "padding": "0 12px",
    "border-radius": "4px",
}


def _header(state: AppState) -> pn.Row:
    info = pn.bind(
        lambda c: (
            f"**{TITLE}** · catalogue *{markdown(c.name)}* · {len(c):,} objects"
            + (f" ({len(c.uploaded):,} uploaded)" if c.uploaded else "")
        ),
        state.param.catalog,
    )
    return pn.Row(
        pn.pane.Markdown(info, styles={"color": "white", "font-size": "1.2em"}, margin=(8, 10)),
        pn.HSpacer(),
        pn.widgets.Select.from_param(state.param.model, label="", width=220, margin=(10, 10)),
        styles=_HEADER_STYLE,
        sizing_mode="stretch_width",
    )


class Explorer(pn.viewable.Viewer):
    """The whole app of one session: header with the model picker, and one tab per page."""

    state = param.ClassSelector(class_=AppState)
    catalog_dir = param.String(
        default=None, allow_None=True, doc="Catalogue folder with FAISS indexes, if any."
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        state = self.state
        folder = {"catalog_dir": self.catalog_dir}
        #: page key -> how to build its view; a page is built the first time it is shown, so a
        #: session starts with one page's work and one page's document, not seven
        self._builders = {
            "browse": lambda: BrowseView(state=state),
            "map": lambda: LatentMapView(state=state),
            "inspect": lambda: InspectorView(state=state, **folder),
            "upload": lambda: UploadView(state=state, **folder),
            "vetting": lambda: VettingView(state=state, **folder),
            "health": lambda: HealthView(state=state),
            "teach": lambda: TeachView(state=state),
        }
        self._views: dict[str, pn.viewable.Viewer] = {}
        keys = list(PAGES)
        # Not dynamic: Panel 1.9 gives panes updated while their tab is detached CDN stylesheet
        # URLs (Markdown._update renders with document None), which fail offline. Each tab is
        # a placeholder that receives its view when the tab first becomes active.
        self._pages = {k: pn.Column(sizing_mode="stretch_width") for k in keys}
        self.tabs = pn.Tabs(
            *((PAGES[k], self._pages[k]) for k in keys),
            sizing_mode="stretch_width",
            active=keys.index(state.page),
        )
        # Browse is every session's landing page, and its Tabulator does not draw its rows when
        # it first arrives in a tab being switched to (seen after a deep link to Inspect)
        self.view("browse")
        self.view(state.page)
        self.tabs.param.watch(lambda e: setattr(state, "page", keys[e.new]), "active")
        state.param.watch(lambda e: setattr(self.tabs, "active", keys.index(e.new)), "page")
        state.param.watch(lambda e: self.view(e.new), "page")

    def view(self, page: str) -> pn.viewable.Viewer:
        """Return the view of ``page``, building it (and filling its tab) on first use."""
        if page not in self._views:
            self._views[page] = self._builders[page]()
            self._pages[page].objects = [self._views[page]]
        return self._views[page]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            _header(self.state), self.tabs, sizing_mode="stretch_width", margin=(5, 10)
        )


def create_app(
    catalog_path: str | Path | None = None,
    models_dir: str | Path | None = None,
    labels_url: str | Path | None = None,
) -> Explorer:
    """Build the explorer for one session.

    Parameters
    ----------
    catalog_path : catalogue folder or canonical Parquet table (default: :data:`DEFAULT_CATALOG`)
    models_dir : folder of models (default: the shipped ``assets/models``)
    labels_url : label store, an SQLAlchemy URL or SQLite path (default: ``~/.catscope/labels.db``)
    """
    catalog_path = Path(catalog_path or DEFAULT_CATALOG)
    state = AppState(
        catalog=load_catalog(str(catalog_path)),
        labels=open_label_store(str(labels_url or "")),
        models=list_models(str(models_dir) if models_dir else None),
    )
    requested = pn.state.session_args.get("object") if pn.state.curdoc else None
    if requested:
        state.inspect(requested[0].decode())
    if pn.state.location is not None:
        pn.state.location.sync(state, {"object_id": "object"})
    return Explorer(state=state, catalog_dir=str(catalog_path) if catalog_path.is_dir() else None)


def warm_up(
    catalog_path: str | Path | None = None,
    models_dir: str | Path | None = None,
    labels_url: str | Path | None = None,
) -> None:
    """Build one session's Browse and Inspect pages off-screen and classify one object.

    Loads what every session shares (catalogue, label store, the default model) and runs the
    plotting and model code once, so the first users do not each wait for imports and loads.
    """
    from bokeh.document import Document

    app = create_app(catalog_path, models_dir, labels_url)
    state = app.state
    state.inspect(state.catalog.table["object_id"][0])
    pn.panel(app).get_root(Document())
    predictor = state.predictor() if state.can("classify") else None
    if predictor is not None:
        predictor.predict(state.catalog.get(state.object_id))


def serve(
    port: int = 5006,
    catalog: Path | None = None,
    models_dir: Path | None = None,
    show: bool = False,
    *,
    labels_url: str | None = None,
    address: str | None = None,
    threaded: bool = False,
    threads: int | None = None,
):
    """Serve the explorer on ``port``; blocks, unless ``threaded`` (then returns the thread).

    The catalogue and the default model are loaded before the server starts (a bad path fails
    at once; see :func:`warm_up`). With an ``address`` (e.g. ``0.0.0.0`` in a container) pages
    from any host name are accepted. ``threads`` > 0 runs the sessions' callbacks in a pool of
    that many threads (Panel's ``config.nthreads``), so one session's model or plot work does
    not hold up the others' clicks and new sessions.
    """
    warm_up(catalog, models_dir, labels_url)
    if threads:
        pn.config.nthreads = threads
    return pn.serve(
        lambda: create_app(catalog, models_dir, labels_url),
        port=port,
        address=address,
        websocket_origin="*" if address else None,
        show=show,
        title=TITLE,
        threaded=threaded,
        websocket_max_message_size=MAX_UPLOAD_BYTES + 1024**2,
        max_buffer_size=MAX_UPLOAD_BYTES + 1024**2,
    )
