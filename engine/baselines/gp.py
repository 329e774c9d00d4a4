"""Gaussian-process next-point predictor, the classical baseline of the generative task.

The model is the 2-D GP of avocado (Boone 2019, the PLAsTiCC winner): zero mean, a Matérn
ν = 3/2 kernel over (time, wavelength) with the wavelength length scale fixed at 6000 Å, the
amplitude and the time length scale fitted by maximum likelihood, and each point's flux error
as its own noise. For a target point ``k`` the GP is fitted on the points before ``k`` (the
object's time-sorted points, in their original order and without subsampling) and predicts
point ``k`` as a Gaussian whose variance is the GP's predictive variance plus ``flux_err_k²``.
The score is its negative log-likelihood in FLUXCAL units (natural log, per point).

:func:`next_point_positions` defines the scored points once; ATCAT's evaluation imports it so
both models are scored on the same positions.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from time import perf_counter

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern

from engine.baselines.split import load_split
from engine.data.packed import PackedLightCurves
from engine.data.plasticc import EVAL_FOLD
from engine.errors import InvalidValueError

#: fixed wavelength length scale of the kernel (Å), as in avocado
WAVELENGTH_SCALE = 6000.0
#: starting time length scale (days) and its bounds, as in avocado
TIME_SCALE_GUESS = 20.0
TIME_SCALE_BOUNDS = (1.0, 1000.0)
#: the fitted amplitude² may move e^±10 from its starting guess, as in avocado
AMPLITUDE_LOG_RANGE = 10.0
#: longest light curve ATCAT models take (engine/data/batching.py evenly_subsample)
MAX_MODEL_POINTS = 256


def _check_positive_int(name: str, value: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        msg = f"{name} must be an integer >= {minimum}; got {value!r}"
        raise InvalidValueError(msg)


def next_point_positions(
    packed: PackedLightCurves,
    *,
    per_class: int = 16,
    min_points: int = 6,
    max_positions: int = 20,
    start: int = 5,
    seed: int = 0,
    max_points: int = MAX_MODEL_POINTS,
) -> dict[int, np.ndarray]:
    """Choose the objects and points scored by the next-point evaluation.

    Up to ``per_class`` objects of each class (all of a class that has fewer) among those with
    at least ``min_points`` points, drawn with ``seed``; objects without labels form one class.
    For each object, up to ``max_positions`` target indices evenly spread over
    ``[start, min(n, max_points) - 1]``: every target comes strictly after the first ``start``
    points (so it is predicted from at least ``start`` points), and target and context lie in
    the first ``max_points`` points, so a model limited to ``max_points`` sees the whole context
    without subsampling.

    Parameters
    ----------
    packed : the candidate objects (points time-sorted within each object)
    per_class, min_points, max_positions, start, seed : see above; ``min_points > start >= 1``
    max_points : longest light curve the compared models take (ATCAT: 256)

    Returns
    -------
    dict ``object index in packed -> (n_k,) int64 point indices`` (within the object), sorted
    by object index
    """
    for name, value in [
        ("per_class", per_class),
        ("max_positions", max_positions),
        ("start", start),
    ]:
        _check_positive_int(name, value)
    _check_positive_int("min_points", min_points, start + 1)
    _check_positive_int("max_points", max_points, start + 1)
    rng = np.random.default_rng(seed)
    lengths = packed.lengths
    labels = np.zeros(len(packed), dtype=str) if packed.label is None else packed.label.astype(str)
    eligible = lengths >= min_points
    chosen: list[int] = []
    for name in np.unique(labels[eligible]):
        members = np.flatnonzero(eligible & (labels == name))
        chosen.extend(rng.choice(members, size=min(per_class, len(members)), replace=False))
    positions = {}
    for k in sorted(chosen):
        last = min(int(lengths[k]), max_points) - 1
        count = min(max_positions, last - start + 1)
        positions[int(k)] = np.unique(np.round(np.linspace(start, last, count)).astype(np.int64))
    return positions


def _kernel(flux: np.ndarray, flux_err: np.ndarray) -> ConstantKernel:
    """Avocado's starting kernel: amplitude from the highest-S/N point, 20-day time scale."""
    floor = 1e-2 * np.max(flux)
    scale = max(float(np.abs(flux[np.argmax(np.abs(flux) / np.hypot(flux_err, floor))])), 1e-6)
    amplitude = (0.5 * scale) ** 2
    spread = np.exp(AMPLITUDE_LOG_RANGE)
    return ConstantKernel(amplitude, (amplitude / spread, amplitude * spread)) * Matern(
        length_scale=[TIME_SCALE_GUESS, WAVELENGTH_SCALE],
        # equal bounds pin the wavelength scale while the time scale is fitted
        length_scale_bounds=[TIME_SCALE_BOUNDS, (WAVELENGTH_SCALE, WAVELENGTH_SCALE)],
        nu=1.5,
    )


def predict_next(
    time: np.ndarray, wavelength: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, k: int
) -> tuple[float, float]:
    """Mean and variance of point ``k``'s flux from a GP fitted on points ``0..k-1``.

    The variance includes the target's own measurement error ``flux_err[k]²``.
    """
    x = np.column_stack([time - time[0], wavelength]).astype(np.float64)  # (n, 2)
    flux, flux_err = flux.astype(np.float64), flux_err.astype(np.float64)
    gp = GaussianProcessRegressor(
        _kernel(flux[:k], flux_err[:k]), alpha=flux_err[:k] ** 2, n_restarts_optimizer=0
    )
    with warnings.catch_warnings():
        # the pinned wavelength scale always sits "at its bound"; sklearn warns about it
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x[:k], flux[:k])
    mean, std = gp.predict(x[k : k + 1], return_std=True)
    return float(mean[0]), float(std[0] ** 2 + flux_err[k] ** 2)


def gaussian_nll(value: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Negative natural log-likelihood of ``value`` under N(mean, var), elementwise."""
    return 0.5 * (np.log(2.0 * np.pi * var) + (value - mean) ** 2 / var)


def object_next_point_nll(
    time: np.ndarray,
    wavelength: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray,
    positions: np.ndarray,
) -> np.ndarray:
    """NLL of each target of ``positions`` for one object's points, (n_k,) float64."""
    predicted = np.array(
        [predict_next(time, wavelength, flux, flux_err, int(k)) for k in positions]
    )
    return gaussian_nll(flux[positions].astype(np.float64), predicted[:, 0], predicted[:, 1])


def next_point_nll(
    packed: PackedLightCurves, positions: dict[int, np.ndarray], *, n_jobs: int = 2
) -> dict[int, np.ndarray]:
    """GP next-point NLL of every target of ``positions``, in processes over objects.

    Returns a dict with the keys of ``positions``, each an (n_k,) array aligned with its
    positions, so another model's scores on the same points can be compared point by point.
    """
    for k, points in positions.items():
        n = int(packed.lengths[k])
        if len(points) and (points.min() < 1 or points.max() >= n):
            msg = f"positions of object {k} must lie in 1..{n - 1}; got {points.tolist()}"
            raise InvalidValueError(msg)

    def arrays(k: int) -> tuple[np.ndarray, ...]:
        sl = packed.slice_points(k)
        return packed.time[sl], packed.wavelength[sl], packed.flux[sl], packed.flux_err[sl]

    keys = list(positions)
    scores = Parallel(n_jobs=n_jobs)(
        delayed(object_next_point_nll)(*arrays(k), positions[k]) for k in keys
    )
    return dict(zip(keys, scores, strict=True))


def _summary(values: np.ndarray) -> dict:
    return {"nll_mean": float(np.mean(values)), "nll_median": float(np.median(values))}


def run_gp_baseline(
    table_path: str | Path,
    folds_path: str | Path,
    *,
    fold: int = EVAL_FOLD,
    per_class: int = 16,
    max_positions: int = 20,
    seed: int = 0,
    n_jobs: int = 2,
) -> dict:
    """Score the GP next-point predictor on the :func:`next_point_positions` of ``fold``.

    Returns
    -------
    dict with ``nll_mean``, ``nll_median`` (per point, FLUXCAL, natural log), ``per_class``
    (the same plus ``n_objects``, ``n_points``), ``n_objects``, ``n_points``, ``time_s`` and
    the settings
    """
    started = perf_counter()
    packed, folds = load_split(table_path, folds_path)
    if not (folds == fold).any():
        msg = f"fold={fold!r} holds no object; folds present: {sorted(set(folds.tolist()))}"
        raise InvalidValueError(msg)
    packed = packed.subset(np.flatnonzero(folds == fold))
    positions = next_point_positions(
        packed, per_class=per_class, max_positions=max_positions, seed=seed
    )
    scores = next_point_nll(packed, positions, n_jobs=n_jobs)
    labels = packed.label.astype(str)
    per_class_scores: dict[str, list[np.ndarray]] = {}
    for k, values in scores.items():
        per_class_scores.setdefault(labels[k], []).append(values)
    every = np.concatenate(list(scores.values()))
    return {
        "model": "gp_matern32_time_wavelength",
        "fold": fold,
        **_summary(every),
        "per_class": {
            name: {
                "n_objects": len(parts),
                "n_points": int(sum(map(len, parts))),
                **_summary(np.concatenate(parts)),
            }
            for name, parts in sorted(per_class_scores.items())
        },
        "n_objects": len(scores),
        "n_points": len(every),
        "time_s": round(perf_counter() - started, 2),
        "settings": {
            "per_class": per_class,
            "max_positions": max_positions,
            "seed": seed,
            "wavelength_scale": WAVELENGTH_SCALE,
            "time_scale_bounds": list(TIME_SCALE_BOUNDS),
            "max_points": MAX_MODEL_POINTS,
        },
    }
