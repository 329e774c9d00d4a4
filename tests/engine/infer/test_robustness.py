"""The robustness benchmark with the tiny untrained ATCAT: its contract, not its scores."""

from __future__ import annotations

import polars as pl
import pytest

from engine.errors import InputError
from engine.infer.robustness import (
    CLEAN,
    NEAR,
    degraded_sets,
    robustness_benchmark,
    robustness_markdown,
)


@pytest.fixture(scope="module")
def split(tmp_path_factory, sample_table):
    """The first 120 sample objects as "fold 0" and the rest as fold 1, written to Parquet."""
    folder = tmp_path_factory.mktemp("robustness")
    table = sample_table.head(160)
    table.write_parquet(folder / "table.parquet")
    folds = pl.DataFrame(
        {"object_id": table["object_id"], "fold": [0] * 120 + [1] * 40}
    )  # fmt: skip
    folds.write_parquet(folder / "folds.parquet")
    return folder / "table.parquet", folder / "folds.parquet"


def test_every_model_reads_the_same_degraded_sets(split, model_dir, domain_model_dir):
    results = robustness_benchmark(
        [model_dir, domain_model_dir], *split, profiles=[CLEAN, "ztf", "sdss"]
    )
    assert results.height == 6
    assert results["profile"].to_list() == [CLEAN, "ztf", "sdss"] * 2
    assert (results["n_fold"] == 120).all()
    clean = results.filter(pl.col("profile") == CLEAN)
    assert (clean["n_observed"] == 120).all()
    # ZTF's depth leaves out faint objects; both models saw exactly the same ones
    ztf = results.filter(pl.col("profile") == "ztf")["n_observed"]
    assert ztf.n_unique() == 1 and 0 < ztf[0] < 120
    # only the model with a domain reference reports the in/out-of-domain split
    assert results["share_out_of_domain"].null_count() == 3
    assert "recall_SNIa" in results.columns
    table = robustness_markdown(results)
    assert table.count("\n") == 2 + 6 and "| ztf |" in table


def test_degradation_is_seeded_and_total_profiles_stay_total(sample_table):
    first = degraded_sets(sample_table.head(50), ["sdss"], seed=3)["sdss"]
    again = degraded_sets(sample_table.head(50), ["sdss"], seed=3)["sdss"]
    assert first.equals(again)
    assert (first["flux_kind"] == "total").all()
    assert (first["flux"].list.min() > 0).mean() > 0.9


def test_unknown_profiles_are_refused(sample_table):
    with pytest.raises(InputError, match="unknown survey profile .hubble."):
        degraded_sets(sample_table.head(5), ["hubble"])


def test_near_profiles_see_more_objects_and_move_their_redshifts(sample_table):
    table = sample_table.head(120)
    sets = degraded_sets(table, ["ztf", f"ztf{NEAR}"], seed=0)
    where, near = sets["ztf"], sets[f"ztf{NEAR}"]
    assert near.height > where.height
    # metadata follows the move: galactic objects stay at 0, extragalactic ones come nearer
    moved = table.join(near.select("object_id", z_near="hostgal_photoz"), on="object_id")
    galactic = moved.filter(pl.col("hostgal_photoz") == 0)
    assert (galactic["z_near"] == 0).all()
    extragalactic = moved.filter(pl.col("hostgal_photoz") > 0)
    assert (extragalactic["z_near"] < extragalactic["hostgal_photoz"]).mean() > 0.8
    assert near["hostgal_photoz"].null_count() == table["hostgal_photoz"].null_count() == 0


def test_near_of_an_unknown_profile_is_refused(sample_table):
    with pytest.raises(InputError, match="unknown survey profile .hubble."):
        degraded_sets(sample_table.head(5), [f"hubble{NEAR}"])
