"""A catalogue as the explorer shows it: light curves plus what models computed about them.

A catalogue is either one canonical Parquet table (see :mod:`engine.data.schema`) or a folder
written by ``catscope index``::

    CATALOG_DIR/
        objects.parquet              canonical light-curve table (required)
        <model>/predictions.parquet  object_id, pred_class, confidence[, unsure], p_<class>...
                                     [, domain_score, in_domain, domain_reason]
        <model>/umap.parquet         object_id, x, y (2-D map coordinates)
        <model>/anomaly.parquet      object_id, one Float column per scorer (higher = stranger)

Every model file is optional; a model folder counts when it holds at least one of them. The
catalogue is held in memory; uploads are added with :meth:`Catalog.add`, which returns a new
catalogue (catalogues are immutable, so a view can tell when its data changed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

from engine.data.schema import LABEL_COLUMN, POINT_COLUMNS, ZERO_POINT, check_table, read_table
from engine.errors import CatscopeError, InputError, InvalidValueError

OBJECTS_FILE = "objects.parquet"
PREDICTIONS_FILE = "predictions.parquet"
UMAP_FILE = "umap.parquet"
ANOMALY_FILE = "anomaly.parquet"
#: source of objects that came with the catalogue (uploads carry their file name)
CATALOGUE_SOURCE = "catalogue"
#: scorer names of :meth:`Catalog.ranking` that are not anomaly score columns
CATALOGUE_ORDER = "catalogue order"
LOW_CONFIDENCE = "low confidence"
#: significance of the flux upper limit drawn for a non-positive flux
LIMIT_SIGMA = 3.0
#: prediction columns :meth:`Catalog.summary` shows, where a catalogue has them
_SUMMARY_PREDICTIONS = (
    "pred_class",
    "confidence",
    "unsure",
    "domain_score",
    "in_domain",
    "domain_reason",
)
_PRODUCT_KEYS = {
    PREDICTIONS_FILE: ("object_id", "pred_class", "confidence"),
    UMAP_FILE: ("object_id", "x", "y"),
    ANOMALY_FILE: ("object_id",),
}


class UnknownObjectError(CatscopeError, LookupError):
    """An object id is not in the catalogue."""


@dataclass(frozen=True, eq=False)
class ModelProducts:
    """What one model computed for a catalogue; each frame is keyed by ``object_id``.

    ``embeddings`` (``object_id, embedding``) holds only vectors the stored FAISS index does
    not: this session's uploads, so that their neighbours can be searched.
    """

    predictions: pl.DataFrame | None = None
    umap: pl.DataFrame | None = None
    anomaly: pl.DataFrame | None = None
    embeddings: pl.DataFrame | None = None

    @property
    def anomaly_scorers(self) -> list[str]:
        """Names of the anomaly score columns."""
        return (
            [c for c in self.anomaly.columns if c != "object_id"]
            if self.anomaly is not None
            else []
        )


#: the frames of :class:`ModelProducts`
_PRODUCTS = ("predictions", "umap", "anomaly", "embeddings")


def _append(old: pl.DataFrame | None, new: pl.DataFrame | None) -> pl.DataFrame | None:
    """``old`` with the rows of ``new`` appended (either may be missing)."""
    if old is None or new is None:
        return new if old is None else old
    return pl.concat([old, new], how="diagonal_relaxed")


def _read_product(path: Path) -> pl.DataFrame | None:
    """Read one model product file, checking its key columns; ``None`` if it does not exist."""
    if not path.exists():
        return None
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        msg = f"{path}: cannot read as Parquet ({exc})"
        raise InputError(msg) from exc
    missing = [c for c in _PRODUCT_KEYS[path.name] if c not in frame.columns]
    if missing:
        expected = list(_PRODUCT_KEYS[path.name])
        msg = f"{path}: missing column(s) {missing}; expected at least {expected}"
        raise InputError(msg)
    return frame.with_columns(pl.col("object_id").cast(pl.String))


def flux_to_mag(flux: pl.Expr, flux_err: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """AB magnitude and its first-order error from FLUXCAL flux (null where flux <= 0).

    The inverse of :func:`engine.data.schema.mag_to_flux`.
    """
    positive = flux > 0
    mag = pl.when(positive).then(ZERO_POINT - 2.5 * flux.log10())
    mag_err = pl.when(positive).then(2.5 / math.log(10.0) * flux_err / flux)
    return mag, mag_err


def with_magnitudes(points: pl.DataFrame) -> pl.DataFrame:
    """Add ``mag``, ``mag_err`` and ``upper_limit`` to a frame of points with flux and flux_err.

    Where flux > 0, ``mag`` is the AB magnitude; elsewhere it is the :data:`LIMIT_SIGMA` upper
    limit ``27.5 - 2.5 log10(3 flux_err)``, ``mag_err`` is null and ``upper_limit`` is true.
    """
    mag, mag_err = flux_to_mag(pl.col("flux"), pl.col("flux_err"))
    limit = ZERO_POINT - 2.5 * (LIMIT_SIGMA * pl.col("flux_err")).log10()
    return points.with_columns(
        mag.otherwise(limit).alias("mag"),
        mag_err.alias("mag_err"),
        (pl.col("flux") <= 0).alias("upper_limit"),
    )


def row_points(row: pl.DataFrame) -> pl.DataFrame:
    """Observations of a one-row canonical table, one per row in time order, with magnitudes."""
    columns = list(POINT_COLUMNS)
    return with_magnitudes(row.select(columns).explode(columns))


@dataclass(frozen=True, eq=False)
class Catalog:
    """Light curves of a catalogue with the per-model products of ``catscope index``.

    Attributes
    ----------
    name : short name (folder or file stem), used as the catalogue key of stored labels
    table : canonical light-curve table
    products : model name -> its :class:`ModelProducts`
    uploaded : object id -> name of the uploaded file it came from
    """

    name: str
    table: pl.DataFrame
    products: Mapping[str, ModelProducts] = field(default_factory=dict)
    uploaded: Mapping[str, str] = field(default_factory=dict)
    _summaries: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        duplicated = self.table.filter(pl.col("object_id").is_duplicated())["object_id"].unique()
        if duplicated.len():
            msg = (
                f"catalogue {self.name!r}: object ids must be unique; repeated: "
                f"{duplicated.head(5).to_list()}"
            )
            raise InvalidValueError(msg)

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        """Load a canonical Parquet table or a catalogue folder (see the module docstring)."""
        path = Path(path)
        if path.is_file():
            return cls(name=path.stem, table=read_table(path))
        objects = path / OBJECTS_FILE
        if not objects.is_file():
            msg = (
                f"{path}: not a catalogue; give a canonical Parquet table or a folder holding "
                f"{OBJECTS_FILE} (written by 'catscope index')"
            )
            raise InputError(msg)
        products = {}
        for folder in sorted(p for p in path.iterdir() if p.is_dir()):
            found = ModelProducts(
                predictions=_read_product(folder / PREDICTIONS_FILE),
                umap=_read_product(folder / UMAP_FILE),
                anomaly=_read_product(folder / ANOMALY_FILE),
            )
            if any(frame is not None for frame in (found.predictions, found.umap, found.anomaly)):
                products[folder.name] = found
        return cls(name=path.name, table=read_table(objects), products=products)

    def __len__(self) -> int:
        return self.table.height

    @property
    def models(self) -> list[str]:
        """Models with products in this catalogue."""
        return list(self.products)

    def scorers(self) -> list[str]:
        """Names of the ways to rank objects for vetting (see :meth:`ranking`).

        ``catalogue order`` always; ``<model>: <scorer>`` for each anomaly score column of a
        model; ``<model>: low confidence`` when the model has predictions.
        """
        names = [CATALOGUE_ORDER]
        for model, products in self.products.items():
            names += [f"{model}: {scorer}" for scorer in products.anomaly_scorers]
            if products.predictions is not None:
                names.append(f"{model}: {LOW_CONFIDENCE}")
        return names

    def ranking(self, scorer: str) -> pl.DataFrame:
        """``object_id, score``, most worth a look first (objects without a score last).

        Anomaly scores rank highest first; ``low confidence`` ranks by ``1 - confidence``; the
        catalogue order has a null score.
        """
        if scorer not in self.scorers():
            msg = f"unknown scorer {scorer!r}; this catalogue offers {self.scorers()}"
            raise InvalidValueError(msg)
        ids = self.table.select("object_id")
        if scorer == CATALOGUE_ORDER:
            return ids.with_columns(pl.lit(None, pl.Float64).alias("score"))
        model, _, column = scorer.partition(": ")
        products = self.products[model]
        if column == LOW_CONFIDENCE:
            scores = products.predictions.select(
                "object_id", (1.0 - pl.col("confidence")).alias("score")
            )
        else:
            scores = products.anomaly.select("object_id", pl.col(column).alias("score"))
        ranked = ids.join(scores, on="object_id", how="left", maintain_order="left")
        return ranked.with_columns(pl.col("score").cast(pl.Float64)).sort(
            "score", descending=True, nulls_last=True, maintain_order=True
        )

    def classes(self) -> list[str]:
        """Sorted distinct known labels."""
        if LABEL_COLUMN not in self.table.columns:
            return []
        return sorted(self.table[LABEL_COLUMN].drop_nulls().unique().to_list())

    def summary(self, model: str | None = None) -> pl.DataFrame:
        """One row per object for browsing: id, label, points, bands, time span, source.

        With ``model``, its prediction (``pred_class``, ``confidence``, ``unsure``, and
        ``domain_score``, ``in_domain``, ``domain_reason`` from models with a domain reference)
        and anomaly scores (``anomaly_<scorer>``) are joined on when the catalogue has them.
        Computed once per model and kept.
        """
        if model not in self._summaries:
            self._summaries[model] = self._summarise(self.table, model)
        return self._summaries[model]

    def describe(self, object_id: str, model: str | None = None) -> dict:
        """Return the :meth:`summary` row of one object as a dict."""
        return self._summarise(self.get(object_id), model).row(0, named=True)

    def _summarise(self, table: pl.DataFrame, model: str | None) -> pl.DataFrame:
        label = pl.col(LABEL_COLUMN) if LABEL_COLUMN in table.columns else pl.lit(None, pl.String)
        summary = table.select(
            "object_id",
            label.alias("label"),
            pl.col("time").list.len().alias("n_points"),
            pl.col("detected").list.sum().alias("n_detected"),
            # distinct filter letters in wavelength order, e.g. "u g r i z y"
            pl.col("band")
            .list.gather(pl.col("wavelength").list.eval(pl.element().arg_sort()))
            .list.eval(pl.element().unique(maintain_order=True).str.split("_").list.last())
            .list.join(" ")
            .alias("bands"),
            pl.col("time").list.min().alias("first_mjd"),
            (pl.col("time").list.max() - pl.col("time").list.min()).alias("span_days"),
            pl.col("object_id")
            .replace_strict(dict(self.uploaded), default=CATALOGUE_SOURCE, return_dtype=pl.String)
            .alias("source"),
        )
        products = self.products.get(model) if model is not None else None
        if products is None:
            return summary
        if products.predictions is not None:
            wanted = [c for c in _SUMMARY_PREDICTIONS if c in products.predictions.columns]
            summary = summary.join(
                products.predictions.select("object_id", *wanted),
                on="object_id",
                how="left",
                maintain_order="left",
            )
        if products.anomaly is not None:
            summary = summary.join(
                products.anomaly.rename({s: f"anomaly_{s}" for s in products.anomaly_scorers}),
                on="object_id",
                how="left",
                maintain_order="left",
            )
        return summary

    def get(self, object_id: str) -> pl.DataFrame:
        """Return the one-row canonical table of ``object_id``."""
        row = self.table.filter(pl.col("object_id") == str(object_id))
        if row.height == 0:
            msg = (
                f"no object with id {object_id!r} in catalogue {self.name!r} "
                f"({len(self):,} objects)"
            )
            raise UnknownObjectError(msg)
        return row

    def new_embedding(self, object_id: str, model: str) -> np.ndarray | None:
        """``model``'s embedding of an object added with its products (an upload), else ``None``.

        Objects of the stored catalogue have theirs in the FAISS index instead.
        """
        products = self.products.get(model)
        if products is None or products.embeddings is None:
            return None
        row = products.embeddings.filter(pl.col("object_id") == str(object_id))
        return row["embedding"].to_numpy()[0] if row.height else None

    def points(self, object_id: str) -> pl.DataFrame:
        """Return the observations of ``object_id``, one per row, with magnitudes.

        Magnitude columns as in :func:`with_magnitudes`.
        """
        return row_points(self.get(object_id))

    def examples(self) -> pl.DataFrame:
        """Return one example per known class (most detections first): ``label, object_id``."""
        if LABEL_COLUMN not in self.table.columns:
            return pl.DataFrame(schema={"label": pl.String, "object_id": pl.String})
        return (
            self.table.select(
                "object_id",
                pl.col(LABEL_COLUMN).alias("label"),
                pl.col("detected").list.sum().alias("_n"),
            )
            .drop_nulls("label")
            .sort(["label", "_n", "object_id"], descending=[False, True, False])
            .group_by("label", maintain_order=True)
            .first()
            .select("label", "object_id")
        )

    def add(
        self,
        table: pl.DataFrame,
        *,
        source: str,
        products: Mapping[str, ModelProducts] | None = None,
    ) -> Catalog:
        """Return a new catalogue with the objects of ``table`` (from file ``source``) appended.

        ``products`` (model name -> what the model computed for the new objects: predictions,
        map positions, anomaly scores; any may be ``None``) are appended to that model's.
        Raises :class:`InvalidValueError` if any object id is already in the catalogue.
        """
        table = check_table(table)
        clash = table.join(self.table.select("object_id"), on="object_id", how="semi")["object_id"]
        if clash.len():
            msg = (
                f"{source}: object id(s) {clash.head(5).to_list()} are already in catalogue "
                f"{self.name!r}; rename them (ids must be unique)"
            )
            raise InvalidValueError(msg)
        merged = dict(self.products)
        for model, new in (products or {}).items():
            old = merged.get(model, ModelProducts())
            merged[model] = ModelProducts(
                **{kind: _append(getattr(old, kind), getattr(new, kind)) for kind in _PRODUCTS}
            )
        uploaded = dict(self.uploaded) | dict.fromkeys(table["object_id"].to_list(), source)
        return replace(
            self,
            table=pl.concat([self.table, table], how="diagonal_relaxed"),
            products=merged,
            uploaded=uploaded,
        )
