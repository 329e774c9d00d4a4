"""Upload page: read a CSV/Parquet file with the ``catscope ingest`` readers and add its objects.

Every failure ends as a message on the page; the session and the server keep running.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import panel as pn
import param
import polars as pl

from app.state import AppState
from app.text import markdown
from engine.catalog import ModelProducts
from engine.data.bands import parse_band_map
from engine.data.clean import CleaningPolicy
from engine.data.load import LoadedTable, ReadOptions
from engine.data.photometry import FLUX_KIND_OPTIONS
from engine.data.report import IngestReport
from engine.errors import CatscopeError, FileTooLargeError, MissingColumnError, UnknownBandError

log = logging.getLogger(__name__)
ACCEPTED = ".csv,.parquet,.pq"
#: largest upload accepted by the page (bytes); bigger catalogues go through `catscope ingest`
MAX_UPLOAD_BYTES = 100 * 1024**2
#: what the page says about bigger files
BIGGER_FILES = (
    "For bigger files use the command line: catscope ingest FILE --out TABLE.parquet, "
    "then catscope serve --catalog TABLE.parquet."
)


class Prepared(NamedTuple):
    """An upload read, scored and placed, ready to join the catalogue.

    ``products`` holds what each model computed for the new objects; ``placed`` names the
    models that put them on their map, ``note`` says why they could not (Markdown, or empty).
    """

    table: pl.DataFrame
    report: IngestReport
    products: dict[str, ModelProducts]
    placed: list[str]
    note: str = ""


def _attempt(function, *args) -> tuple:
    """``(function(*args), None)``, or ``(None, error)``: a bad upload never ends the session."""
    try:
        return function(*args), None
    except CatscopeError as exc:
        return None, exc
    except Exception as exc:  # noqa: BLE001 - shown on the page; logged for the developers
        log.exception("upload step %s failed", getattr(function, "__name__", function))
        return None, exc


def _markdown_table(rows: list[dict[str, str]]) -> str:
    """Write ``rows`` (dicts of one set of keys) as a Markdown table, every cell escaped."""
    if not rows:
        return ""
    names = list(rows[0])
    lines = [names, ["---"] * len(names), *([row[n] for n in names] for row in rows)]
    return "\n".join(
        "| " + " | ".join(markdown(c) if i != 1 else c for c in line) + " |"
        for i, line in enumerate(lines)
    )


def report_markdown(report: IngestReport) -> str:
    """Describe what reading an upload did in Markdown: the summary, rules and bands seen."""
    return "\n\n".join(
        part
        for part in (
            f"**{markdown(report.summary())}**",
            _markdown_table(report.rows()),
            _markdown_table(report.band_rows()),
        )
        if part
    )


class UploadView(pn.viewable.Viewer):
    """File picker, optional column and band mapping, and the outcome of the last upload."""

    state = param.ClassSelector(class_=AppState)
    catalog_dir = param.String(
        default=None,
        allow_None=True,
        doc="Catalogue folder built by 'catscope index': uploads are placed on its maps.",
    )
    columns = param.String(
        default="",
        doc="Column mapping overriding detection, e.g. object_id=ID,time=MJD,mag=M,mag_err=E",
    )
    band_map = param.String(default="", doc="Extra bands, e.g. w=6000, G2=ztf_g (comma separated).")
    min_points = param.Integer(
        default=CleaningPolicy.min_points, bounds=(1, None), doc="Drop objects with fewer points."
    )
    strict = param.Boolean(
        default=False, doc="Refuse the file at its first bad point instead of dropping it."
    )
    flux_kind = param.Selector(
        objects=list(FLUX_KIND_OPTIONS),
        default="auto",
        label="Photometry",
        doc="difference (alerts, difference imaging), total (catalogue light curves) or auto.",
    )
    add = param.Event(doc="Read the file and add its objects.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._file = pn.widgets.FileInput(
            accept=ACCEPTED, multiple=False, label="Light-curve file (CSV or Parquet)"
        )
        self._status = pn.pane.Alert(
            "Choose a CSV or Parquet file of photometry (one row per observation, or a catscope "
            "table), then press *Add to catalogue*.",
            alert_type="info",
            sizing_mode="stretch_width",
        )
        self._mapping = pn.Card(
            pn.widgets.TextInput.from_param(self.param.columns, sizing_mode="stretch_width"),
            pn.widgets.TextInput.from_param(self.param.band_map, sizing_mode="stretch_width"),
            pn.Row(
                pn.widgets.IntInput.from_param(self.param.min_points),
                pn.widgets.Checkbox.from_param(self.param.strict),
                pn.widgets.Select.from_param(self.param.flux_kind, width=160),
            ),
            pn.pane.Markdown(
                "Roles: `object_id`, `time` (MJD or JD), `band`, `flux` + `flux_err` (FLUXCAL, "
                "zero point 27.5) or `mag` + `mag_err` (AB), optional `detected`, `label`. "
                "Band map entries are `NAME=WAVELENGTH_IN_ANGSTROM` or `NAME=KNOWN_BAND`. "
                "Photometry: *difference* flux (alerts, difference imaging: 0 = the reference "
                "image) or *total* brightness (catalogue light curves); *auto* tells them apart "
                "per object, and total light curves have each band's median subtracted before "
                "a model reads them."
            ),
            title="Column and band mapping (when detection fails)",
            collapsed=True,
            sizing_mode="stretch_width",
        )
        self._report = pn.pane.Markdown("", sizing_mode="stretch_width")

    def show(self, text: str, kind: str) -> None:
        """Put ``text`` in the status box (``kind``: info, success, warning, danger)."""
        self._status.param.update(object=text, alert_type=kind)

    def options(self) -> ReadOptions:
        """Build the input options of the mapping form (the other cleaning options at defaults)."""
        from engine.data.ingest import parse_columns

        entries = [e.strip() for e in self.band_map.replace(";", ",").split(",") if e.strip()]
        return ReadOptions(
            columns=parse_columns(self.columns) or None,
            band_map=parse_band_map(entries),
            cleaning=CleaningPolicy(strict=self.strict, min_points=self.min_points),
            flux_kind=self.flux_kind,
        )

    def read(self, filename: str, content: bytes) -> LoadedTable:
        """Read uploaded ``content`` named ``filename`` as ``catscope ingest`` would."""
        from engine.data.load import load

        options = self.options()
        with tempfile.TemporaryDirectory(prefix="catscope-upload-") as folder:
            path = Path(folder) / Path(filename).name
            path.write_bytes(content)
            try:
                loaded = load(path, options)
            except CatscopeError as exc:
                # name the file as the user knows it, not by its temporary copy
                raise type(exc)(str(exc).replace(str(path), filename)) from exc
        for report in loaded.reports:
            report.source = filename
        return loaded

    def prepare(self, filename: str, content: bytes) -> Prepared:
        """Read ``content`` and score it with the chosen model; touches no widget or state."""
        if len(content) > MAX_UPLOAD_BYTES:
            msg = (
                f"{filename} is {len(content) / 1024**2:.0f} MB; the page accepts up to "
                f"{MAX_UPLOAD_BYTES // 1024**2} MB. {BIGGER_FILES}"
            )
            raise FileTooLargeError(msg)
        loaded = self.read(filename, content)
        table, report = loaded.table, loaded.reports[0]
        products, note = self.place(table)
        chosen = products.get(self.state.model, ModelProducts())
        if self.state.can("classify") and chosen.predictions is None:
            # the chosen model is not one of the catalogue's: it scores the upload on its own
            predictions = self.state.predictor().predict(table)
            products[self.state.model] = replace(chosen, predictions=predictions)
        placed = [m for m, p in products.items() if p.umap is not None]
        return Prepared(table, report, products, placed, note)

    def place(self, table: pl.DataFrame) -> tuple[dict[str, ModelProducts], str]:
        """Embed, map, score and classify ``table`` with every model of the catalogue folder.

        Nothing is written: the placements live in this session's catalogue. Returns no
        products and the reason when there is no catalogue folder or a model is missing.
        """
        if not self.catalog_dir:
            return {}, "This catalogue has no maps (not built by `catscope index`)."
        from engine.index.catalog_build import place_objects

        info = self.state.model_info
        models_dir = info.path.parent if info is not None else None
        try:
            placements = place_objects(self.catalog_dir, table, models_dir=models_dir, threads=1)
        except CatscopeError as exc:
            return {}, f"Not placed on the maps: {markdown(exc)}"
        ids = table["object_id"]
        products = {
            model: ModelProducts(
                predictions=placement.predictions,
                umap=placement.umap,
                anomaly=placement.anomaly,
                embeddings=pl.DataFrame({"object_id": ids, "embedding": placement.embeddings}),
            )
            for model, placement in placements.items()
        }
        return products, ""

    def apply(self, filename: str, prepared: Prepared) -> None:
        """Add prepared objects to the session's catalogue and say so."""
        self.state.catalog = self.state.catalog.add(
            prepared.table, source=filename, products=prepared.products
        )
        notes = [*map(markdown, prepared.report.notes), prepared.note]
        notes = "".join(f"\n- {note}" for note in notes if note)
        scored = [m for m, p in prepared.products.items() if p.predictions is not None]
        scored = f" Scored with {markdown(', '.join(scored))}." if scored else ""
        if prepared.placed:
            scored += f" Placed on the map of {markdown(', '.join(prepared.placed))}."
        name = markdown(filename)
        self.show(
            f"**Added {prepared.table.height:,} objects ({prepared.report.n_points:,} points) "
            f"from {name}.**{scored} Find them on the Browse page (source = {name})."
            f"\n\n{markdown(prepared.report.summary())}.{notes}",
            "success",
        )
        self._report.object = report_markdown(prepared.report)

    def upload(self, filename: str, content: bytes) -> None:
        """Read ``content``, add its objects to the catalogue and report the outcome."""
        self.finish(filename, _attempt(self.prepare, filename, content))

    def finish(self, filename: str, outcome: tuple[Prepared | None, Exception | None]) -> None:
        """Apply a successful :meth:`prepare` outcome, or show why the upload failed."""
        prepared, error = outcome
        if error is None:
            error = _attempt(self.apply, filename, prepared)[1]
        if error is None:
            return
        self._report.object = ""
        if isinstance(error, MissingColumnError | UnknownBandError):
            self._mapping.collapsed = False
        name = markdown(filename)
        if isinstance(error, CatscopeError):
            self.show(f"**Could not add {name}.** {markdown(error)}", "danger")
        else:
            self.show(
                f"**Could not add {name}** (unexpected {type(error).__name__}: {markdown(error)}).",
                "danger",
            )

    @param.depends("add", watch=True)
    async def _on_add(self) -> None:
        if not self._file.value:
            self.show("Choose a file first.", "warning")
            return
        filename, content = self._file.filename, self._file.value
        with self._status.param.update(loading=True):
            # read in a worker thread: the server keeps serving other sessions meanwhile
            outcome = await asyncio.to_thread(_attempt, self.prepare, filename, content)
        self.finish(filename, outcome)

    def __panel__(self) -> pn.viewable.Viewable:
        button = pn.widgets.Button.from_param(
            self.param.add, label="Add to catalogue", color="primary"
        )
        return pn.Column(
            pn.pane.Markdown(
                "### Add your own light curves\n"
                f"CSV or Parquet files up to {MAX_UPLOAD_BYTES // 1024**2} MB. {BIGGER_FILES}"
            ),
            pn.Row(self._file, button),
            self._mapping,
            self._status,
            self._report,
            sizing_mode="stretch_width",
        )
