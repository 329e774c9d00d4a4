import copy
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
import torch

from engine.errors import InputError
from engine.infer.plan import (
    InformationPlanner,
    PlanSettings,
    class_entropy_bits,
    mutual_information,
    plan_catalogue,
    select_objects,
)


@pytest.fixture(scope="module")
def short(sample_table):
    """One object short enough that the tiny model (max 64 points) sees all of it plus one."""
    points = ("time", "band", "wavelength", "flux", "flux_err", "detected")
    return sample_table.head(1).with_columns(pl.col(points).list.head(30))


@pytest.fixture(scope="module")
def planner(predictor):
    return InformationPlanner(predictor)


def candidates(planner, table, n_samples=16, seed=0):
    packed = planner.predictor.pack(table)
    prefix, first = planner.prefix(packed)
    last = float(packed.time[-1]) - first
    wavelengths = np.unique(packed.wavelength)[:3]
    info = planner.information(
        prefix,
        time=last + np.array([1.0, 4.0, 12.0]),
        wavelength=wavelengths,
        flux_err=np.full(3, 5.0, dtype=np.float32),
        n_samples=n_samples,
        generator=torch.Generator().manual_seed(seed),
    )
    return info, first, last, wavelengths


def extended(table: pl.DataFrame, mjd: float, wavelength: float, flux: float, err: float):
    """The one-object table with one point appended (in the band of that wavelength)."""
    row = table.row(0, named=True)
    band = row["band"][row["wavelength"].index(wavelength)]
    point = {"time": mjd, "band": band, "wavelength": wavelength, "flux": flux,
             "flux_err": err, "detected": True}  # fmt: skip
    for name, value in point.items():
        row[name] = [*row[name], value]
    return pl.DataFrame([row], schema=table.schema)


def test_vectorised_information_equals_a_slow_loop_of_predictions(predictor, planner, short):
    info, first, last, wavelengths = candidates(planner, short, n_samples=4)
    now = predictor.predict(short).select(f"p_{c}" for c in predictor.classes).to_numpy()[0]
    now = now / now.sum()
    columns = [f"p_{c}" for c in predictor.classes]
    for m, days in enumerate([1.0, 4.0, 12.0]):
        after = []
        for flux in info.flux[m]:
            table = extended(short, first + last + days, float(wavelengths[m]), float(flux), 5.0)
            p = predictor.predict(table).select(columns).to_numpy()[0]
            after.append(p / p.sum())
        after = np.array(after)
        np.testing.assert_allclose(info.after[m], after, atol=1e-5)
        entropies = class_entropy_bits(after)
        assert info.bits[m] == pytest.approx(class_entropy_bits(now) - entropies.mean(), abs=1e-4)
        mi = class_entropy_bits(after.mean(axis=0)) - entropies.mean()
        assert info.mutual_information[m] == pytest.approx(max(mi, 0.0), abs=1e-4)


def test_information_is_bounded(planner, short):
    info, *_ = candidates(planner, short)
    now = class_entropy_bits(
        planner.probabilities_now(planner.prefix(planner.predictor.pack(short))[0])
    )
    assert (info.mutual_information >= 0).all()
    assert (info.mutual_information <= class_entropy_bits(info.after.mean(axis=1)) + 1e-9).all()
    assert (info.bits <= now + 1e-9).all()  # cannot remove more than today's uncertainty


def test_a_classifier_that_ignores_the_flux_learns_nothing_from_it(predictor, short):
    blind = copy.deepcopy(predictor)
    with torch.no_grad():
        blind.model.encoder.mix[1] = 0.0  # the flux embedding's weight in every token
    info, *_ = candidates(InformationPlanner(blind), short)
    np.testing.assert_allclose(info.mutual_information, 0.0, atol=1e-9)
    np.testing.assert_allclose(info.standard_error, 0.0, atol=1e-9)


def test_standard_error_shrinks_with_more_samples(planner, short):
    few = candidates(planner, short, n_samples=8)[0]
    many = candidates(planner, short, n_samples=512)[0]
    assert many.standard_error.mean() < few.standard_error.mean() / 3
    assert many.mi_standard_error.mean() < few.mi_standard_error.mean() / 3


def test_mutual_information_of_certain_outcomes():
    # two equally likely outcomes, each making one of two classes certain: exactly 1 bit
    after = np.array([[[1.0, 0.0], [0.0, 1.0]] * 50])
    bits, error = mutual_information(after)
    assert bits[0] == pytest.approx(1.0, abs=1e-6) and error[0] == pytest.approx(0.0, abs=1e-6)


def test_plan_object_grid_best_and_sentence(planner, short):
    settings = PlanSettings(last_day=5.0, step=2.0, n_samples=8)
    plan = planner.plan_object(short, settings)
    assert plan.days_ahead.tolist() == [1.0, 3.0, 5.0]
    assert plan.bits.shape == (len(plan.bands), 3) == plan.outcome_classes.shape[:2]
    assert set(plan.bands) == set(short["band"][0].to_list())
    best = plan.best
    assert best.bits == plan.bits.max()
    assert set(best.outcome_classes) <= set(planner.predictor.classes)
    assert best.band in plan.sentence() and "bits about the class" in plan.sentence()
    again = planner.plan_object(short, settings)
    np.testing.assert_array_equal(plan.bits, again.bits)  # seeded


def test_plan_catalogue_is_ranked(predictor, sample_table):
    table = sample_table.head(3)
    frame = plan_catalogue(predictor, table, PlanSettings(last_day=3.0, n_samples=4))
    assert frame["rank"].to_list() == [1, 2, 3]
    assert sorted(frame["object_id"]) == sorted(table["object_id"])
    bits = frame["expected_bits"].to_list()
    assert bits == sorted(bits, reverse=True)


def test_selection_and_settings_errors(predictor, sample_table):
    with pytest.raises(InputError, match="not in the catalogue: 'nope'"):
        select_objects(predictor, sample_table, object_ids=["nope"])
    ids = sample_table["object_id"].head(2).to_list()
    assert select_objects(predictor, sample_table, object_ids=ids)["object_id"].to_list() == ids
    unsure = select_objects(predictor, sample_table.head(20), unsure_only=True)
    assert (predictor.predict(unsure)["confidence"] < 0.5).all()
    with pytest.raises(InputError, match="first_day"):
        PlanSettings(first_day=5.0, last_day=2.0)
    with pytest.raises(InputError, match="n_samples"):
        PlanSettings(n_samples=1)


def test_sentence_when_nothing_helps(planner, short):
    plan = planner.plan_object(short, PlanSettings(last_day=2.0, n_samples=4))
    hopeless = replace(plan, bits=plan.bits - plan.bits.max() - 0.1)
    assert hopeless.sentence().startswith("No point in the next 2 days is expected")
    helpful = replace(plan, bits=plan.bits - plan.bits.min() + 0.1)
    assert "bits about the class" in helpful.sentence()
