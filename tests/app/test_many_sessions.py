"""Several browser sessions at once on a served app: no server errors, uploads stay private.

The same check as ``benchmarks/app_load.py`` at a small size, on the small catalogue and the
tiny model; speed is measured only by the benchmark.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.app_load import load_check, server_errors, split_closed_writes
from engine.data.schema import write_table

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
SESSIONS = 4
#: the session whose upload is malformed
BAD = 1


def test_concurrent_sessions_stay_apart_and_every_label_is_stored(
    small_catalog, models_dir, tmp_path
):
    catalog = tmp_path / "sample.parquet"
    write_table(small_catalog.table, catalog)
    # in a fresh thread: pytest-playwright may keep an event loop in the main thread
    with ThreadPoolExecutor(max_workers=1) as pool:
        check = pool.submit(
            load_check, SESSIONS, tmp_path, catalog=catalog, models_dir=models_dir, bad=BAD
        ).result()
    # each session checked its upload's message and that Browse lists its own uploads only
    assert check.problems == []
    assert all(outcome.labelled for outcome in check.outcomes)
    assert len(check.outcomes) == SESSIONS


CLOSED_WRITE_REPORT = """\
ERROR:asyncio:Task exception was never retrieved
future: <Task finished name='Task-7858' coro=<...wrapper() done> exception=WebSocketClosedError()>
Traceback (most recent call last):
  File "tornado/websocket.py", line 1140, in wrapper
    await fut
tornado.iostream.StreamClosedError: Stream is closed

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "tornado/websocket.py", line 1142, in wrapper
    raise WebSocketClosedError()
tornado.websocket.WebSocketClosedError"""


def test_only_writes_to_closed_websockets_are_set_apart_from_server_errors():
    other = "ERROR:panel:callback failed\nTraceback (most recent call last):\nValueError: x"
    log = "\n".join(["INFO: started", CLOSED_WRITE_REPORT, other, CLOSED_WRITE_REPORT])
    lines, closed = split_closed_writes(log)
    assert closed == 2
    assert server_errors(lines) == other.splitlines()[:2]
