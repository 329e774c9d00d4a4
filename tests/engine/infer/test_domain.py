import json
import shutil
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from sklearn.exceptions import NotFittedError
from typer.testing import CliRunner

from engine.cli import app
from engine.data.plasticc import FOLDS_NAME, TABLE_NAME
from engine.errors import InputError, InvalidValueError
from engine.infer import load_predictor
from engine.infer.domain import DOMAIN_COLUMNS, DomainReference, has_domain_reference
from engine.infer.domain_build import build_domain_reference
from engine.models.checkpoint import DOMAIN_FILE, TRAINING_FILE
from engine.training.config import DataConfig, TrainConfig
from engine.training.data import load_data
from tests.engine.conftest import as_plasticc_dir

DIM = 8


def cluster(n: int, seed: int) -> np.ndarray:
    """``n`` vectors near the first axis: the synthetic training set and its held-out part."""
    rng = np.random.default_rng(seed)
    return (np.eye(DIM)[0] + 0.1 * rng.standard_normal((n, DIM))).astype(np.float32)


@pytest.fixture(scope="module")
def curves(sample_table):
    return sample_table.head(50)


@pytest.fixture(scope="module")
def domain(curves):
    return DomainReference(k=5).fit(cluster(300, seed=0), cluster(100, seed=1), curves)


def points(table: pl.DataFrame, change) -> pl.DataFrame:
    """``table`` with each list column replaced by ``change(list column expression)``."""
    columns = ["time", "band", "wavelength", "flux", "flux_err", "detected"]
    return table.with_columns(change(pl.col(c)) for c in columns)


def test_far_point_scores_one_and_reference_like_point_scores_low(domain, curves):
    far = np.eye(DIM, dtype=np.float32)[[1]]
    like = cluster(200, seed=2)
    assert domain.knn_percentile(far)[0] == 1.0
    percentile = domain.knn_percentile(like)
    assert percentile.min() >= 0.0 and percentile.max() <= 1.0
    # unseen objects of the training distribution are uniform in [0, 1]: ~5 % above 0.95
    assert 0.3 < np.median(percentile) < 0.7 and np.mean(percentile > 0.95) < 0.15
    frame = domain.assess(curves.head(2), np.vstack([far, like[:1]]))
    assert frame.columns == ["object_id", *DOMAIN_COLUMNS]
    assert frame["in_domain"].to_list() == [False, percentile[0] <= 0.95]
    assert (
        "farther from the training set than 100 % of held-out objects" in frame["domain_reason"][0]
    )


def test_held_out_objects_are_five_percent_out_of_domain(domain):
    held_out = cluster(100, seed=1)
    # held-out object of rank r (0-based) has percentile r / 100: ranks 96-99 are above 0.95
    assert np.mean(domain.knn_percentile(held_out) > domain.threshold) == 0.04


def set_wavelengths(expression: pl.Expr) -> pl.Expr:
    """Wavelength column whose elements are ``expression`` (of ``pl.element()``)."""
    return pl.col("wavelength").list.eval(expression).cast(pl.List(pl.Float32))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda t: t.with_columns(
                set_wavelengths(pl.when(pl.element() > 9000).then(20000.0).otherwise(pl.element()))
            ),
            "bands outside the trained wavelengths 3304-12623 Å: lsst_y (20000 Å)",
        ),
        (
            lambda t: points(t, lambda c: c.list.head(2)),
            "only 2 points (the model needs at least 3)",
        ),
        (
            lambda t: t.with_columns(pl.col("time").list.eval(pl.element() * 3)),
            "longer than the training light curves (limit",
        ),
        (
            lambda t: points(t, lambda c: c.list.gather_every(6)),
            "sparser than the training light curves (limit",
        ),
        (
            lambda t: t.with_columns(
                set_wavelengths(pl.when(pl.element() < 6000).then(5000.0).otherwise(7000.0))
            ),
            "only 2 bands (every training light curve had at least 6)",
        ),
    ],
    ids=["wavelength", "points", "span", "cadence", "bands"],
)
def test_each_input_check_gives_its_reason(domain, curves, change, reason):
    row = curves.slice(3, 1)
    assert domain.limits_.reasons(row).to_list() == [""]
    frame = domain.assess(change(row), cluster(1, seed=5))
    assert reason in frame["domain_reason"][0]
    assert frame["domain_score"][0] == 1.0 and not frame["in_domain"][0]


def test_save_load_round_trip(domain, curves, tmp_path):
    domain.save(tmp_path, provenance={"command": "test"})
    assert has_domain_reference(tmp_path)
    loaded = DomainReference.load(tmp_path)
    assert loaded.get_params() == domain.get_params()
    np.testing.assert_array_equal(loaded.reference_, domain.reference_)
    np.testing.assert_array_equal(loaded.held_out_distances_, domain.held_out_distances_)
    assert loaded.limits_ == domain.limits_
    queries = np.vstack([cluster(20, seed=3), np.eye(DIM, dtype=np.float32)[1:4]])
    table = pl.concat([curves.head(20), curves.slice(20, 3)])
    assert loaded.assess(table, queries).equals(domain.assess(table, queries))
    assert json.loads((tmp_path / DOMAIN_FILE).read_text())["provenance"] == {"command": "test"}


def test_not_fitted_and_bad_arguments_fail_cleanly(domain, curves, tmp_path):
    with pytest.raises(NotFittedError):
        DomainReference().knn_percentile(cluster(2, seed=0))
    with pytest.raises(NotFittedError):
        DomainReference().assess(curves.head(1), cluster(1, seed=0))
    with pytest.raises(InvalidValueError, match="k must be an integer in \\[1, 3\\]"):
        DomainReference(k=10).fit(cluster(3, seed=0), cluster(3, seed=1), curves)
    with pytest.raises(InvalidValueError, match="threshold must be in"):
        DomainReference(threshold=1.5).fit(cluster(30, seed=0), cluster(3, seed=1), curves)
    with pytest.raises(InvalidValueError, match="embeddings has 2 rows for a table of 1"):
        domain.assess(curves.head(1), cluster(2, seed=0))
    with pytest.raises(InvalidValueError, match="dimension 3"):
        domain.knn_percentile(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(InputError, match="no domain reference"):
        DomainReference.load(tmp_path)


@pytest.fixture
def data_dir(tmp_path, sample_table):
    """The sample as a training set: plasticc.parquet and folds.parquet (folds 0-4)."""
    return as_plasticc_dir(sample_table, tmp_path)


@pytest.fixture
def copied_model(tmp_path, model_dir):
    """A copy of the tiny model, so a domain reference written into it stays in this test."""
    return shutil.copytree(model_dir, tmp_path / "model")


def test_predictor_adds_domain_columns_only_with_a_reference(copied_model, data_dir, sample_table):
    table = sample_table.head(20)
    without = load_predictor(copied_model).predict(table)
    assert not set(DOMAIN_COLUMNS) & set(without.columns)
    build_domain_reference(copied_model, data_dir / TABLE_NAME, data_dir / FOLDS_NAME)
    with_domain = load_predictor(copied_model).predict(table)
    assert with_domain.columns == [*without.columns, *DOMAIN_COLUMNS]
    assert with_domain.drop(DOMAIN_COLUMNS).equals(without)
    assert with_domain["domain_score"].is_between(0.0, 1.0).all()


def test_builder_holds_out_the_run_validation_split(copied_model, data_dir):
    config = TrainConfig(
        name="model",
        steps=1,
        data=DataConfig(
            path=str(data_dir / "elsewhere.parquet"),  # the builder reads the data it is given
            folds_path=str(data_dir / FOLDS_NAME),
            metadata_names=("hostgal_photoz", "mwebv"),
        ),
    )
    (copied_model / TRAINING_FILE).write_text(json.dumps({"config": config.to_dict()}))
    calls = []

    def extra(table: pl.DataFrame) -> pl.DataFrame:
        calls.append(table.height)
        return table.head(7).with_columns(pl.col("object_id") + "-copy")

    build_domain_reference(
        copied_model,
        data_dir / TABLE_NAME,
        data_dir / FOLDS_NAME,
        extra_reference=extra,
        command="test",
    )
    domain = DomainReference.load(copied_model)
    run = load_data(replace(config, data=replace(config.data, path=str(data_dir / TABLE_NAME))))
    n_train, n_validation = len(run.train), len(run.validation)
    assert calls == [n_train, n_validation]
    assert len(domain.reference_) == n_train + 7
    assert len(domain.held_out_distances_) == n_validation + 7
    stored = json.loads((copied_model / DOMAIN_FILE).read_text())
    assert stored["provenance"]["held_out"].startswith("the training run's validation split")
    assert stored["params"]["wavelength_margin"] == [-0.1, 0.3]


def test_cli_builds_the_reference(copied_model, data_dir):
    result = CliRunner().invoke(
        app, ["domain-reference", "--model", str(copied_model), "--data", str(data_dir), "-k", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "domain reference written to" in result.output
    stored = json.loads((copied_model / DOMAIN_FILE).read_text())
    assert stored["params"]["k"] == 5
    assert stored["provenance"]["held_out"].startswith("stratified 10% of folds 1-4, seed 0")
    assert stored["provenance"]["command"].startswith("catscope domain-reference")


def test_score_writes_the_domain_columns(domain_model_dir, sample_table, tmp_path):
    sample_table.head(30).write_parquet(tmp_path / "in.parquet")
    out = tmp_path / "predictions.parquet"
    result = CliRunner().invoke(
        app,
        ["score", str(tmp_path / "in.parquet"), "--out", str(out), "-m", str(domain_model_dir)],
    )
    assert result.exit_code == 0, result.output
    written = pl.read_parquet(out)
    assert written.columns[-3:] == list(DOMAIN_COLUMNS) and written.height == 30


def test_survey_copies_observe_each_object_once_with_one_profile(sample_table):
    from engine.training.surveys import PROFILES, survey_copies

    table = sample_table.head(60)
    copies = survey_copies(["lsst_gr_alerts", "sdss"], seed=2)(table)
    ids = copies["object_id"].str.split("@")
    assert set(ids.list.get(1)) <= {"lsst_gr_alerts", "sdss"}
    assert ids.list.get(0).is_in(table["object_id"].to_list()).all()
    assert ids.list.get(0).n_unique() == copies.height  # one copy per object at most
    alerts = copies.filter(pl.col("object_id").str.ends_with("@lsst_gr_alerts"))
    assert set(alerts["band"].explode()) <= set(PROFILES["lsst_gr_alerts"].bands)
    assert (copies["time"].list.len() >= 3).all()
    assert copies.equals(survey_copies(["lsst_gr_alerts", "sdss"], seed=2)(table))
