import numpy as np
import polars as pl
import pytest

from engine.errors import InputError, ModelNotFoundError
from engine.infer import InferenceSettings, load_predictor
from engine.infer.batches import length_sorted_batches


@pytest.fixture(scope="module")
def table(sample_table):
    return sample_table.head(24)


def test_predict_frame_columns_and_probabilities(predictor, table):
    frame = predictor.predict(table)
    assert frame["object_id"].to_list() == table["object_id"].to_list()
    p = frame.select([f"p_{c}" for c in predictor.classes]).to_numpy()
    np.testing.assert_allclose(p.sum(axis=1) + frame["unsure"].to_numpy(), 1.0, atol=1e-5)
    assert (frame["confidence"].to_numpy() == p.max(axis=1)).all()
    assert set(frame["pred_class"]) <= set(predictor.classes)


def test_results_do_not_depend_on_batch_composition(model_dir, table):
    one_by_one = load_predictor(model_dir, settings=InferenceSettings(max_batch=1))
    batched = load_predictor(model_dir, settings=InferenceSettings(max_batch=512))
    np.testing.assert_allclose(
        one_by_one.last_logits(table), batched.last_logits(table), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(one_by_one.embed(table), batched.embed(table), rtol=1e-4, atol=1e-5)


def test_bf16_close_to_fp32(model_dir, table):
    fp32 = load_predictor(model_dir).predict(table)
    bf16 = load_predictor(model_dir, settings=InferenceSettings(precision="bf16")).predict(table)
    columns = [c for c in fp32.columns if c.startswith("p_")]
    np.testing.assert_allclose(
        fp32.select(columns).to_numpy(), bf16.select(columns).to_numpy(), atol=0.03
    )


def test_point_probabilities_end_with_the_last_point_prediction(predictor, table):
    points = predictor.predict_points(table)
    frame = predictor.predict(table)
    last = points.probabilities[points.offsets[1:] - 1, :-1]
    expected = frame.select([f"p_{c}" for c in predictor.classes]).to_numpy()
    np.testing.assert_allclose(last, expected, atol=1e-5)
    lengths = np.minimum(table["time"].list.len().to_numpy(), predictor.max_points)
    np.testing.assert_array_equal(np.diff(points.offsets), lengths)


def test_timeline_times_are_the_object_mjds(predictor, table):
    one = table.head(1)
    timeline = predictor.predict_timeline(one)
    times = np.asarray(one["time"][0].to_list())
    assert timeline.height == min(len(times), predictor.max_points)
    assert timeline["time"][0] == pytest.approx(times[0])
    assert timeline["time"][-1] == pytest.approx(times[-1])
    assert timeline["n_points"].to_list() == list(range(1, timeline.height + 1))


def test_attention_maps_have_one_row_per_token(predictor, table):
    weights, times = predictor.attention(table.head(1))
    n_tokens = len(times) + 1  # [META] token first
    assert weights.shape == (3, 4, n_tokens, n_tokens)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-4)
    assert np.allclose(np.triu(weights[-1, 0, 1:, 1:], k=1), 0.0)  # causal


def test_continue_curve_returns_requested_times_and_bands(predictor, table):
    one = table.head(1)
    last = one["time"][0][-1]
    times = last + np.array([1.0, 3.0, 10.0, 30.0])
    bands = ["lsst_g", "r", "ztfg", "lsst_y"]
    future = predictor.continue_curve(one, times, bands, n_samples=16, seed=3)
    assert future.samples.shape == (16, 4)
    np.testing.assert_array_equal(future.time, times)
    assert future.band == bands
    assert np.isfinite(future.samples).all()
    q = future.quantiles
    assert (q[0.025] <= q[0.16]).all() and (q[0.16] <= q[0.5]).all() and (q[0.84] <= q[0.975]).all()
    again = predictor.continue_curve(one, times, bands, n_samples=16, seed=3)
    np.testing.assert_array_equal(future.samples, again.samples)


def test_a_total_curve_is_continued_on_its_own_scale(predictor, table):
    """The model sees total photometry minus each band's median; its futures get it back."""
    from engine.data.packed import PackedLightCurves
    from engine.data.photometry import band_reference

    star = 10 ** (-0.4 * (17.0 - 27.5))
    one = table.head(1).with_columns(pl.col("flux").list.eval(pl.element() + star))
    level = band_reference(PackedLightCurves.from_frame(one))
    subtracted = one.with_columns(
        flux=pl.Series([(one["flux"][0].to_numpy() - level).tolist()], dtype=pl.List(pl.Float32))
    )
    times = one["time"][0][-1] + np.array([1.0, 2.0])
    total = one.with_columns(flux_kind=pl.lit("total"))
    futures = [
        predictor.continue_curve(t, times, ["lsst_r"] * 2, n_samples=8, seed=1)
        for t in (total, subtracted)
    ]
    in_r = np.array(one["band"][0].to_list()) == "lsst_r"
    # the same model input: the futures differ by exactly the r band's level
    np.testing.assert_allclose(futures[0].samples - futures[1].samples, level[in_r][0], rtol=1e-4)


def test_continue_curve_takes_a_user_band_from_the_objects_own_points(predictor, table):
    one = table.head(1)
    renamed = one.with_columns(pl.col("band").list.eval(pl.element().replace("lsst_g", "w")))
    times = one["time"][0][-1] + np.array([1.0, 2.0])
    # 'w' (a --band-map band) is in no registry, but the object's points give its wavelength
    future = predictor.continue_curve(renamed, times, ["w", "w"], n_samples=4, seed=1)
    same = predictor.continue_curve(one, times, ["lsst_g", "lsst_g"], n_samples=4, seed=1)
    np.testing.assert_array_equal(future.samples, same.samples)


@pytest.mark.parametrize(
    ("times", "bands", "match"),
    [
        ([0.0], ["g"], "after the last point"),
        ([1e6, 1e6 + 1], ["g"], "one length"),
        ([1e6], ["nope"], "unknown band"),
    ],
)
def test_continue_curve_rejects_bad_requests(predictor, table, times, bands, match):
    with pytest.raises(InputError, match=match):
        predictor.continue_curve(table.head(1), np.array(times), bands, n_samples=2)


def test_single_object_views_reject_several_objects(predictor, table):
    with pytest.raises(InputError, match="exactly one object"):
        predictor.attention(table.head(2))


def test_next_point_log_prob_is_nan_only_at_last_points(predictor, table):
    lp = predictor.next_point_log_prob(table.head(5))
    values = lp.probabilities[:, 0]
    assert np.isnan(values[lp.offsets[1:] - 1]).all()
    inner = np.delete(values, lp.offsets[1:] - 1)
    assert np.isfinite(inner).all()


def test_metadata_is_optional(predictor, table):
    bare = table.select("object_id", "time", "band", "wavelength", "flux", "flux_err", "detected")
    frame = predictor.predict(bare)
    assert frame.height == bare.height


def test_unknown_model_lists_available():
    with pytest.raises(ModelNotFoundError, match="available"):
        load_predictor("no-such-model")


@pytest.mark.parametrize("max_tokens", [1, 100, 10_000])
def test_length_sorted_batches_cover_every_object_once(max_tokens):
    lengths = np.random.default_rng(0).integers(1, 400, size=257)
    batches = length_sorted_batches(lengths, max_points=256, max_tokens=max_tokens, max_batch=64)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(257))
    for batch in batches:
        width = min(lengths[batch].max(), 256)
        assert len(batch) == 1 or len(batch) * width <= max_tokens
        assert len(batch) <= 64
