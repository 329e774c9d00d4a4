"""A head from the user's labels on a catalogue's stored embeddings: labels, fit, scores."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.errors import InputError, MissingColumnError
from engine.index.adapt import (
    HEAD_DIR,
    adapt_catalogue,
    catalogue_embeddings,
    head_labels,
    head_ranking,
    read_labels,
    score_table,
)
from engine.labels import LabelStore
from engine.training.head import EmbeddingHead, TooFewLabelsError

MODEL = "tiny-atcat"
COMMON = ("SNIa", "M-dwarf", "EB")


def common_labels(catalog: pl.DataFrame) -> pl.DataFrame:
    """``object_id, label`` of the objects of the three most common classes of the sample."""
    return catalog.filter(pl.col("label").is_in(COMMON)).select("object_id", "label")


def test_store_labels_become_head_classes(tmp_path):
    store = LabelStore(tmp_path / "labels.db")
    for object_id, label in [("a", "known:SNIa"), ("b", "artefact"), ("c", "skip"),
                             ("d", "interesting"), ("a", "known:SNII")]:  # fmt: skip
        store.add(object_id, label, catalogue="cat")
    store.add("e", "known:SNIa", catalogue="other")
    frame = read_labels(tmp_path / "labels.db", catalogue="cat")
    assert dict(frame.iter_rows()) == {"a": "SNII", "b": "artefact", "d": "interesting"}
    raw = pl.DataFrame({"object_id": ["x", "y", "z"], "label": [" known:KN ", "TDE", ""]})
    assert dict(head_labels(raw).iter_rows()) == {"x": "KN", "y": "TDE"}


def test_csv_labels(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("object_id,label\n007,SNIa\n8,known:KN\n007,SNII\n")
    assert dict(read_labels(path, catalogue="cat").iter_rows()) == {"007": "SNII", "8": "KN"}
    path.write_text("id,class\n1,SNIa\n")
    with pytest.raises(MissingColumnError, match="object_id,label"):
        read_labels(path, catalogue="cat")
    with pytest.raises(InputError, match="not found"):
        read_labels(tmp_path / "missing.csv", catalogue="cat")


def test_adapt_saves_beside_the_catalogue_and_reranks(embedded_catalog, sample_table):
    labels = common_labels(sample_table.head(60))
    head, path = adapt_catalogue(embedded_catalog, labels, MODEL)
    assert path == embedded_catalog / MODEL / HEAD_DIR
    loaded = EmbeddingHead.load(path)
    assert loaded.classes == tuple(sorted(COMMON)) and loaded.source["sha256"]
    assert loaded.report["n_objects"] == labels.height
    ids, embeddings = catalogue_embeddings(embedded_catalog, MODEL)
    ranked = head_ranking(ids, embeddings, loaded, "SNIa")
    assert sorted(ranked["object_id"]) == sorted(ids) and ranked["score"].is_sorted(descending=True)
    expected = loaded.probabilities(embeddings)[:, loaded.classes.index("SNIa")]
    assert np.allclose(np.sort(ranked["score"].to_numpy()), np.sort(expected))
    with pytest.raises(InputError, match="not 'KN'"):
        head_ranking(ids, embeddings, loaded, "KN")


def test_scoring_new_light_curves_embeds_them_with_the_catalogue_model(
    embedded_catalog, sample_table, tmp_path
):
    head, _ = adapt_catalogue(
        embedded_catalog, common_labels(sample_table.head(60)), MODEL, out=tmp_path / "h"
    )
    ids, embeddings = catalogue_embeddings(embedded_catalog, MODEL)
    scored = score_table(sample_table.head(5), head)
    assert scored.columns == [
        "object_id",
        "pred_class",
        "confidence",
        "p_EB",
        "p_M-dwarf",
        "p_SNIa",
    ]
    np.testing.assert_allclose(
        scored.select("p_EB", "p_M-dwarf", "p_SNIa").to_numpy(),
        head.probabilities(embeddings[:5]),
        atol=1e-5,
    )


def test_too_few_or_unknown_labels(embedded_catalog, sample_table):
    one_class = sample_table.head(60).filter(pl.col("label") == "SNIa").select("object_id", "label")
    with pytest.raises(TooFewLabelsError, match="at least 2 classes"):
        adapt_catalogue(embedded_catalog, one_class, MODEL)
    strangers = pl.DataFrame({"object_id": ["nope"], "label": ["SNIa"]})
    with pytest.warns(UserWarning, match="1 labelled object"), pytest.raises(TooFewLabelsError):
        adapt_catalogue(embedded_catalog, pl.concat([one_class, strangers]), MODEL)
    with pytest.raises(InputError, match="no embeddings of model 'rtf'"):
        adapt_catalogue(embedded_catalog, one_class, "rtf")
