"""The full ``catscope`` command line: the engine's commands plus ``serve``.

The engine never imports :mod:`app`, so the one command that needs the web app is added here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli import app, friendly_errors


@app.command()
@friendly_errors
def serve(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 5006,
    address: Annotated[
        str | None, typer.Option(help="Address to listen on (e.g. 0.0.0.0 in a container).")
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(
            help="Catalogue folder (catscope index) or light-curve Parquet; default: the sample."
        ),
    ] = None,
    models_dir: Annotated[Path | None, typer.Option(help="Folder of model directories.")] = None,
    labels_url: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL of the vetting-label database (default: a local SQLite file)."
        ),
    ] = None,
    show: Annotated[bool, typer.Option(help="Open a browser tab.")] = True,
    threads: Annotated[
        int,
        typer.Option(
            help="Threads running the sessions' callbacks (0: all on the server's event loop; "
            "the load check lost labels and clicks with 4)."
        ),
    ] = 0,
) -> None:
    """Serve the catscope explorer web app."""
    from app.main import serve as serve_app

    serve_app(
        port, catalog, models_dir, show, labels_url=labels_url, address=address, threads=threads
    )


if __name__ == "__main__":
    app()
