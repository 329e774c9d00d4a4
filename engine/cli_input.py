"""The input options of every command that reads a user's light curves, defined once.

``ingest``, ``score``, ``index`` and ``evaluate`` are decorated with :func:`reads_user_files`,
which adds the same options to each (``--columns``, ``--band-map``, ``--metadata``, the
cleaning options, ``--strict``, ``--max-file-bytes``, ``--flux-kind`` and ``--report``) and hands
the command one :class:`~engine.data.load.ReadOptions` as its ``read`` argument, so ``--help`` of
each lists the same input options and no command can forget one.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.data.readers.files import DEFAULT_MAX_FILE_BYTES

if TYPE_CHECKING:
    from engine.data.load import LoadedTable, ReadOptions

PANEL = "Input (light-curve files)"


def _option(*names: str, help: str) -> typer.models.OptionInfo:
    return typer.Option(*names, help=help, rich_help_panel=PANEL)


#: name -> (annotation, default) of every shared input option, in the order --help lists them
INPUT_OPTIONS: dict[str, tuple[object, object]] = {
    "columns": (
        Annotated[
            str | None,
            _option(
                "--columns",
                help="Column mapping overriding detection, e.g. 'object_id=ID,time=MJD,mag=M'.",
            ),
        ],
        None,
    ),
    "band_map": (
        Annotated[
            list[str] | None,
            _option(
                "--band-map", help="Add or override a band: NAME=WAVELENGTH_A or NAME=KNOWN_BAND."
            ),
        ],
        None,
    ),
    "metadata": (
        Annotated[
            Path | None,
            _option("--metadata", help="Per-object metadata/labels CSV (e.g. PLAsTiCC metadata)."),
        ],
        None,
    ),
    "strict": (
        Annotated[
            bool,
            _option(
                "--strict/--lenient",
                help="Refuse a file at its first bad point instead of dropping and reporting it.",
            ),
        ],
        False,
    ),
    "min_points": (
        Annotated[
            int, _option("--min-points", help="Drop objects left with fewer points than this.")
        ],
        3,
    ),
    "same_time_tol": (
        Annotated[
            float,
            _option(
                "--same-time-tol",
                help="Merge points of one object and band closer than this many days.",
            ),
        ],
        1e-5,
    ),
    "min_mag_err": (
        Annotated[
            float | None,
            _option(
                "--min-mag-err",
                help="Raise magnitude errors below this (e.g. 0.0 = unknown) instead of "
                "dropping their points.",
            ),
        ],
        None,
    ),
    "min_flux_err_frac": (
        Annotated[
            float | None,
            _option(
                "--min-flux-err-frac",
                help="Raise flux errors below this fraction of |flux| instead of dropping "
                "their points.",
            ),
        ],
        None,
    ),
    "max_file_bytes": (
        Annotated[int, _option("--max-file-bytes", help="Refuse files larger than this.")],
        DEFAULT_MAX_FILE_BYTES,
    ),
    "flux_kind": (
        Annotated[
            str,
            _option(
                "--flux-kind",
                help="difference (alerts, difference imaging), total (catalogue light curves) "
                "or auto: told apart per object.",
            ),
        ],
        "auto",
    ),
    "report": (
        Annotated[
            Path | None, _option("--report", help="Also write the ingest report here as JSON.")
        ],
        None,
    ),
}


def read_options(
    *,
    columns: str | None,
    band_map: list[str] | None,
    metadata: Path | None,
    strict: bool,
    min_points: int,
    same_time_tol: float,
    min_mag_err: float | None,
    min_flux_err_frac: float | None,
    max_file_bytes: int,
    flux_kind: str,
) -> ReadOptions:
    """Build :class:`ReadOptions` from the values of the shared options (text still parsed)."""
    from engine.data.bands import parse_band_map
    from engine.data.clean import CleaningPolicy
    from engine.data.ingest import parse_columns
    from engine.data.load import ReadOptions

    return ReadOptions(
        columns=parse_columns(columns) or None,
        band_map=parse_band_map(band_map),
        metadata=metadata,
        cleaning=CleaningPolicy(
            strict=strict,
            min_points=min_points,
            same_time_tol=same_time_tol,
            min_mag_err=min_mag_err,
            min_flux_err_frac=min_flux_err_frac,
        ),
        max_file_bytes=max_file_bytes,
        flux_kind=flux_kind,
    )


def _evaluated(annotation: object, command: Callable) -> object:
    """Evaluate a text annotation (``from __future__ import annotations``) as inspect would."""
    if not isinstance(annotation, str):
        return annotation
    return eval(annotation, command.__globals__)  # noqa: S307 - inspect's eval_str does the same


def reads_user_files(command: Callable) -> Callable:
    """Add the shared input options to ``command``, which takes ``read`` and ``report_path``.

    ``read`` receives the :class:`ReadOptions`, ``report_path`` the ``--report`` path.
    """
    signature = inspect.signature(command)
    own = [
        p.replace(annotation=_evaluated(p.annotation, command))
        for p in signature.parameters.values()
        if p.name not in ("read", "report_path")
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, (kind, default) in INPUT_OPTIONS.items()
    ]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {name: kwargs.pop(name) for name in INPUT_OPTIONS}
        report_path = values.pop("report")
        return command(*args, read=read_options(**values), report_path=report_path, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*own, *added])
    wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
    return wrapper


def echo_reports(loaded: LoadedTable, report_path: Path | None) -> None:
    """Print every file's report as a short table; write them as JSON to ``report_path``."""
    for report in loaded.reports:
        typer.echo(report.render())
    if report_path is not None:
        files = [r.to_dict() for r in loaded.reports]
        report_path.write_text(json.dumps({"files": files}, indent=1, ensure_ascii=False))
