"""What reading a user file kept, dropped, floored and merged: the typed ingest report.

Every reader fills one :class:`IngestReport` per file; the cleaning rules of
:mod:`engine.data.clean` add one :class:`RuleRecord` each, band resolution one
:class:`BandSeen` per band name. The CLI prints :meth:`IngestReport.render`, ``--report PATH``
writes :meth:`IngestReport.to_dict` as JSON, and the app shows :meth:`IngestReport.rows` as a
table under :meth:`IngestReport.summary`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Literal

import polars as pl

#: column of the long frame holding each observation's row number in the source file
ROW = "_row"
#: examples kept per rule, and ids or rows listed in a message
MAX_EXAMPLES = 5

Action = Literal["dropped", "floored", "merged"]
#: actions that take points out of the table
REMOVING: tuple[Action, ...] = ("dropped", "merged")


class IngestWarning(UserWarning):
    """Input was usable but something was dropped or converted; the message says what."""


def describe_rows(frame: pl.DataFrame) -> str:
    """Describe the first rows of ``frame`` by their ``_row``: 'rows 3, 8, 9 (and 12 more)'."""
    rows = frame[ROW].head(MAX_EXAMPLES).to_list()
    more = frame.height - len(rows)
    text = ", ".join(str(r) for r in rows)
    return f"row{'s' if frame.height > 1 else ''} {text}" + (f" (and {more} more)" if more else "")


def describe_objects(frame: pl.DataFrame) -> str:
    """Quote the first distinct ``object_id`` values of ``frame``: "'a', 'b' (and 3 more)"."""
    ids = frame["object_id"].unique(maintain_order=True)
    shown = ", ".join(repr(i) for i in ids.head(MAX_EXAMPLES).to_list())
    return shown + (f" (and {ids.len() - MAX_EXAMPLES} more)" if ids.len() > MAX_EXAMPLES else "")


@dataclass(frozen=True)
class Example:
    """One affected observation: its object, its row in the source file and what was found."""

    object_id: str
    row: int
    found: str


@dataclass(frozen=True)
class RuleRecord:
    """What one cleaning rule did to one file.

    Attributes
    ----------
    rule : identifier, e.g. ``sentinel_magnitudes`` (stable: JSON consumers key on it)
    label : what the points are, for people: ``"sentinel mags"``
    action : ``dropped``, ``floored`` (kept with a raised error) or ``merged`` (folded into
        another point of the same time and band)
    points : points affected; for ``merged``, the points folded away (a pair counts 1)
    examples : up to :data:`MAX_EXAMPLES` affected observations
    objects : object ids the rule dropped whole (the minimum-points rule)
    """

    rule: str
    label: str
    action: Action
    points: int
    examples: tuple[Example, ...] = ()
    objects: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, rule: str, label: str, action: Action, affected: pl.DataFrame, found: pl.Expr
    ) -> RuleRecord:
        """Record ``affected`` (long rows with ``object_id`` and ``_row``); ``found`` says what."""
        # rechunked: pl.format panics on some multi-chunk frames (polars 2.1)
        head = affected.head(MAX_EXAMPLES).rechunk()
        head = head.select("object_id", ROW, found.alias("found"))
        examples = tuple(Example(str(o), int(r), str(f)) for o, r, f in head.iter_rows())
        return cls(rule, label, action, affected.height, examples)


@dataclass(frozen=True)
class BandSeen:
    """A band name as the file writes it, what it resolved to, and how many points use it.

    ``points`` counts the points of the band left by the per-point rules (sentinels, non-finite
    values, bad errors), before duplicates are dropped and same-time points merged.
    """

    name: str
    canonical: str
    wavelength: float
    points: int


@dataclass
class IngestReport:
    """What a reader, :mod:`engine.data.clean` and assembly kept, dropped and converted.

    Attributes
    ----------
    source : the input file (or name) every message refers to
    format : the format the reader recognised (``plasticc``, ``snana``, ``ztf``, ``long``)
    columns : role (``time``, ``mag``, ...) -> the source column that filled it
    n_objects, n_points : objects and points in the table that was produced
    rules : one record per cleaning rule that ran, in the order they ran
    bands : every band name of the file and the wavelength it resolved to
    flux_kinds : photometry kind (``difference``, ``total``) -> objects of that kind, and
        ``flux_kind_rule`` how it was decided (see :func:`engine.data.photometry.with_flux_kind`)
    notes : every warning and note, in order
    """

    source: str
    format: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    n_objects: int = 0
    n_points: int = 0
    rules: list[RuleRecord] = field(default_factory=list)
    bands: list[BandSeen] = field(default_factory=list)
    flux_kinds: dict[str, int] = field(default_factory=dict)
    flux_kind_rule: str = ""
    notes: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        """Record ``message`` without warning (something converted as documented)."""
        self.notes.append(message)

    def warn(self, message: str) -> None:
        """Record ``message`` and emit it as an :class:`IngestWarning`."""
        self.notes.append(message)
        warnings.warn(f"{self.source}: {message}", IngestWarning, stacklevel=3)

    def source_column(self, *roles: str) -> str:
        """Return the source column of the first filled role in ``roles``, else ``roles[0]``."""
        return next((self.columns[r] for r in roles if r in self.columns), roles[0])

    def record(self, record: RuleRecord, message: str) -> None:
        """Add a rule's record; warn with ``message`` when it affected any point or object."""
        self.rules.append(record)
        if record.points or record.objects:
            self.warn(message)

    def affected(self, rule: str) -> int:
        """Points the rule named ``rule`` affected (0 when it did not run)."""
        return sum(r.points for r in self.rules if r.rule == rule)

    @property
    def objects_dropped(self) -> list[str]:
        """Ids of the objects cleaning dropped whole."""
        return [o for r in self.rules for o in r.objects]

    @property
    def n_input_points(self) -> int:
        """Points before cleaning: those kept plus those dropped or merged away."""
        return self.n_points + sum(r.points for r in self.rules if r.action in REMOVING)

    def summary(self) -> str:
        """One line: 'kept 41,230 of 41,512 points; 282 dropped: 270 sentinel mags, 12 ...'."""
        removed = [r for r in self.rules if r.action in REMOVING and r.points]
        text = f"kept {self.n_points:,} of {self.n_input_points:,} points"
        if removed:
            parts = ", ".join(f"{r.points:,} {r.label}" for r in removed)
            text += f"; {sum(r.points for r in removed):,} dropped: {parts}"
        for r in self.rules:
            if r.action == "floored" and r.points:
                text += f"; {r.points:,} {r.label}"
        if self.objects_dropped:
            text += f"; {len(self.objects_dropped):,} object(s) dropped"
        if self.flux_kinds:
            kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.flux_kinds.items()))
            text += f"; photometry: {kinds} ({self.flux_kind_rule})"
        return text

    def rows(self, examples: int = 2) -> list[dict[str, str]]:
        """Return table rows (rule, action, points, examples) of the rules that found something.

        ``examples`` caps the examples shown per rule (the report keeps up to
        :data:`MAX_EXAMPLES`); objects a rule dropped whole are listed after them.
        """
        return [
            {
                "rule": r.label,
                "action": r.action,
                "points": f"{r.points:,}",
                "examples": _examples(r, examples),
            }
            for r in self.rules
            if r.points or r.objects
        ]

    def band_rows(self) -> list[dict[str, str]]:
        """Return the bands seen as table rows (file name, canonical band, wavelength, points)."""
        return [
            {
                "band": b.name,
                "canonical": b.canonical,
                "wavelength": f"{b.wavelength:g} Å",
                "points": f"{b.points:,}",
            }
            for b in self.bands
        ]

    def render(self) -> str:
        """Plain-text report for a terminal: the summary, then the rules and bands tables."""
        return "\n".join(
            [
                f"{self.source}: {self.summary()}",
                _text_table(self.rows()),
                _text_table(self.band_rows()),
            ]
        )

    def to_dict(self) -> dict:
        """Everything in the report as JSON-ready values, with the summary line."""
        return asdict(self) | {
            "n_input_points": self.n_input_points,
            "objects_dropped": self.objects_dropped,
            "summary": self.summary(),
        }


def _examples(record: RuleRecord, limit: int) -> str:
    """Describe a rule's examples (``'a' row 3: mag=99.99 (and 12 more)``), then its objects."""
    shown = "; ".join(f"{e.object_id!r} row {e.row}: {e.found}" for e in record.examples[:limit])
    rows_left = record.points - min(limit, len(record.examples))
    text = shown + (f" (and {rows_left:,} more)" if shown and rows_left > 0 else "")
    if record.objects:
        ids = ", ".join(map(repr, record.objects[:MAX_EXAMPLES]))
        more = len(record.objects) - MAX_EXAMPLES
        text += f"; objects {ids}" + (f" (and {more:,} more)" if more > 0 else "")
    return text.removeprefix("; ")


def _text_table(rows: list[dict[str, str]]) -> str:
    """Align ``rows`` (dicts of one set of keys) in columns under a header."""
    if not rows:
        return ""
    names = list(rows[0])
    widths = {n: max(len(n), *(len(r[n]) for r in rows)) for n in names}
    lines = [[n for n in names], ["-" * widths[n] for n in names]]
    lines += [[r[n] for n in names] for r in rows]
    return "\n".join(
        "  ".join(c.ljust(widths[n]) for c, n in zip(line, names, strict=True)).rstrip()
        for line in lines
    )
