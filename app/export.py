"""Tables offered for download as CSV or Parquet, and the pair of buttons that offers them."""

from __future__ import annotations

import io
from collections.abc import Callable

import panel as pn
import polars as pl

#: file formats offered, as file suffixes
SUFFIXES = ("csv", "parquet")


def table_bytes(frame: pl.DataFrame, suffix: str) -> io.BytesIO:
    """Return ``frame`` written as CSV or Parquet (``suffix``), ready to read."""
    buffer = io.BytesIO()
    if suffix == "csv":
        frame.write_csv(buffer)
    else:
        frame.write_parquet(buffer)
    buffer.seek(0)
    return buffer


def download_buttons(export: Callable[[str], io.BytesIO], *, stem: str, what: str) -> pn.Row:
    """One button per format; ``export(suffix)`` builds the file when a button is pressed."""
    return pn.Row(
        *(
            pn.widgets.FileDownload(
                callback=lambda s=suffix: export(s),
                filename=f"{stem}.{suffix}",
                label=f"Export {what} ({suffix.upper()})",
                color="light",
            )
            for suffix in SUFFIXES
        )
    )
