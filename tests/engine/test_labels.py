"""The label store: validation, append-only history, current labels, export, restart."""

from __future__ import annotations

import polars as pl
import pytest

from engine.errors import CatscopeError, InvalidValueError
from engine.labels import LABEL_SCHEMA, LabelStore, LabelStoreError, check_label, default_path


@pytest.fixture
def store(tmp_path):
    labels = LabelStore(tmp_path / "labels.db")
    yield labels
    labels.close()


@pytest.mark.parametrize("label", ["interesting", "artefact", "skip", "known:SNIa", " known: RRL "])
def test_valid_labels_are_accepted(label):
    assert check_label(label) == label.strip().replace(": ", ":")


@pytest.mark.parametrize("label", ["", "weird", "known:", "known:  ", "Interesting"])
def test_invalid_labels_name_the_allowed_ones(label):
    with pytest.raises(InvalidValueError, match="interesting, artefact, skip"):
        check_label(label)


def test_add_returns_the_stored_record(store):
    record = store.add("obj1", "interesting", catalogue="cat", note="bump", user="ada")
    assert (record.object_id, record.label, record.note, record.user) == (
        "obj1",
        "interesting",
        "bump",
        "ada",
    )
    assert record.created_at.tzinfo is not None
    assert store.label_of("obj1", catalogue="cat") == record


def test_history_is_append_only_and_current_is_latest(store):
    store.add("a", "interesting", catalogue="cat", user="u")
    store.add("b", "skip", catalogue="cat", user="u")
    store.add("a", "known:SNIa", catalogue="cat", user="u", note="on second look")
    store.add("a", "artefact", catalogue="other", user="u")

    history = store.history(catalogue="cat")
    assert history.schema == LABEL_SCHEMA
    assert history["label"].to_list() == ["interesting", "skip", "known:SNIa"]
    assert history["created_at"].is_sorted()

    current = store.current(catalogue="cat").sort("object_id")
    assert current.select("object_id", "label").rows() == [("a", "known:SNIa"), ("b", "skip")]
    assert store.current().height == 3  # both catalogues
    assert store.history(object_id="a").height == 3


def test_labels_are_scoped_by_catalogue(store):
    store.add("a", "interesting", catalogue="one", user="u")
    assert store.label_of("a", catalogue="two") is None
    assert store.current(catalogue="two").is_empty()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"object_id": "", "label": "skip", "catalogue": "c"}, "object_id"),
        ({"object_id": "x", "label": "skip", "catalogue": " "}, "catalogue"),
        ({"object_id": "x", "label": "bad", "catalogue": "c"}, "label 'bad'"),
        ({"object_id": "x", "label": "skip", "catalogue": "c", "user": "u" * 200}, "user"),
    ],
)
def test_invalid_input_is_rejected_and_nothing_is_stored(store, kwargs, match):
    with pytest.raises(CatscopeError, match=match):
        store.add(**kwargs)
    assert store.history().is_empty()


def test_labels_survive_reopening_the_file(tmp_path):
    path = tmp_path / "nested" / "labels.db"
    first = LabelStore(path)
    first.add("a", "known:RRL", catalogue="cat", user="u")
    first.close()
    second = LabelStore(f"sqlite:///{path}")
    assert second.label_of("a", catalogue="cat").label == "known:RRL"
    second.close()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_writes_current_or_history(store, tmp_path, suffix):
    store.add("a", "interesting", catalogue="cat", user="u")
    store.add("a", "skip", catalogue="cat", user="u")
    current = store.export(tmp_path / f"cur{suffix}", catalogue="cat")
    history = store.export(tmp_path / f"all{suffix}", which="history")
    read = pl.read_csv if suffix == ".csv" else pl.read_parquet
    assert read(current)["label"].to_list() == ["skip"]
    assert read(history)["label"].to_list() == ["interesting", "skip"]


def test_export_rejects_unknown_formats(store, tmp_path):
    with pytest.raises(InvalidValueError, match=r"\.csv or \.parquet"):
        store.export(tmp_path / "labels.xlsx")
    with pytest.raises(InvalidValueError, match="which"):
        store.export(tmp_path / "labels.csv", which="latest")


def test_default_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CATSCOPE_LABELS", str(tmp_path / "x.db"))
    assert default_path() == tmp_path / "x.db"
    monkeypatch.delenv("CATSCOPE_LABELS")
    assert default_path().name == "labels.db"


def test_unusable_urls_raise_label_store_errors(tmp_path):
    with pytest.raises(LabelStoreError, match="cannot open the label store"):
        LabelStore("nosuchdialect://user@host/db")


def test_labels_survive_a_crashing_process(tmp_path):
    """A process killed right after storing (no close, no cleanup) loses nothing."""
    import subprocess
    import sys

    path = tmp_path / "labels.db"
    script = (
        "import os\n"
        "from engine.labels import LabelStore\n"
        f"store = LabelStore({str(path)!r})\n"
        "for i in range(5):\n"
        "    store.add(f'o{i}', 'interesting', catalogue='cat', user='u')\n"
        "os._exit(9)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == 9
    store = LabelStore(path)
    assert store.current(catalogue="cat")["object_id"].to_list() == [f"o{i}" for i in range(5)]
    store.close()
