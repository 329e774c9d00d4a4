"""Several browser sessions at once on a served app: no server errors, uploads stay private.

The same check as ``benchmarks/app_load.py`` at a small size, on the small catalogue and the
tiny model; speed is measured only by the benchmark.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.app_load import load_check
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
