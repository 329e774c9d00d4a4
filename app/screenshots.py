"""Write a PNG of every page of the explorer: ``python -m app.screenshots --out DIR``.

Serves the app on a free port with a throw-away label store and drives Debian's Chromium with
Playwright (never ``playwright install``). Panel draws after its websocket delivers the
document, so each shot waits for text that only the drawn page contains.
"""

from __future__ import annotations

import argparse
import re
import socket
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
#: flags that keep headless Chromium offline and quiet (see the project's stack notes)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1400, "height": 1000}
#: browser console errors that are not errors of the app
HARMLESS_CONSOLE = re.compile(r"allowHTML|WebGL")
#: how long a page may take to draw: generous, as a loaded 2-core machine needs it
DRAW_TIMEOUT_MS = 60_000
#: page key -> (tab title, text that only the drawn page shows)
SHOTS = {
    "browse": ("Browse", "Click a row to inspect it"),
    "map": ("Map", re.compile(r"^Select objects with the box|^No map")),
    "inspect": ("Inspect", "Best period"),
    "upload": ("Upload", "Add your own light curves"),
    "vetting": ("Vetting", re.compile(r"^\d+ of [\d,]+: object|Every object of the queue")),
    "health": (
        "Model health",
        re.compile(r"^Evaluated|No model loaded|ships no|metrics|does not classify"),
    ),
    "teach": ("Teach", re.compile(r"^\d+ of \d+: |no labelled objects")),
}
#: extra wait of pages whose plots arrive after their text (the map's datashaded image)
SETTLE_MS = {"map": 5000}
_NO_MODEL = r"|No model loaded|cannot"
#: inspector tab -> text to wait for (a model's output, or the reason there is none)
INSPECTOR_TABS = {
    "Probabilities": re.compile("Predicted" + _NO_MODEL),
    "Timeline": re.compile("^Top$"),
    "Attention": re.compile("^Layer$"),
    "Continuations": re.compile("^Horizon"),
    "Observe next": re.compile(r"is expected to (tell you|make the class)" + _NO_MODEL),
    "Neighbours": re.compile(
        r"^The \d+ objects nearest|has no neighbours|^Nearest neighbours need|^No neighbours"
    ),
}
#: what the continuations panel says once its paths are drawn
GENERATED = re.compile(r"^Sampled \d+ futures")


#: what the what-if bar says once the curve is edited
EDITED = "Edited curve (not saved)"


def edit_curve(page, *, flux: str = "800", error: str = "40") -> None:
    """Edit the inspector's curve as a user would: box-select the left third, hide, add a point.

    The point goes to the form's default band and time (a day after the last observation).
    """
    canvas = page.locator(".bk-Canvas").filter(visible=True).first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()  # relative to the viewport: the plot must be on screen
    # start inside the plot frame (below the title, right of the axis): box-select is active
    page.mouse.move(box["x"] + 0.08 * box["width"], box["y"] + 0.12 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.35 * box["width"], box["y"] + 0.85 * box["height"], steps=8)
    page.mouse.up()
    page.get_by_role("button", name=re.compile(r"^Hide selected \([1-9]")).click()
    wait_until_drawn(page, EDITED)
    page.get_by_label("Flux (FLUXCAL)").fill(flux)
    page.get_by_label("Error").fill(error)
    page.get_by_label("Error").press("Enter")
    page.get_by_role("button", name="Add point").click()
    wait_until_drawn(page, re.compile("hypothetical point"), settle_ms=1500)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_drawn(
    page, text: str | re.Pattern, *, settle_ms: float = 0, timeout_ms: float = DRAW_TIMEOUT_MS
) -> None:
    """Wait until ``text`` is visible, then ``settle_ms`` more for Bokeh to finish its layout."""
    page.get_by_text(text).filter(visible=True).first.wait_for(timeout=timeout_ms)
    page.wait_for_timeout(settle_ms)


def capture(url: str, out: Path, *, object_id: str) -> list[Path]:
    """Screenshot every page of the app served at ``url`` into ``out``; return the files.

    The inspector is shot once per model tab too (``inspect-<tab>.png``); continuations are
    generated with the default settings first; ``inspect-edited.png`` shows the probabilities
    after a what-if edit (:func:`edit_curve`).
    """
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)

        def shoot(name: str) -> None:
            written.append(out / f"{name}.png")
            page.screenshot(path=written[-1], full_page=True)

        for key, (tab, marker) in SHOTS.items():
            page.goto(f"{url}/?object={object_id}" if key == "inspect" else url)
            if key != "inspect":
                page.get_by_text(tab, exact=True).first.click()
            wait_until_drawn(page, marker, settle_ms=SETTLE_MS.get(key, 800))
            shoot(key)
        page.goto(f"{url}/?object={object_id}")
        wait_until_drawn(page, SHOTS["inspect"][1])
        for tab, marker in INSPECTOR_TABS.items():
            page.get_by_text(tab, exact=True).first.click()
            wait_until_drawn(page, marker, settle_ms=1500)
            generate = page.get_by_role("button", name="Generate")
            if tab == "Continuations" and generate.is_visible():
                generate.click()
                wait_until_drawn(page, GENERATED, settle_ms=1500)
            shoot(f"inspect-{tab.lower()}")
        page.get_by_text("Probabilities", exact=True).first.click()
        wait_until_drawn(page, INSPECTOR_TABS["Probabilities"], settle_ms=800)
        edit_curve(page)
        shoot("inspect-edited")
        browser.close()
    return written


def main(argv: list[str] | None = None) -> None:
    """Serve the app, write one PNG per page, stop the server."""
    from app.main import DEFAULT_CATALOG, serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help="catalogue to show")
    parser.add_argument("--models-dir", type=Path, default=None, help="folder of models")
    parser.add_argument(
        "--object", default=None, help="object for the inspector (default: first periodic)"
    )
    args = parser.parse_args(argv)

    from app.loaders import load_catalog

    catalog = load_catalog(str(args.catalog))
    examples = dict(catalog.examples().iter_rows())
    object_id = args.object or examples.get("RRL") or catalog.table["object_id"][0]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="catscope-shots-") as folder:
        server = serve(
            port,
            args.catalog,
            args.models_dir,
            False,
            labels_url=str(Path(folder) / "labels.db"),
            threaded=True,
        )
        try:
            time.sleep(1.0)
            for path in capture(f"http://localhost:{port}", args.out, object_id=object_id):
                print(path)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
