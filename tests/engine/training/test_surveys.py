"""Survey-profile augmentation: the physics of redshifting and degrading, and the contract."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
import torch
from astropy.cosmology import FlatLambdaCDM

from engine.data.batching import collate
from engine.data.packed import PackedLightCurves
from engine.data.photometry import FLUX_KIND_COLUMN, band_reference
from engine.data.schema import check_table
from engine.training.augment import (
    AugmentConfig,
    augment,
    collate_augmented,
    draw_time_shift,
    drop_metadata,
    jitter_wavelengths,
    redshift,
    scale_flux,
    subsample,
)
from engine.training.config import TrainConfig, load_config
from engine.training.data import load_data
from engine.training.distance import distance_modulus, move_distance, move_to_depth
from engine.training.objectives.registry import get_objective
from engine.training.surveys import (
    PROFILES,
    SurveyProfile,
    degrade,
    degrade_mixture,
    degrade_table,
    depth_noise,
    observe,
    resolve_profile,
)

LSST_G, LSST_R = 4827.0, 6223.0


def _curves(
    times: list[np.ndarray],
    wavelengths: list[np.ndarray],
    fluxes: list[np.ndarray],
    errors: list[np.ndarray],
    metadata: dict[str, list[float]] | None = None,
) -> PackedLightCurves:
    lengths = [len(t) for t in times]
    return PackedLightCurves(
        object_id=np.array([f"o{k}" for k in range(len(times))]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        time=np.concatenate(times).astype(np.float64),
        flux=np.concatenate(fluxes).astype(np.float32),
        flux_err=np.concatenate(errors).astype(np.float32),
        wavelength=np.concatenate(wavelengths).astype(np.float32),
        detected=np.ones(sum(lengths), bool),
        metadata={k: np.asarray(v, float) for k, v in (metadata or {}).items()},
    )


def _transient(z: float, *, peak: float = 5000.0, err: float = 1e-3) -> PackedLightCurves:
    """One object: a Gaussian burst peaking 30 d after the first point, in g and r."""
    t = 60000.0 + np.repeat(np.arange(0.0, 80.0, 1.0), 2)
    wavelength = np.tile([LSST_G, LSST_R], len(t) // 2)
    flux = peak * np.exp(-0.5 * ((t - 60030.0) / 8.0) ** 2)
    meta = {
        "hostgal_photoz": [z + 0.02],
        "hostgal_photoz_err": [0.05],
        "hostgal_specz": [z],
        "distmod": [0.0],
    }
    return _curves([t], [wavelength], [flux], [np.full(len(t), err)], meta)


def _profile(**changes) -> SurveyProfile:
    values = {
        "name": "test",
        "bands": {"ztf_g": 4746.0},
        "depth": {"ztf_g": 30.0},  # a floor of 0.01 FLUXCAL: the noise stays as it is
    }
    return SurveyProfile(**{**values, **changes})


# --- distance ------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [1.5, 0.4])
def test_redshift_stretches_time_and_wavelength_and_fades_by_the_distance_modulus(ratio):
    z1 = 0.3
    curves = _transient(z1)
    moved = move_distance(curves, np.random.default_rng(0), rate=1.0, z_ratio=(ratio, ratio))
    z2 = z1 * ratio
    k = (1 + z2) / (1 + z1)
    assert moved.metadata["hostgal_specz"][0] == pytest.approx(z2)
    t0 = curves.time[0]
    for wavelength in (LSST_G, LSST_R):
        before = curves.wavelength == wavelength
        after = np.isclose(moved.wavelength, wavelength * k)
        assert after.sum() == before.sum()  # every wavelength is scaled by the same factor
        peak_before = curves.time[before][np.argmax(curves.flux[before])] - t0
        peak_after = moved.time[after][np.argmax(moved.flux[after])] - t0
        assert peak_after == pytest.approx(peak_before * k)  # time dilation
        cosmology = FlatLambdaCDM(H0=70.0, Om0=0.3)
        delta_mu = (cosmology.distmod(z2) - cosmology.distmod(z1)).value
        expected = k * 10 ** (-0.4 * delta_mu)  # distance and the f_nu bandwidth term
        assert moved.flux[after].max() / curves.flux[before].max() == pytest.approx(
            expected, rel=1e-3
        )
    factor = moved.flux_err / curves.flux_err
    # fainter: the survey's noise floor (the original error) stays; brighter: errors scale up
    np.testing.assert_allclose(factor, max(expected, 1.0), rtol=1e-5)


def test_redshift_updates_the_photo_z_metadata():
    curves = _transient(0.3)
    moved = move_distance(curves, np.random.default_rng(1), rate=1.0, z_ratio=(1.2, 1.2))
    z2 = 0.36
    k = (1 + z2) / 1.3
    assert moved.metadata["hostgal_photoz"][0] == pytest.approx(z2 + 0.02 * k)
    assert moved.metadata["hostgal_photoz_err"][0] == pytest.approx(0.05 * k)
    expected_mu = FlatLambdaCDM(H0=70.0, Om0=0.3).distmod(z2 + 0.02 * k).value
    assert moved.metadata["distmod"][0] == pytest.approx(expected_mu, abs=1e-3)


def test_distance_modulus_matches_astropy():
    z = np.array([0.005, 0.1, 0.7, 2.5])
    expected = FlatLambdaCDM(H0=70.0, Om0=0.3).distmod(z).value
    np.testing.assert_allclose(distance_modulus(z), expected, atol=1e-4)


def test_galactic_objects_only_change_brightness():
    base = _transient(0.3)
    many = base.subset(np.zeros(400, np.int64))
    many = replace(many, metadata={"hostgal_photoz": np.zeros(400)})
    moved = move_distance(many, np.random.default_rng(2), rate=1.0, galactic_mag=(-1.0, 1.5))
    np.testing.assert_array_equal(moved.time, many.time)
    np.testing.assert_array_equal(moved.wavelength, many.wavelength)
    peak = np.maximum.reduceat(moved.flux, moved.offsets[:-1])
    shift = -2.5 * np.log10(peak / many.flux.max())
    assert shift.min() >= -1.0 - 1e-3 and shift.max() <= 1.5 + 1e-3
    assert shift.min() < -0.8 and shift.max() > 1.3  # the whole range is drawn


@pytest.mark.parametrize("photoz", [0.3, 0.0])
def test_move_to_depth_puts_the_brightest_point_above_the_survey_depth(photoz):
    many = _transient(0.3, peak=2000.0).subset(np.zeros(300, np.int64))  # 19.25 mag at peak
    meta = {**many.metadata, "hostgal_photoz": np.full(300, photoz)}
    if photoz == 0:
        meta["hostgal_specz"] = np.zeros(300)
    many = replace(many, metadata=meta)
    moved = move_to_depth(many, np.random.default_rng(0), rate=1.0, depth=17.0)
    peak = np.maximum.reduceat(moved.flux, moved.offsets[:-1])
    mag = 27.5 - 2.5 * np.log10(peak)
    assert mag.min() > 17.0 - 3.0 - 1e-3 and mag.max() < 17.0 - 0.5 + 1e-3
    assert mag.max() - mag.min() > 2.0  # the margin is drawn, not fixed
    if photoz > 0:  # brighter means nearer: time contracts with the wavelengths
        z2 = moved.metadata["hostgal_specz"]
        assert (z2 < 0.3).all()
        np.testing.assert_allclose(
            moved.wavelength[moved.slice_points(0)].max(), LSST_R * (1 + z2[0]) / 1.3, rtol=1e-6
        )
    else:
        np.testing.assert_array_equal(moved.time, many.time)


def test_move_to_depth_leaves_unseen_objects():
    flat = _curves([np.arange(10.0)], [np.full(10, LSST_G)], [np.zeros(10)], [np.ones(10)])
    flat = replace(flat, metadata={"hostgal_photoz": np.array([0.5])})
    moved = move_to_depth(flat, np.random.default_rng(0), rate=1.0, depth=20.0)
    np.testing.assert_array_equal(moved.flux, flat.flux)
    assert moved.metadata["hostgal_photoz"][0] == 0.5


def test_distance_rate_and_unknown_kind():
    many = _transient(0.3).subset(np.zeros(2000, np.int64))
    photoz = np.where(np.arange(2000) % 2, 0.3, np.nan)  # half without a photo-z
    many = replace(many, metadata={"hostgal_photoz": photoz})
    moved = move_distance(many, np.random.default_rng(3), rate=0.3)
    changed = np.add.reduceat((moved.flux != many.flux).astype(int), many.offsets[:-1]) > 0
    assert not changed[np.isnan(photoz)].any()
    assert abs(changed[~np.isnan(photoz)].mean() - 0.3) < 0.05


# --- degrading -----------------------------------------------------------------------------


def test_ztf_curves_have_only_ztf_bands_detections_and_the_depth_floor(sample_table):
    curves = PackedLightCurves.from_frame(sample_table)
    ztf = PROFILES["ztf"]
    out = observe(curves, ztf, np.random.default_rng(0)).curves
    assert out.offsets[-1] > 100  # some PLAsTiCC points are bright enough for ZTF
    assert set(np.unique(out.wavelength)) <= set(ztf.wavelengths)
    assert (out.flux / out.flux_err >= 5.0).all() and out.detected.all()
    floor = dict(zip(ztf.wavelengths, ztf.noise_floor, strict=True))
    assert (out.flux_err >= np.vectorize(floor.get)(out.wavelength) * (1 - 1e-6)).all()
    assert depth_noise(27.5 - 2.5 * np.log10(5.0)) == pytest.approx(1.0)  # flux 5 is 5σ


def test_each_profile_band_takes_one_source_band():
    # LSST r (6223) and i (7546) would both be nearest to a lone red band at 7000 Å
    t = np.arange(40.0)
    wavelength = np.where(t % 2 == 0, LSST_R, 7546.0)
    curves = _curves([t], [wavelength], [np.full(40, 100.0)], [np.ones(40)])
    profile = _profile(bands={"red": 7000.0}, depth={"red": 30.0})
    out = observe(curves, profile, np.random.default_rng(0)).curves
    assert out.offsets[-1] == 20 and (out.wavelength == 7000.0).all()
    np.testing.assert_array_equal(out.time, t[t % 2 == 1])  # the nearer source band, i


def test_all_rule_keeps_non_detections_and_flags_them():
    t = np.arange(50.0)
    flux = np.where(t < 25, 0.0, 100.0)
    curves = _curves([t], [np.full(50, LSST_G)], [flux], [np.ones(50)])
    out = observe(curves, _profile(detection="all"), np.random.default_rng(0)).curves
    assert out.offsets[-1] == 50
    np.testing.assert_array_equal(out.detected, out.flux / out.flux_err >= 5.0)
    assert out.detected[25:].all() and not out.detected[:25].any()
    only = observe(curves, _profile(detection="detections"), np.random.default_rng(0)).curves
    assert only.offsets[-1] == 25


def test_cadence_thinning_reaches_the_target_mean_gap():
    n, days = 300, 400
    t = [np.arange(float(days)) for _ in range(n)]
    curves = _curves(t, [np.full(days, LSST_G)] * n, [np.full(days, 50.0)] * n, [np.ones(days)] * n)
    out = observe(curves, _profile(cadence_days=4.0), np.random.default_rng(0)).curves
    starts, ends = out.time[out.offsets[:-1]], out.time[out.offsets[1:] - 1]
    mean_gap = (ends - starts) / (out.lengths - 1)
    assert np.mean(mean_gap) == pytest.approx(4.0, rel=0.05)


def test_seasons_leave_yearly_gaps_and_keep_the_peak():
    n, days = 100, 1100
    t = np.arange(float(days))
    peaks = np.random.default_rng(1).uniform(100, 1000, n)
    flux = [1000.0 * np.exp(-0.5 * ((t - p) / 5.0) ** 2) + 20.0 for p in peaks]
    curves = _curves([t] * n, [np.full(days, LSST_G)] * n, flux, [np.ones(days)] * n)
    out = observe(curves, _profile(season_days=90.0), np.random.default_rng(2)).curves
    assert out.offsets[-1] / curves.offsets[-1] == pytest.approx(90 / 365.25, rel=0.05)
    for k in range(n):
        kept = out.time[out.slice_points(k)]
        gaps = np.diff(kept)
        big = gaps[gaps > 1.5]
        assert ((big > 274) & (big < 278)).all()  # 365.25 - 90 days, to a day
        assert np.round(peaks[k]) in kept or np.round(peaks[k]) - 1 in kept


def test_one_band_profile_leaves_one_band_per_object(sample_table):
    curves = PackedLightCurves.from_frame(sample_table)
    out = degrade(curves, PROFILES["one_band"], np.random.default_rng(0))
    owner = np.repeat(np.arange(len(out)), out.lengths)
    per_object = (
        pl.DataFrame({"o": owner, "w": out.wavelength}).group_by("o").agg(pl.col("w").n_unique())
    )
    assert (per_object["w"] == 1).all()
    chosen = per_object.join(
        pl.DataFrame({"o": owner, "w": out.wavelength}).group_by("o").agg(pl.col("w").first()),
        on="o",
    )["w_right"]
    assert chosen.n_unique() == 6  # every band is picked for some object


def test_total_profile_gives_a_steady_positive_level_and_converts_back(sample_table):
    curves = PackedLightCurves.from_frame(sample_table)
    sdss = PROFILES["sdss"]
    observation = observe(curves, sdss, np.random.default_rng(0))
    total = observation.curves
    assert observation.total.all()
    assert (total.flux > 0).mean() > 0.999
    # the level is bright: every object-band median at least the faintest reference drawn
    # (depth - 1 in r, 1 mag per 1,000 Å fainter at most towards the blue u band)
    faintest = 10 ** (-0.4 * (sdss.reference_depth - 1 + 2.7 - 27.5))
    assert (band_reference(total) > faintest).all()
    back = degrade(curves, sdss, np.random.default_rng(0))
    converted = np.isfinite(back.metadata["ref_mag"])
    assert converted.mean() > 0.99  # the rest had < 3 points left and kept their curve
    on_point = np.repeat(converted, back.lengths)
    np.testing.assert_allclose(band_reference(back)[on_point], 0.0, atol=1e-2)
    np.testing.assert_array_equal(
        back.flux[~on_point], curves.flux[np.repeat(~converted, curves.lengths)]
    )


def test_short_results_keep_their_original_curve():
    t = np.arange(30.0)
    faint = _curves(
        [t, t], [np.full(30, LSST_G)] * 2, [np.zeros(30), np.full(30, 1e4)], [np.ones(30)] * 2
    )
    profile = _profile(detection="detections", depth={"ztf_g": 20.0})
    raw = observe(faint, profile, np.random.default_rng(0)).curves
    assert raw.lengths[0] == 0 and raw.lengths[1] == 30
    out = degrade(faint, profile, np.random.default_rng(0), min_points=3)
    np.testing.assert_array_equal(out.flux[out.slice_points(0)], faint.flux[:30])
    assert (out.wavelength[out.slice_points(1)] == 4746.0).all()


def test_degrade_table_is_canonical_seeded_and_drops_unobserved(sample_table):
    table = sample_table.head(300)
    ztf = degrade_table(table, PROFILES["ztf"], seed=3)
    check_table(ztf)
    assert set(ztf["band"].explode().unique()) <= {"ztf_g", "ztf_r", "ztf_i"}
    assert 0 < ztf.height < table.height and (ztf["time"].list.len() >= 1).all()
    assert (ztf[FLUX_KIND_COLUMN] == "difference").all()
    assert ztf.select("label", "hostgal_photoz").equals(
        table.filter(pl.col("object_id").is_in(ztf["object_id"].implode())).select(
            "label", "hostgal_photoz"
        )
    )
    assert degrade_table(table, PROFILES["ztf"], seed=3).equals(ztf)
    assert not degrade_table(table, PROFILES["ztf"], seed=4).equals(ztf)
    gaia = degrade_table(table, PROFILES["gaia"], seed=3)
    assert (gaia[FLUX_KIND_COLUMN] == "total").all()
    assert (gaia["flux"].explode() > 0).mean() > 0.999  # left total: the model door converts
    at_door = PackedLightCurves.from_frame(gaia)
    np.testing.assert_allclose(band_reference(at_door), 0.0, atol=1e-2)


def test_degrade_is_reproducible(sample_table):
    curves = PackedLightCurves.from_frame(sample_table.head(100))
    for profile in PROFILES.values():
        a = degrade(curves, profile, np.random.default_rng(9))
        b = degrade(curves, profile, np.random.default_rng(9))
        np.testing.assert_array_equal(a.flux, b.flux)
        np.testing.assert_array_equal(a.time, b.time)


# --- profiles ------------------------------------------------------------------------------


def test_profiles_load_from_toml(tmp_path):
    path = tmp_path / "mysurvey.toml"
    path.write_text(
        'name = "mysurvey"\nbands = ["ztf_g", "ztf_r"]\ncadence_days = 2.5\n'
        'detection = "detections"\n[depth]\nztf_g = 21.0\nztf_r = 20.5\n'
    )
    profile = SurveyProfile.from_toml(path)
    assert profile.bands == {"ztf_g": 4746.0, "ztf_r": 6366.0}
    assert profile.cadence_days == 2.5 and profile.detection == "detections"
    assert resolve_profile(str(path)) == profile
    config = AugmentConfig(survey_rate=0.5, survey_profiles=[str(path), "gaia"])
    assert config.profiles() == (profile, PROFILES["gaia"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bands": {}}, "bands"),
        ({"bands": {"x": 10.0}, "depth": {"x": 20.0}}, "bands['x']"),
        ({"depth": {"other": 20.0}}, "depth"),
        ({"depth": {"ztf_g": 50.0}}, "depth['ztf_g']"),
        ({"cadence_days": 0.0}, "cadence_days"),
        ({"season_days": 400.0}, "season_days"),
        ({"detection": "alerts"}, "detection"),
        ({"snr_threshold": -1.0}, "snr_threshold"),
        ({"photometry": "flux"}, "photometry"),
        ({"max_bands": 2}, "max_bands"),
        ({"band_tolerance": 0.0}, "band_tolerance"),
    ],
)
def test_invalid_profiles_name_the_field(changes, field):
    with pytest.raises(ValueError, match=f"{field.replace('[', '.').replace(']', '.')} must"):
        _profile(**changes)


def test_profile_dict_errors():
    with pytest.raises(ValueError, match="unknown keys \\['colour'\\]"):
        SurveyProfile.from_dict({"name": "x", "colour": 1})
    with pytest.raises(ValueError, match="'nope'"):
        SurveyProfile.from_dict({"name": "x", "bands": ["nope"], "depth": {}})
    with pytest.raises(ValueError, match="incomplete"):
        SurveyProfile.from_dict({"name": "x"})
    with pytest.raises(ValueError, match="unknown survey profile 'hst'"):
        resolve_profile("hst")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"survey_rate": 0.5}, "survey_profiles is empty"),
        ({"survey_profiles": ["ztf"], "survey_weights": [1.0, 2.0]}, "survey_weights"),
        ({"distance_z_ratio": [1.5, 0.5]}, "distance_z_ratio"),
        ({"total_rate": 1.5}, "total_rate"),
        ({"metadata_field_dropout": -0.1}, "metadata_field_dropout"),
        ({"wavelength_jitter": 0.9}, "wavelength_jitter"),
        ({"survey_min_points": 0}, "survey_min_points"),
    ],
)
def test_invalid_augment_fields(values, message):
    with pytest.raises(ValueError, match=message):
        AugmentConfig(**values)


# --- augment ---------------------------------------------------------------------------------


def _before_survey_steps(curves, rng, config):
    """``augment`` as it was before the survey steps: the paper's five, in order."""
    curves = subsample(curves, rng, rate=config.subsample_rate, min_points=config.min_points)
    curves = scale_flux(curves, rng, rate=config.flux_scale_rate, max_factor=config.flux_scale_max)
    shift = draw_time_shift(
        len(curves), rng, rate=config.time_shift_rate, max_shift=config.time_shift_max
    )
    curves = redshift(
        curves,
        rng,
        rate=config.redshift_rate,
        sigma=config.redshift_sigma,
        z_min=config.redshift_min,
    )
    return drop_metadata(curves, rng, rate=config.metadata_dropout), shift


def test_default_config_augments_exactly_as_before(sample_table):
    curves = PackedLightCurves.from_frame(sample_table.head(200))
    new = augment(curves, np.random.default_rng(11), AugmentConfig())
    old, shift = _before_survey_steps(curves, np.random.default_rng(11), AugmentConfig())
    for name in ("offsets", "time", "flux", "flux_err", "wavelength", "detected"):
        np.testing.assert_array_equal(getattr(new.curves, name), getattr(old, name))
    np.testing.assert_array_equal(new.time_shift, shift)
    for name, values in old.metadata.items():
        np.testing.assert_array_equal(new.curves.metadata[name], values)


SURVEY_ON = {
    "distance_rate": 0.3,
    "survey_rate": 0.5,
    "survey_profiles": ["lsst", "ztf", "atlas", "sdss", "gaia", "ps1", "one_band"],
    "survey_weights": [1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    "total_rate": 0.15,
    "wavelength_jitter": 0.02,
    "metadata_field_dropout": 0.1,
}


def test_everything_on_gives_valid_varied_curves(sample_table):
    curves = PackedLightCurves.from_frame(sample_table)
    out = augment(curves, np.random.default_rng(12), AugmentConfig(**SURVEY_ON)).curves
    assert len(out) == len(curves) and (out.lengths >= 1).all()
    assert np.isfinite(out.flux).all() and (out.flux_err > 0).all()
    assert (out.wavelength > 0).all()
    assert len(np.unique(out.wavelength)) > 100  # jittered and redshifted, not six values
    assert (out.lengths < curves.lengths).mean() > 0.2  # degraded curves lost points
    hidden = np.isnan(out.metadata["mwebv"]).mean()
    assert 0.5 < hidden < 0.6  # 50 % whole-object dropout, then 10 % per field


def test_jitter_is_one_factor_per_object_band(packed):
    out = jitter_wavelengths(packed, np.random.default_rng(0), sigma=0.02)
    ratio = out.wavelength / packed.wavelength
    owner = np.repeat(np.arange(len(packed)), packed.lengths)
    frame = pl.DataFrame({"o": owner, "w": packed.wavelength, "r": ratio})
    per_group = frame.group_by("o", "w").agg(pl.col("r").n_unique(), pl.col("r").first().alias("f"))
    assert (per_group["r"] == 1).all()
    assert per_group["f"].std() == pytest.approx(0.02, rel=0.3)


def test_mixture_draws_nothing_when_off(packed):
    rng = np.random.default_rng(0)
    assert degrade_mixture(packed, rng, tuple(PROFILES.values()), rate=0.0) is packed
    assert rng.random() == np.random.default_rng(0).random()


def test_metadata_is_scaled_after_augmentation_and_inputs_are_unchanged_when_off(dataset, tmp_path):
    table, folds = dataset
    config = TrainConfig.from_dict(
        {
            "name": "scaled",
            "steps": 1,
            "output_dir": str(tmp_path),
            "run_dir": str(tmp_path),
            "data": {
                "path": str(table),
                "folds_path": str(folds),
                "metadata_names": ["hostgal_photoz", "mwebv"],
                "validation_fraction": 0.2,
            },
            "model": {"d_model": 16, "n_layers": 2, "n_heads": 2, "head_dim": 8, "n_mixture": 8},
        }
    )
    data = load_data(config)
    train = data.train
    raw = np.stack([train.curves.metadata[n] for n in ("hostgal_photoz", "mwebv")], axis=1)
    scaled = data.scaler.transform(raw)
    assert not np.allclose(raw[np.isfinite(raw)], scaled[np.isfinite(raw)])  # raw kept
    np.testing.assert_array_equal(train.model_curves.metadata["mwebv"], scaled[:, 1])
    index = np.arange(12)
    names = ("hostgal_photoz", "mwebv")
    before = collate(train.model_curves, index, max_points=32, metadata_names=names)
    after = collate_augmented(
        train.curves,
        index,
        np.random.default_rng(0),
        AugmentConfig.none(),
        max_points=32,
        metadata_names=names,
        scaler=train.scaler,
    )
    for field in ("time", "flux", "flux_err", "wavelength", "mask", "metadata"):
        torch.testing.assert_close(getattr(after, field), getattr(before, field), equal_nan=True)
    objective = get_objective("atcat")
    model = objective.build_model(config, data)
    inputs = objective.make_inputs(
        train.curves,
        index,
        np.random.default_rng(0),
        config,
        model,
        torch.device("cpu"),
        training=False,
        scaler=train.scaler,
    )
    torch.testing.assert_close(inputs.metadata, before.metadata, equal_nan=True)


def test_mixture_rates_weights_and_order(sample_table):
    curves = PackedLightCurves.from_frame(sample_table)
    many = curves.subset(np.tile(np.arange(len(curves)), 3))
    profiles = (PROFILES["sdss"], PROFILES["gaia"])
    out = degrade_mixture(
        many, np.random.default_rng(4), profiles, rate=0.5, weights=(1.0, 3.0), total_rate=0.2
    )
    np.testing.assert_array_equal(out.object_id, many.object_id)
    first = out.wavelength[np.minimum(out.offsets[:-1], len(out.wavelength) - 1)]
    sdss = np.isin(first, profiles[0].wavelengths)
    gaia = np.isin(first, profiles[1].wavelengths)
    n = len(many)
    assert abs(sdss.mean() - 0.125) < 0.02 and abs(gaia.mean() - 0.375) < 0.03
    lsst_total = ~sdss & ~gaia & np.isfinite(out.metadata["ref_mag"])
    assert abs(lsst_total.sum() / (~sdss & ~gaia).sum() - 0.2) < 0.03
    assert np.isfinite(out.metadata["ref_mag"][sdss | gaia]).mean() > 0.99
    assert n == len(out)


def test_scaler_sees_the_redshifted_photo_z(dataset, tmp_path):
    table, folds = dataset
    data = load_data(
        TrainConfig.from_dict(
            {
                "name": "scaled",
                "steps": 1,
                "data": {
                    "path": str(table),
                    "folds_path": str(folds),
                    "metadata_names": ["hostgal_photoz", "mwebv"],
                },
            }
        )
    )
    curves, scaler = data.train.curves, data.train.scaler
    config = AugmentConfig(**{**AugmentConfig.none().__dict__, "distance_rate": 1.0})
    raw = augment(curves, np.random.default_rng(5), config).curves
    scaled = augment(curves, np.random.default_rng(5), config, scaler=scaler).curves
    moved = np.isfinite(curves.metadata["hostgal_photoz"])
    assert not np.allclose(
        raw.metadata["hostgal_photoz"][moved], curves.metadata["hostgal_photoz"][moved]
    )
    expected = scaler.transform(
        np.stack([raw.metadata["hostgal_photoz"], raw.metadata["mwebv"]], 1)
    )
    np.testing.assert_array_equal(scaled.metadata["hostgal_photoz"], expected[:, 0])


def test_survey_fields_round_trip_through_toml(tmp_path, survey_augment):
    config = TrainConfig.from_dict({"name": "x", "steps": 1, "augment": survey_augment})
    path = tmp_path / "run.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config
    assert config.augment.survey_profiles == tuple(survey_augment["survey_profiles"])


def test_the_alert_profile_keeps_lsst_g_and_r_detections(sample_table):
    curves = PackedLightCurves.from_frame(sample_table.head(200))
    profile = PROFILES["lsst_gr_alerts"]
    out = observe(curves, profile, np.random.default_rng(0)).curves
    assert set(np.unique(out.wavelength)) == set(profile.wavelengths)
    assert np.all(out.flux / out.flux_err >= 5)
