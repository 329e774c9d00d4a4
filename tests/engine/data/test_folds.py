"""The folds table: one schema whatever the file stores, fold selection in table order."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.data.folds import FOLDS_SCHEMA, read_folds, select_folds
from engine.errors import InputError


def test_folds_are_read_with_one_schema_and_selected_in_table_order(tmp_path):
    path = tmp_path / "folds.parquet"
    pl.DataFrame(
        {"object_id": [3, 1, 2], "fold": [0, 1, 0], "extra": ["a", "b", "c"]},
        schema_overrides={"fold": pl.Int8},
    ).write_parquet(path)
    folds = read_folds(path)
    assert folds.schema == FOLDS_SCHEMA and folds["object_id"].to_list() == ["3", "1", "2"]
    table = pl.DataFrame({"object_id": ["1", "2", "3", "4"], "x": [1.0, 2.0, 3.0, 4.0]})
    expected = pl.DataFrame({"object_id": ["2", "3"], "x": [2.0, 3.0]})
    assert_frame_equal(select_folds(table, path, [0]), expected)


def test_an_unreadable_folds_file_is_an_input_error(tmp_path):
    path = tmp_path / "folds.parquet"
    path.write_text("not parquet")
    with pytest.raises(InputError, match="object_id -> fold"):
        read_folds(path)
