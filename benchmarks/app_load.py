"""Many users at once: ``--sessions`` concurrent browser sessions on the served app.

The app is served as ``catscope serve`` serves it (a separate ``python -m app.cli serve``
process, the shipped sample catalogue and models by default, a scratch label store), and one
headless Chromium (Debian's, never ``playwright install``) opens one browser context per
session: separate cookies and websockets, so to the server each is a user of its own. Every
session waits at one barrier and then, all at the same moment:

1. **first page**: opens the app; timed until the Browse table shows rows;
2. **inspect**: clicks a row of the table (session *i* the *i*-th row); timed until the
   inspector shows that object's header, light curve and periodogram;
3. **probabilities**: opens the Probabilities tab; timed until the prediction is shown;
4. **upload**: uploads its own CSV (two sample objects under session-unique ids; one session's
   file is malformed and must get the page's error); timed from the click to the message;
5. **isolation**: searches Browse for the upload prefix and must see its own objects only;
6. **vetting**: labels the head of its queue *interesting* with its own user name and note.

Times are wall-clock in the browser's process, from the action to the text appearing. The
browser runs on the same machine as the server, so the server shares its cores with
``--sessions`` renderers. Afterwards the server's output is scanned for tracebacks and
errors, and the label store must hold every session's label.

Run from the repository root (``make app-load``)::

    .venv/bin/python benchmarks/app_load.py --sessions 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.screenshots import CHROMIUM, CHROMIUM_ARGS, HARMLESS_CONSOLE, VIEWPORT, free_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "APP_LOAD.md"
#: prefix of every uploaded object id: a Browse search for it finds every session's uploads
PREFIX = "load-"
#: how long one step may take under load before the session counts it as failed
STEP_TIMEOUT_MS = 180_000
#: how long a session waits for the Inspect page before clicking its row again, and how often
CLICK_GRACE_MS, CLICK_ATTEMPTS = 45_000, 4
#: how long a repeated click waits for its row (hidden once the earlier click is served)
REPEAT_CLICK_MS = 10_000
#: what a server's output holds when something went wrong in it
_SERVER_ERROR = re.compile(r"Traceback|Exception|\bERROR\b|error handling message")
_COUNT = re.compile(r"^([\d,]+) of ([\d,]+) objects")
_VETTING_HEAD = re.compile(r"^1 of [\d,]+: object (\S+)")


@dataclass(frozen=True)
class Plan:
    """What one session does: its upload and the name and note of its label."""

    index: int
    upload: Path
    #: ids the upload adds; empty for the malformed file
    ids: tuple[str, ...]

    @property
    def user(self) -> str:
        return f"load-user-{self.index:02d}"

    @property
    def note(self) -> str:
        return f"load check, session {self.index}"

    @property
    def malformed(self) -> bool:
        return not self.ids


@dataclass
class Outcome:
    """What one session measured (seconds per step) and what went wrong in it."""

    index: int
    seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: object labelled in the vetting step
    labelled: str | None = None
    #: Browse row clicks repeated because the first was lost (:func:`_inspect`)
    repeated_clicks: int = 0


def write_uploads(folder: Path, n: int, *, catalog_path: Path, bad: int | None) -> list[Plan]:
    """One CSV per session: two catalogue objects as ``load-sNN-<id>``; session ``bad`` broken."""
    from app.loaders import load_catalog

    catalog = load_catalog(str(catalog_path))
    source = catalog.table["object_id"].to_list()
    plans = []
    for i in range(n):
        path = folder / f"session-{i:02d}.csv"
        if i == bad:
            path.write_text("object_id,mjd,band,flux,flux_err\nload-bad,60000,g,bright,1\n")
            plans.append(Plan(i, path, ()))
            continue
        ids, rows = [], ["object_id,mjd,band,flux,flux_err"]
        for original in (source[2 * i % len(source)], source[(2 * i + 1) % len(source)]):
            ids.append(f"{PREFIX}s{i:02d}-{original}")
            points = catalog.points(original)
            letters = points["band"].str.split("_").list.last()
            rows += [
                f"{ids[-1]},{t},{b},{f},{e}"
                for t, b, f, e in zip(
                    points["time"], letters, points["flux"], points["flux_err"], strict=True
                )
            ]
        path.write_text("\n".join(rows) + "\n")
        plans.append(Plan(i, path, tuple(ids)))
    return plans


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU seconds every core of the machine has been busy since boot (``/proc/stat``)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuShare:
    """Where the machine's CPU went while the sessions ran."""

    wall: float
    machine: float
    server: float


@contextmanager
def served(
    log: Path, *, labels: Path, catalog: Path | None, models_dir: Path | None, extra: list[str]
) -> Iterator[tuple[str, int]]:
    """Run ``python -m app.cli serve`` with its output in ``log``; yield its URL and process id,
    then stop it."""
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--no-show"]
    command += ["--labels-url", str(labels), *extra]
    command += ["--catalog", str(catalog)] if catalog else []
    command += ["--models-dir", str(models_dir)] if models_dir else []
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server stopped: {log.read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server on port {port} did not start")
            time.sleep(0.1)
        yield f"http://localhost:{port}", server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _text(page, pattern: str | re.Pattern) -> str:
    """Wait until ``pattern`` is visible on ``page``; return the text of the element showing it."""
    found = page.get_by_text(pattern).filter(visible=True).first
    await found.wait_for()
    return await found.inner_text()


async def _timed(outcome: Outcome, step: str, action) -> None:
    """Run ``action()`` (a coroutine function) and store its wall-clock seconds as ``step``."""
    started = time.perf_counter()
    await action()
    outcome.seconds[step] = time.perf_counter() - started


async def _tab(page, title: str, marker: str | re.Pattern) -> None:
    await page.get_by_text(title, exact=True).first.click()
    await _text(page, marker)


async def _first_page(page, url: str) -> None:
    await page.goto(url)
    await page.locator(".tabulator-row").first.wait_for()


async def _inspect(page, row: int, outcome: Outcome) -> None:
    """Click the ``row``-th Browse row and wait for that object's header and periodogram.

    The table may redraw between reading the row's id and the click (the rows of a page are
    replaced when its data arrives), so the header may name the id the row holds after it. A
    click that lands while the rows are being replaced reaches no cell and is lost (seen once
    in a few CI runs, never alone): as a user would, the session clicks again when the Inspect
    tab has not opened within :data:`CLICK_GRACE_MS`, and counts the repeat (an open tab whose
    page is still drawing is waited for). Repeating is harmless: a click on the row already
    inspected changes nothing, and one whose row went hidden meanwhile is given up.
    """
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    target = page.locator(".tabulator-row").nth(row)
    cell = target.locator("[tabulator-field=object_id]")
    names: set[str] = set()
    header = page.get_by_text(re.compile(r"^Object .")).filter(visible=True).first
    for attempt in range(CLICK_ATTEMPTS):
        names.add(await cell.inner_text())
        try:
            await target.click(timeout=None if attempt == 0 else REPEAT_CLICK_MS)
        except PlaywrightTimeout:  # the row went hidden: an earlier click opened Inspect
            pass
        names.add(await cell.inner_text())
        last = attempt == CLICK_ATTEMPTS - 1
        try:
            await header.wait_for(timeout=None if last else CLICK_GRACE_MS)
            break
        except PlaywrightTimeout:
            if await _active_tab(page) == "Inspect":  # the click arrived: the page is slow
                await header.wait_for()
                break
            if last:
                raise
            outcome.repeated_clicks += 1
    shown = "|".join(re.escape(i) for i in names)
    await _text(page, re.compile(rf"^Object ({shown})$"))
    await _text(page, "Best period")


async def _active_tab(page) -> str:
    """Title of the page's active tab, to say where a session was when a step failed."""
    try:
        active = page.locator(".bk-tab.bk-active")
        return (await active.first.inner_text(timeout=5_000)).strip()
    except Exception:  # noqa: BLE001 - a page that cannot say is reported as such
        return "unknown"


async def _upload(page, plan: Plan) -> None:
    await page.locator("input[type=file]").set_input_files(plan.upload)
    await page.get_by_role("button", name="Add to catalogue").click()
    await _text(page, re.compile(rf"^(Added \d+ objects|Could not add) .*{plan.upload.name}"))


async def _visible_uploads(page, catalogue_size: int) -> tuple[list[str], int]:
    """Object ids Browse lists for a search of :data:`PREFIX`, and the catalogue size it shows."""
    await page.get_by_text("Browse", exact=True).first.click()
    search = page.get_by_placeholder("object id contains...")
    await search.fill(PREFIX)
    await search.press("Enter")
    # the count line reads "<shown> of <total> objects" once the search is applied
    count = page.get_by_text(_COUNT).filter(visible=True).first
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while True:
        shown, total = (
            int(g.replace(",", "")) for g in _COUNT.match(await count.inner_text()).groups()
        )
        if shown < total or time.monotonic() > deadline:
            break
        await page.wait_for_timeout(100)
    rows = page.locator(".tabulator-row [tabulator-field=object_id]")
    if shown:
        await rows.nth(shown - 1).wait_for()
    ids = [text.strip() for text in await rows.all_inner_texts()]
    return ids, total - catalogue_size


async def _vet(page, plan: Plan) -> str:
    await page.get_by_text("Vetting", exact=True).first.click()
    object_id = _VETTING_HEAD.match(await _text(page, _VETTING_HEAD)).group(1)
    name = page.get_by_label("Your name")
    await name.fill(plan.user)
    await name.press("Tab")
    await page.get_by_label("Note (stored with the next label)").fill(plan.note)
    await page.get_by_role("button", name="Interesting (i)").click()
    await _text(page, f"Stored interesting for object {object_id}")
    return object_id


async def run_session(browser, url: str, plan: Plan, start: asyncio.Event, size: int) -> Outcome:
    """Drive one session through every step (see the module docstring); never raises."""
    outcome = Outcome(plan.index)
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = await context.new_page()
    page.on(
        "console",
        lambda m: (
            outcome.problems.append(f"console: {m.text}")
            if m.type == "error" and not HARMLESS_CONSOLE.search(m.text)
            else None
        ),
    )
    page.on("pageerror", lambda exc: outcome.problems.append(f"page error: {exc}"))
    await start.wait()
    step = "first page"
    try:
        await _timed(outcome, step, lambda: _first_page(page, url))
        step = "inspect"
        await _timed(outcome, step, lambda: _inspect(page, plan.index % 20, outcome))
        step = "probabilities"
        predicted = re.compile(r"^Predicted \S+ with confidence")
        await _timed(outcome, step, lambda: _tab(page, "Probabilities", predicted))
        step = "upload"
        await _tab(page, "Upload", "Add your own light curves")
        await _timed(outcome, step, lambda: _upload(page, plan))
        expected = "Could not add" if plan.malformed else f"Added {len(plan.ids)} objects"
        if not await page.get_by_text(expected).count():
            outcome.problems.append(f"upload of {plan.upload.name} did not say {expected!r}")
        step = "isolation"
        ids, added = await _visible_uploads(page, size)
        if sorted(ids) != sorted(plan.ids) or added != len(plan.ids):
            outcome.problems.append(
                f"Browse shows uploads {sorted(ids)} (catalogue + {added}); own: {list(plan.ids)}"
            )
        step = "vetting"
        started = time.perf_counter()
        outcome.labelled = await _vet(page, plan)
        outcome.seconds[step] = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001 - one session's failure is reported, others go on
        where = await _active_tab(page)
        outcome.problems.append(
            f"{step}: {type(exc).__name__}: {str(exc).splitlines()[0]} (on the {where} tab)"
        )
    finally:
        await context.close()
    return outcome


async def run_sessions(url: str, plans: list[Plan], catalogue_size: int) -> list[Outcome]:
    """Open every session's browser context, then start them all at the same moment."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        start = asyncio.Event()
        sessions = [
            asyncio.create_task(run_session(browser, url, plan, start, catalogue_size))
            for plan in plans
        ]
        await asyncio.sleep(2.0)  # every context and page is open and waiting
        start.set()
        outcomes = await asyncio.gather(*sessions)
        await browser.close()
    return outcomes


#: asyncio's report of a websocket write to a connection the browser had closed: tornado
#: raises it for a message sent after a session's page was closed (Bokeh warns "Failed sending
#: message as connection was closed" for the same), not a failure of the app
_CLOSED_WRITE = "exception=WebSocketClosedError()"
_CLOSED_WRITE_END = "tornado.websocket.WebSocketClosedError"


def split_closed_writes(log: str) -> tuple[list[str], int]:
    """The server's output without the :data:`_CLOSED_WRITE` reports, and how many there were."""
    lines, kept, closed = log.splitlines(), [], 0
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and _CLOSED_WRITE in lines[i + 1]:
            closed += 1
            i += 2
            while i < len(lines) and lines[i].strip() != _CLOSED_WRITE_END:
                i += 1
        else:
            kept.append(lines[i])
        i += 1
    return kept, closed


def server_errors(lines: list[str]) -> list[str]:
    """Lines of the server's output that report an exception or an error."""
    return [line for line in lines if _SERVER_ERROR.search(line)]


def missing_labels(labels: Path, plans: list[Plan], outcomes: list[Outcome]) -> list[str]:
    """Sessions whose label (object, user, note) is not in the label store."""
    from engine.labels import LabelStore

    store = LabelStore(labels)
    stored = {
        (row["object_id"], row["user"], row["note"], row["label"])
        for row in store.history().iter_rows(named=True)
    }
    store.close()
    return [
        f"session {plan.index}: label of {outcome.labelled!r} not stored"
        for plan, outcome in zip(plans, outcomes, strict=True)
        if (outcome.labelled, plan.user, plan.note, "interesting") not in stored
    ]


@dataclass
class LoadCheck:
    """Everything one load check found."""

    outcomes: list[Outcome]
    server_errors: list[str]
    missing_labels: list[str]
    #: the machine's 1-minute load average when the sessions started
    load_before: float
    cpu: CpuShare
    #: websocket writes to connections the browsers had closed (:data:`_CLOSED_WRITE`)
    closed_writes: int = 0

    @property
    def problems(self) -> list[str]:
        """Every session's problems, the server's errors and the labels not stored."""
        found = [f"session {o.index}: {p}" for o in self.outcomes for p in o.problems]
        return found + [f"server: {line}" for line in self.server_errors] + self.missing_labels


def load_check(
    n: int,
    folder: Path,
    *,
    catalog: Path | None = None,
    models_dir: Path | None = None,
    bad: int | None = 0,
    server_args: tuple[str, ...] = (),
) -> LoadCheck:
    """Serve the app and run ``n`` concurrent sessions (session ``bad`` uploads a broken file)."""
    from app.loaders import load_catalog
    from app.main import DEFAULT_CATALOG

    catalog_path = catalog or DEFAULT_CATALOG
    plans = write_uploads(folder, n, catalog_path=catalog_path, bad=bad)
    size = len(load_catalog(str(catalog_path)))
    labels, log = folder / "labels.db", folder / "server.log"
    with served(
        log, labels=labels, catalog=catalog, models_dir=models_dir, extra=list(server_args)
    ) as (url, pid):
        load_before = os.getloadavg()[0]
        started = (time.perf_counter(), machine_cpu_seconds(), cpu_seconds(pid))
        outcomes = asyncio.run(run_sessions(url, plans, size))
        ended = (time.perf_counter(), machine_cpu_seconds(), cpu_seconds(pid))
    cpu = CpuShare(*(end - start for start, end in zip(started, ended, strict=True)))
    found = missing_labels(labels, plans, outcomes)
    lines, closed = split_closed_writes(log.read_text())
    return LoadCheck(outcomes, server_errors(lines), found, load_before, cpu, closed)


# -- report ----------------------------------------------------------------------------------
STEPS = ("first page", "inspect", "probabilities", "upload", "vetting")


def quantiles(seconds: list[float]) -> dict:
    """p50, p95 and max in seconds (nearest rank)."""
    ordered = sorted(seconds)
    if not ordered:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan"), "n": 0}
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1], "n": len(ordered)}


def report(check: LoadCheck, args) -> str:
    n = len(check.outcomes)
    rows = {s: quantiles([o.seconds[s] for o in check.outcomes if s in o.seconds]) for s in STEPS}
    lines = [
        "# Many users at once (load check)",
        "",
        "Written by `python benchmarks/app_load.py` (module docstring: what is measured).",
        f"Command: `python benchmarks/app_load.py {' '.join(args.argv)}`".rstrip() + ".",
        "",
        f"{n} concurrent browser sessions (one headless Chromium, one context per session), "
        "started at the same moment on a freshly started server (it loads the catalogue and "
        "the default model before it listens). The browser shares the machine's "
        f"{os.cpu_count()} cores with the server; load average just before the run "
        f"{check.load_before:.1f}. Extra server options: `{args.server_args or 'none'}`.",
        "",
        f"The sessions took {check.cpu.wall:.0f} s; the machine's cores were busy for "
        f"{check.cpu.machine:.0f} CPU-s of the {os.cpu_count() * check.cpu.wall:.0f} they had, "
        f"the server process for {check.cpu.server:.0f} "
        f"({check.cpu.server / max(check.cpu.machine, 1e-9):.0%}); the rest went to the "
        "browser drawing the sessions' pages and to anything else running.",
        "",
        "| step | sessions timed | p50 s | p95 s | max s |",
        "|---|---:|---:|---:|---:|",
    ]
    for step, q in rows.items():
        lines.append(f"| {step} | {q['n']} | {q['p50']:.1f} | {q['p95']:.1f} | {q['max']:.1f} |")
    goal_first, goal_inspect = rows["first page"]["p95"], rows["inspect"]["p95"]
    lines += [
        "",
        f"Goal (issue 16.4, 20 sessions): first page p95 ≤ 10 s (measured {goal_first:.1f} s: "
        f"{'met' if goal_first <= 10 else f'missed by {goal_first - 10:.1f} s'}), inspect p95 ≤ "
        f"2 s (measured {goal_inspect:.1f} s: "
        f"{'met' if goal_inspect <= 2 else f'missed by {goal_inspect - 2:.1f} s'}).",
        "",
        f"Problems: **{len(check.problems)}** (server errors {len(check.server_errors)}, "
        f"labels missing {len(check.missing_labels)}). Browse clicks repeated because the "
        f"first was lost: {sum(o.repeated_clicks for o in check.outcomes)} "
        f"(see `_inspect`). Not counted: {check.closed_writes} "
        "writes to websockets the browsers had already closed (tornado's "
        "`WebSocketClosedError`, reported by asyncio as a task exception never retrieved).",
    ]
    lines += [f"- {p}" for p in check.problems]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent browser sessions")
    parser.add_argument("--catalog", type=Path, default=None, help="default: the shipped sample")
    parser.add_argument("--models-dir", type=Path, default=None, help="default: shipped models")
    parser.add_argument(
        "--server-args", default="", help="extra options of catscope serve, e.g. '--threads 4'"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="catscope-load-") as folder:
        check = load_check(
            args.sessions,
            Path(folder),
            catalog=args.catalog,
            models_dir=args.models_dir,
            server_args=tuple(args.server_args.split()),
        )
    text = report(check, args)
    print(text)
    args.results.write_text(text)
    print(f"written to {args.results}")


if __name__ == "__main__":
    main(sys.argv[1:])
