"""The label store: what people decided about objects while vetting, kept with its history.

Labels are appended, never updated or deleted, so every decision stays on record; the
*current* label of an object is its latest one. Each label is written in its own transaction:
a crash loses at most the label being written, never one already stored.

A label is one of ``interesting``, ``artefact``, ``skip`` or ``known:<class>`` (e.g.
``known:SNIa``). The store is an SQLite file by default (:func:`default_path`); any SQLAlchemy
URL works, e.g. ``postgresql+psycopg://user@host/db`` for a store shared by a team.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import polars as pl
from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from engine.data.schema import MAX_OBJECT_ID_LENGTH
from engine.errors import CatscopeError, InvalidValueError

#: labels that need no class name
PLAIN_LABELS = ("interesting", "artefact", "skip")
#: prefix of a "this is a known class" label, followed by the class name
KNOWN_PREFIX = "known:"
#: environment variable overriding the default store location
ENV_VAR = "CATSCOPE_LABELS"

#: longest object id, catalogue name and label: the ingest limit
_MAX_ID = MAX_OBJECT_ID_LENGTH
_MAX_USER = 128


class LabelStoreError(CatscopeError):
    """The label database cannot be opened, read or written."""


class _Base(DeclarativeBase):
    pass


class _LabelRow(_Base):
    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    object_id: Mapped[str] = mapped_column(String(_MAX_ID), index=True)
    catalogue: Mapped[str] = mapped_column(String(_MAX_ID), index=True)
    label: Mapped[str] = mapped_column(String(_MAX_ID))
    note: Mapped[str] = mapped_column(Text, default="")
    user: Mapped[str] = mapped_column(String(_MAX_USER))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class LabelRecord:
    """One stored label."""

    object_id: str
    catalogue: str
    label: str
    note: str
    user: str
    created_at: datetime


#: schema of the frames returned by :meth:`LabelStore.history` and :meth:`LabelStore.current`
LABEL_SCHEMA = pl.Schema(
    {
        "object_id": pl.String,
        "catalogue": pl.String,
        "label": pl.String,
        "note": pl.String,
        "user": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
    }
)


def default_path() -> Path:
    """Where labels go when no store is given: ``$CATSCOPE_LABELS`` or ``~/.catscope/labels.db``."""
    return Path(os.environ.get(ENV_VAR, Path.home() / ".catscope" / "labels.db"))


def check_label(label: str) -> str:
    """Return ``label`` stripped if it is a valid label, else raise :class:`InvalidValueError`."""
    text = str(label).strip()
    if text in PLAIN_LABELS:
        return text
    if text.startswith(KNOWN_PREFIX) and text[len(KNOWN_PREFIX) :].strip():
        return KNOWN_PREFIX + text[len(KNOWN_PREFIX) :].strip()
    msg = (
        f"label {label!r} is not allowed; use one of {', '.join(PLAIN_LABELS)} "
        f"or '{KNOWN_PREFIX}<class>' (e.g. '{KNOWN_PREFIX}SNIa')"
    )
    raise InvalidValueError(msg)


def _check_name(value: str, *, name: str, limit: int) -> str:
    text = str(value).strip()
    if not text or len(text) > limit:
        msg = f"{name} must be a non-empty text of at most {limit} characters; got {value!r}"
        raise InvalidValueError(msg)
    return text


def _as_url(store: str | Path | None) -> URL:
    """SQLAlchemy URL of ``store``: a URL as given, or a path to an SQLite file."""
    if store is None or isinstance(store, Path) or "://" not in str(store):
        path = Path(store) if store is not None else default_path()
        path.expanduser().parent.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite", database=str(path.expanduser()))
    try:
        return make_url(str(store))
    except ArgumentError as exc:
        msg = f"label store {store!r} is neither a file path nor an SQLAlchemy URL ({exc})"
        raise LabelStoreError(msg) from exc


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets readers run while a label is written; FULL sync makes each commit durable."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite returns naive ones, stored as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class LabelStore:
    """Append-only store of object labels in an SQL database.

    Parameters
    ----------
    store
        An SQLAlchemy URL (``sqlite:///labels.db``, ``postgresql+psycopg://...``), a path to an
        SQLite file (created with its folder if missing), or ``None`` for :func:`default_path`.
    """

    def __init__(self, store: str | Path | None = None) -> None:
        self.url = _as_url(store)
        try:
            self._engine: Engine = create_engine(self.url)
            if self.url.get_backend_name() == "sqlite":
                event.listen(self._engine, "connect", _sqlite_pragmas)
            _Base.metadata.create_all(self._engine)
        except (SQLAlchemyError, ImportError) as exc:
            msg = f"cannot open the label store {self.url.render_as_string()!r}: {exc}"
            raise LabelStoreError(msg) from exc

    def __repr__(self) -> str:
        return f"LabelStore({self.url.render_as_string()!r})"

    def add(
        self,
        object_id: str,
        label: str,
        *,
        catalogue: str,
        note: str = "",
        user: str | None = None,
    ) -> LabelRecord:
        """Store a label for ``object_id`` of ``catalogue`` (committed before returning)."""
        row = _LabelRow(
            object_id=_check_name(object_id, name="object_id", limit=_MAX_ID),
            catalogue=_check_name(catalogue, name="catalogue", limit=_MAX_ID),
            label=check_label(label),
            note=str(note or ""),
            user=_check_name(user or _current_user(), name="user", limit=_MAX_USER),
            created_at=datetime.now(UTC),
        )
        record = _record(row)
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
        except SQLAlchemyError as exc:
            msg = f"cannot write the label of {object_id!r} to {self!r}: {exc}"
            raise LabelStoreError(msg) from exc
        return record

    def history(
        self, *, catalogue: str | None = None, object_id: str | None = None
    ) -> pl.DataFrame:
        """Every stored label, oldest first, optionally of one catalogue and/or object."""
        query = select(_LabelRow).order_by(_LabelRow.id)
        if catalogue is not None:
            query = query.where(_LabelRow.catalogue == catalogue)
        if object_id is not None:
            query = query.where(_LabelRow.object_id == object_id)
        return self._frame(query)

    def current(self, *, catalogue: str | None = None) -> pl.DataFrame:
        """Return the latest label of each (catalogue, object), oldest first."""
        latest = select(func.max(_LabelRow.id)).group_by(_LabelRow.catalogue, _LabelRow.object_id)
        if catalogue is not None:
            latest = latest.where(_LabelRow.catalogue == catalogue)
        return self._frame(
            select(_LabelRow)
            .where(_LabelRow.id.in_(latest.scalar_subquery()))
            .order_by(_LabelRow.id)
        )

    def label_of(self, object_id: str, *, catalogue: str) -> LabelRecord | None:
        """Return the current label of one object, or ``None`` if it has none."""
        query = (
            select(_LabelRow)
            .where(_LabelRow.catalogue == catalogue, _LabelRow.object_id == object_id)
            .order_by(_LabelRow.id.desc())
            .limit(1)
        )
        records = self._records(query)
        return records[0] if records else None

    def export(
        self,
        path: str | Path,
        *,
        which: Literal["current", "history"] = "current",
        catalogue: str | None = None,
    ) -> Path:
        """Write labels to ``path`` as CSV or Parquet (chosen by the suffix); return the path."""
        path = Path(path)
        if which not in ("current", "history"):
            msg = f"which must be 'current' or 'history'; got {which!r}"
            raise InvalidValueError(msg)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            msg = f"cannot export labels to {str(path)!r}: the file must end in .csv or .parquet"
            raise InvalidValueError(msg)
        frame = (
            self.current(catalogue=catalogue)
            if which == "current"
            else self.history(catalogue=catalogue)
        )
        if suffix == ".csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
        return path

    def close(self) -> None:
        """Close every pooled database connection."""
        self._engine.dispose()

    def _records(self, query) -> list[LabelRecord]:
        try:
            with Session(self._engine) as session:
                return [_record(row) for row in session.scalars(query)]
        except SQLAlchemyError as exc:
            msg = f"cannot read labels from {self!r}: {exc}"
            raise LabelStoreError(msg) from exc

    def _frame(self, query) -> pl.DataFrame:
        records = self._records(query)
        columns = {name: [getattr(r, name) for r in records] for name in LABEL_SCHEMA}
        return pl.DataFrame(columns, schema=LABEL_SCHEMA)


def _record(row: _LabelRow) -> LabelRecord:
    return LabelRecord(
        object_id=row.object_id,
        catalogue=row.catalogue,
        label=row.label,
        note=row.note or "",
        user=row.user,
        created_at=_utc(row.created_at),
    )


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
