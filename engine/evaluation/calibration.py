"""Calibration: expected calibration error, reliability-diagram bins and temperature scaling.

How catscope reports class probabilities
----------------------------------------
ATCAT-style classifiers output C class logits plus one extra "unsure" logit, the last column.
catscope reports the softmax over **all C + 1 logits** (divided by the temperature T):
``p_<class>`` are its first C entries and ``p_unsure`` the last. The class probabilities are
**not** renormalised to sum to one; they sum to ``1 - p_unsure``. Why:

- ATCAT's calibration methods (section 2.7 (iii) and (iv)) train the unsure logit to take the
  share of probability the model should not be confident about; renormalising would hand that
  share back to the classes and undo the calibration those models learned.
- ATCAT's reliability diagrams (section 3.4, following Guo et al. 2017) use the top-class score
  of this same softmax as the confidence.

The confidence is ``max_k p_<k>`` and the predicted class its argmax over the C classes (never
"unsure"). The temperature is fitted by the NLL of the true class under this softmax, and the
ECE is computed on exactly these ``p_<class>`` values, so the calibration numbers describe the
probabilities the user sees. A model without an unsure logit uses ``unsure_column="none"``: all
columns are classes and ``p_unsure`` is 0.

Class prior
-----------
A classifier trained on class-balanced batches (ATCAT's sampler) has learnt a uniform class
prior. Where its light curves say little (two bands, a handful of detections) that prior
decides, and it calls a common SN Ia as readily as a rare SN Iax. Given the training class
frequencies ``π``, :meth:`TemperatureScaler.fit` can also fit a weight ``α`` in [0, 1] of the
prior shift ``α (log π_k - mean_j log π_j)`` added to each class logit (not the unsure one)
after the division by T: ``α = 0`` keeps the balanced prior, ``α = 1`` is Bayes' rule for the
training frequencies. T and α are fitted together by the NLL, which is convex in ``(1/T, α)``,
or α is the weight whose predictions have the best macro F1 (``prior_weight_by="macro_f1"``:
the NLL-best α serves common classes at the expense of rare ones' recall) and T the NLL-best
temperature at that α. This shift changes the argmax.
"""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.metrics import f1_score

from engine.errors import CatscopeError, InvalidValueError
from engine.evaluation._checks import check_codes, check_n_bins, check_same_length, json_floats

UnsureColumn = Literal["last", "none"]
#: how :class:`TemperatureScaler` fits the class-prior weight: with T by the NLL (the most
#: probable probabilities), or as the weight whose predictions have the best macro F1
PriorObjective = Literal["nll", "macro_f1"]
#: class-prior weights tried with ``prior_weight_by="macro_f1"``
PRIOR_WEIGHT_GRID = np.linspace(0.0, 1.0, 21)

DEFAULT_N_BINS = 15


class NotFittedError(CatscopeError, _SklearnNotFittedError):
    """An estimator was used before ``fit`` (also a scikit-learn ``NotFittedError``)."""


def _check_unsure_column(unsure_column: str) -> None:
    if unsure_column not in get_args(UnsureColumn):
        msg = f"unsure_column must be one of {get_args(UnsureColumn)}; got {unsure_column!r}"
        raise InvalidValueError(msg)


def _check_logits(logits: ArrayLike, *, unsure_column: UnsureColumn) -> np.ndarray:
    """Finite (N, K) float64 logits with at least two class columns."""
    _check_unsure_column(unsure_column)
    array = np.asarray(logits, dtype=np.float64)
    min_columns = 3 if unsure_column == "last" else 2
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] < min_columns:
        msg = (
            f"logits must be a non-empty 2-D array with at least {min_columns} columns "
            f"(unsure_column={unsure_column!r}); got shape {array.shape}"
        )
        raise InvalidValueError(msg)
    if not np.isfinite(array).all():
        msg = "logits must be finite; got NaN or infinite values"
        raise InvalidValueError(msg)
    return array


def _n_classes(logits: np.ndarray, unsure_column: UnsureColumn) -> int:
    return logits.shape[1] - (1 if unsure_column == "last" else 0)


def softmax_probabilities(logits: ArrayLike, *, temperature: float = 1.0) -> np.ndarray:
    """Softmax of ``logits / temperature`` over all columns, (N, K) float64."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def split_unsure(
    probabilities: ArrayLike, *, unsure_column: UnsureColumn = "last"
) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities ``p_<class>`` (N, C) and unsure share ``p_unsure`` (N,).

    The class probabilities are not renormalised (see the module docstring).
    """
    _check_unsure_column(unsure_column)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if unsure_column == "none":
        return probabilities, np.zeros(len(probabilities))
    return probabilities[:, :-1], probabilities[:, -1]


def _check_class_probabilities(class_probabilities: ArrayLike) -> np.ndarray:
    """(N, C) probabilities in [0, 1] whose rows sum to at most 1."""
    array = np.asarray(class_probabilities, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] < 2:
        msg = f"class_probabilities must be a non-empty (N, C) array, C >= 2; got {array.shape}"
        raise InvalidValueError(msg)
    if not np.isfinite(array).all() or (array < 0).any() or (array.sum(axis=1) > 1 + 1e-6).any():
        msg = (
            "class_probabilities must be finite, non-negative, with rows summing to at most 1 "
            "(pass p_<class> without the unsure column, not logits)"
        )
        raise InvalidValueError(msg)
    return array


def reliability_diagram(
    class_probabilities: ArrayLike, y: ArrayLike, *, n_bins: int = DEFAULT_N_BINS
) -> dict:
    """Reliability-diagram bins of top-class confidence, plus the ECE they give.

    Bins are equal-width on the confidence ``max_k p_k``: bin ``b`` holds confidences in
    ``(edges[b], edges[b + 1]]`` (the first bin also holds 0). Plot ``accuracy`` against
    ``mean_confidence`` (the mean of the binned samples, as in ATCAT section 3.4), not against
    the bin centre.

    Parameters
    ----------
    class_probabilities : (N, C) the ``p_<class>`` values shown to the user
    y : (N,) true class codes in ``[0, C)``
    n_bins : number of equal-width bins on [0, 1]

    Returns
    -------
    dict with ``edges`` (n_bins + 1), and per bin ``count``, ``mean_confidence`` and
    ``accuracy`` (``None`` for empty bins); ``ece`` and ``n_objects``
    """
    probabilities = _check_class_probabilities(class_probabilities)
    y = check_codes(y, probabilities.shape[1], name="y")
    check_same_length(class_probabilities=probabilities, y=y)
    n_bins = check_n_bins(n_bins)

    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # right=True against the inner edges puts x in bin b when edges[b] < x <= edges[b + 1]
    bin_index = np.digitize(confidence, edges[1:-1], right=True)
    count = np.bincount(bin_index, minlength=n_bins)
    confidence_sum = np.bincount(bin_index, weights=confidence, minlength=n_bins)
    correct_sum = np.bincount(bin_index, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = confidence_sum / count
        accuracy = correct_sum / count
    # ECE = sum_b (n_b / N) |acc_b - conf_b| = sum_b |correct_sum_b - confidence_sum_b| / N
    ece = float(np.abs(correct_sum - confidence_sum).sum() / len(y))
    return {
        "n_objects": len(y),
        "ece": ece,
        "edges": edges.tolist(),
        "count": count.tolist(),
        "mean_confidence": json_floats(mean_confidence),
        "accuracy": json_floats(accuracy),
    }


def expected_calibration_error(
    class_probabilities: ArrayLike, y: ArrayLike, *, n_bins: int = DEFAULT_N_BINS
) -> float:
    """Compute the expected calibration error of top-class confidence (Guo et al. 2017).

    See :func:`reliability_diagram` for the arguments and the binning.
    """
    return reliability_diagram(class_probabilities, y, n_bins=n_bins)["ece"]


def _mean_nll(
    logits: np.ndarray, y: np.ndarray, temperature: float, offset: np.ndarray | float = 0.0
) -> float:
    """Mean negative log-likelihood of the true class under softmax(logits / T + offset)."""
    log_probabilities = log_softmax(logits / temperature + offset, axis=1)
    return float(-log_probabilities[np.arange(len(y)), y].mean())


def _centred_log_prior(class_prior: ArrayLike, n_classes: int) -> np.ndarray:
    """``log π - mean(log π)`` of positive class frequencies ``π`` (C,), normalised to sum 1."""
    prior = np.asarray(class_prior, dtype=np.float64)
    if prior.shape != (n_classes,) or not np.isfinite(prior).all() or (prior <= 0).any():
        msg = f"class_prior must hold {n_classes} positive finite class frequencies; got {prior!r}"
        raise InvalidValueError(msg)
    log_prior = np.log(prior / prior.sum())
    return log_prior - log_prior.mean()


class TemperatureScaler(BaseEstimator):
    """Post-hoc temperature scaling (Guo et al. 2017) of classifier logits.

    Divides all logits, the unsure one included, by one temperature T fitted to minimise the
    NLL of held-out labels; T > 1 softens an overconfident model. Alone it keeps the argmax,
    hence accuracy and F1. Given the training ``class_prior``, :meth:`fit` also fits the
    weight of a class-prior shift, which does change the argmax (module docstring). See the
    module docstring for how probabilities are reported.

    Parameters
    ----------
    unsure_column : "last" if the last logit column is ATCAT's "unsure" output, else "none"
    min_temperature, max_temperature : search range of T (searched on log T)
    prior_weight_by : with a ``class_prior``, fit its weight α with T by the NLL (``"nll"``),
        or take the α of :data:`PRIOR_WEIGHT_GRID` whose predictions have the best macro F1
        and fit T by the NLL at that α (``"macro_f1"``: for a model judged by macro F1)

    Attributes
    ----------
    temperature_ : fitted temperature T
    n_classes_ : number of classes C (the unsure column not counted)
    prior_weight_ : fitted weight α of the class-prior shift (0 when fitted without a prior)
    log_prior_ : (C,) centred log class prior (zeros when fitted without one)
    nll_before_, nll_after_ : mean NLL of the fit labels at T = 1 and after calibration
    """

    def __init__(
        self,
        *,
        unsure_column: UnsureColumn = "last",
        min_temperature: float = 0.05,
        max_temperature: float = 20.0,
        prior_weight_by: PriorObjective = "nll",
    ) -> None:
        self.unsure_column = unsure_column
        self.min_temperature = min_temperature
        self.max_temperature = max_temperature
        self.prior_weight_by = prior_weight_by

    def _validate_parameters(self) -> None:
        _check_unsure_column(self.unsure_column)
        low, high = self.min_temperature, self.max_temperature
        numbers = all(isinstance(v, Real) and not isinstance(v, bool) for v in (low, high))
        if not (numbers and np.isfinite(low) and np.isfinite(high) and 0 < low < high):
            msg = (
                "need 0 < min_temperature < max_temperature, both finite; "
                f"got min_temperature={low!r}, max_temperature={high!r}"
            )
            raise InvalidValueError(msg)
        if self.prior_weight_by not in get_args(PriorObjective):
            msg = (
                f"prior_weight_by must be one of {get_args(PriorObjective)}; "
                f"got {self.prior_weight_by!r}"
            )
            raise InvalidValueError(msg)

    def fit(
        self, logits: ArrayLike, y: ArrayLike, *, class_prior: ArrayLike | None = None
    ) -> TemperatureScaler:
        """Find the temperature (and prior weight) that calibrate ``logits`` for ``y``.

        Parameters
        ----------
        logits : (N, K) logits; K = C + 1 with unsure_column="last", else K = C
        y : (N,) true class codes in ``[0, C)``; fit on data the classifier was not trained on
        class_prior : (C,) class frequencies of the training set; when given, the weight of the
            class-prior shift is fitted too (module docstring)

        Returns
        -------
        self
        """
        self._validate_parameters()
        logits = _check_logits(logits, unsure_column=self.unsure_column)
        n_classes = _n_classes(logits, self.unsure_column)
        y = check_codes(y, n_classes, name="y")
        check_same_length(logits=logits, y=y)
        self.n_classes_ = n_classes
        self.nll_before_ = _mean_nll(logits, y, 1.0)
        self.log_prior_ = np.zeros(n_classes)
        self.prior_weight_ = 0.0
        if class_prior is not None:
            self.log_prior_ = _centred_log_prior(class_prior, n_classes)
            if self.prior_weight_by == "nll":
                return self._fit_jointly(logits, y)
            self.prior_weight_ = self._best_f1_weight(logits, y)
        offset = self._pad(self.prior_weight_ * self.log_prior_)
        self.temperature_ = self._fit_temperature(logits, y, offset)
        self.nll_after_ = _mean_nll(logits, y, self.temperature_, offset)
        return self

    def _fit_temperature(self, logits: np.ndarray, y: np.ndarray, offset: np.ndarray) -> float:
        """Fit the T minimising the NLL of softmax(logits / T + offset); warn at a bound."""

        # NLL is convex in 1/T, so it has a single minimum along log T: bounded Brent finds it
        def objective(log_t: float) -> float:
            return _mean_nll(logits, y, float(np.exp(log_t)), offset)

        bounds = (np.log(self.min_temperature), np.log(self.max_temperature))
        result = minimize_scalar(
            objective, bounds=bounds, method="bounded", options={"xatol": 1e-6}
        )
        # NLL can be flat to machine precision towards a bound (e.g. labels the logits separate
        # perfectly underflow to NLL 0 as T -> 0); the bound then wins ties
        candidates = [*bounds, float(result.x)]
        log_t = candidates[int(np.argmin([objective(u) for u in candidates]))]
        if min(abs(log_t - bounds[0]), abs(log_t - bounds[1])) < 1e-3:
            reason = (
                "the logits separate the labels perfectly (NLL falls as T -> 0)"
                if abs(log_t - bounds[0]) < 1e-3
                else "the logits carry little information about the labels (T -> infinity)"
            )
            msg = (
                f"the fitted temperature {np.exp(log_t):.4g} is at the edge of "
                f"[{self.min_temperature}, {self.max_temperature}]: {reason}, or the range is "
                "too narrow"
            )
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        return float(np.exp(log_t))

    def _fit_jointly(self, logits: np.ndarray, y: np.ndarray) -> TemperatureScaler:
        """Fit ``(1/T, α)`` by the NLL: convex in them, so L-BFGS-B in a box finds it."""
        direction = self._pad(self.log_prior_)

        def objective(point: np.ndarray) -> float:
            inverse_t, weight = point
            return _mean_nll(logits, y, 1.0 / inverse_t, weight * direction)

        bounds = [(1.0 / self.max_temperature, 1.0 / self.min_temperature), (0.0, 1.0)]
        result = minimize(objective, x0=np.array([1.0, 0.0]), bounds=bounds, method="L-BFGS-B")
        inverse_t, weight = (float(v) for v in result.x)
        self.temperature_ = 1.0 / inverse_t
        self.prior_weight_ = weight
        self.nll_after_ = objective(result.x)
        return self

    def _best_f1_weight(self, logits: np.ndarray, y: np.ndarray) -> float:
        """Pick the α of :data:`PRIOR_WEIGHT_GRID` whose predictions have the best macro F1.

        T is fitted by the NLL at each α (T changes the argmax once there is a prior shift);
        ties go to the smaller weight.
        """
        class_logits = logits[:, : self.n_classes_]
        scores = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for weight in PRIOR_WEIGHT_GRID:
                offset = self._pad(weight * self.log_prior_)
                temperature = self._fit_temperature(logits, y, offset)
                predicted = (class_logits / temperature + offset[: self.n_classes_]).argmax(1)
                scores.append(f1_score(y, predicted, average="macro", labels=np.unique(y)))
        return float(PRIOR_WEIGHT_GRID[int(np.argmax(scores))])

    def _pad(self, class_values: np.ndarray) -> np.ndarray:
        """(C,) per-class values as (K,) columns: 0 for the unsure column."""
        return np.append(class_values, 0.0) if self.unsure_column == "last" else class_values

    @property
    def offset_(self) -> np.ndarray:
        """(K,) shift added to ``logits / T``: the weighted class prior, 0 for "unsure"."""
        self._check_fitted()
        return self._pad(self.prior_weight_ * self.log_prior_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "temperature_"):
            msg = (
                f"this {type(self).__name__} is not fitted yet; call fit(logits, y) or "
                "load one with from_dict() first"
            )
            raise NotFittedError(msg)

    def transform(self, logits: ArrayLike) -> np.ndarray:
        """Calibrated probabilities, softmax(logits / T) over all K columns, (N, K).

        Use :func:`split_unsure` to get ``p_<class>`` and ``p_unsure``.
        """
        self._check_fitted()
        logits = _check_logits(logits, unsure_column=self.unsure_column)
        if _n_classes(logits, self.unsure_column) != self.n_classes_:
            msg = (
                f"logits have {logits.shape[1]} columns but the scaler was fitted with "
                f"{self.n_classes_} classes (unsure_column={self.unsure_column!r})"
            )
            raise InvalidValueError(msg)
        return softmax(logits / self.temperature_ + self.offset_, axis=1)

    def to_dict(self) -> dict:
        """JSON-serialisable parameters and fitted state, for :meth:`from_dict`."""
        self._check_fitted()
        return {
            "kind": type(self).__name__,
            "params": self.get_params(),
            "temperature": self.temperature_,
            "n_classes": self.n_classes_,
            "prior_weight": self.prior_weight_,
            "log_prior": self.log_prior_.tolist(),
            "nll_before": self.nll_before_,
            "nll_after": self.nll_after_,
        }

    @classmethod
    def from_dict(cls, state: dict) -> TemperatureScaler:
        """Rebuild a fitted scaler from the output of :meth:`to_dict`."""
        expected = {"kind", "params", "temperature", "n_classes", "nll_before", "nll_after"}
        prior_keys = {"prior_weight", "log_prior"}  # absent from states written before them
        keys = set(state) if isinstance(state, dict) else set()
        if keys not in (expected, expected | prior_keys) or state["kind"] != cls.__name__:
            msg = (
                f"state must be a dict from {cls.__name__}.to_dict() with keys "
                f"{sorted(expected | prior_keys)}; got {state!r}"
            )
            raise InvalidValueError(msg)
        if set(state["params"]) | {"prior_weight_by"} != set(cls().get_params()):
            msg = (
                f"state['params'] must have the keys {sorted(cls().get_params())}; "
                f"got {sorted(state['params'])}"
            )
            raise InvalidValueError(msg)
        temperature = float(state["temperature"])
        if not (np.isfinite(temperature) and temperature > 0):
            msg = f"state['temperature'] must be finite and positive; got {temperature!r}"
            raise InvalidValueError(msg)
        scaler = cls(**state["params"])
        scaler._validate_parameters()
        scaler.temperature_ = temperature
        scaler.n_classes_ = int(state["n_classes"])
        scaler.prior_weight_ = float(state.get("prior_weight", 0.0))
        scaler.log_prior_ = np.asarray(state.get("log_prior", np.zeros(scaler.n_classes_)), float)
        weight_ok = np.isfinite(scaler.prior_weight_) and 0 <= scaler.prior_weight_ <= 1
        if not weight_ok or scaler.log_prior_.shape != (scaler.n_classes_,):
            msg = (
                "state['prior_weight'] must be in [0, 1] and state['log_prior'] hold "
                f"n_classes={scaler.n_classes_} values; got {state!r}"
            )
            raise InvalidValueError(msg)
        scaler.nll_before_ = float(state["nll_before"])
        scaler.nll_after_ = float(state["nll_after"])
        return scaler


def _probability_summary(
    probabilities: np.ndarray,
    y: np.ndarray,
    *,
    nll: float,
    unsure_column: UnsureColumn,
    n_bins: int,
) -> dict:
    """NLL, mean unsure share and reliability bins of one set of (N, K) probabilities."""
    class_probabilities, unsure = split_unsure(probabilities, unsure_column=unsure_column)
    return {
        "nll": nll,
        "accuracy": float((class_probabilities.argmax(axis=1) == y).mean()),
        "mean_unsure": float(unsure.mean()),
        "reliability": reliability_diagram(class_probabilities, y, n_bins=n_bins),
    }


def calibration_report(
    logits_before: ArrayLike,
    y: ArrayLike,
    scaler: TemperatureScaler,
    *,
    n_bins: int = DEFAULT_N_BINS,
) -> dict:
    """ECE, NLL and reliability bins before (T = 1) and after temperature scaling.

    Parameters
    ----------
    logits_before : (N, K) uncalibrated logits, laid out as for ``scaler``
    y : (N,) true class codes; use objects the scaler was not fitted on for an honest report
    scaler : a fitted :class:`TemperatureScaler`
    n_bins : number of equal-width confidence bins

    Returns
    -------
    dict, JSON-serialisable: ``temperature``, ``prior_weight``, ``unsure_column``,
    ``n_objects``, ``accuracy`` (after calibration; the temperature alone keeps the argmax, the
    prior shift may not) and ``before`` / ``after``, each with ``nll``, ``mean_unsure``,
    ``accuracy`` and ``reliability`` (see :func:`reliability_diagram`; its ``ece`` is the
    headline number)
    """
    after = scaler.transform(logits_before)
    logits = _check_logits(logits_before, unsure_column=scaler.unsure_column)
    y = check_codes(y, scaler.n_classes_, name="y")
    check_same_length(logits_before=logits, y=y)
    options = {"unsure_column": scaler.unsure_column, "n_bins": check_n_bins(n_bins)}
    after_nll = _mean_nll(logits, y, scaler.temperature_, scaler.offset_)
    after_summary = _probability_summary(after, y, nll=after_nll, **options)
    return {
        "temperature": scaler.temperature_,
        "prior_weight": scaler.prior_weight_,
        "unsure_column": scaler.unsure_column,
        "n_objects": len(y),
        "accuracy": after_summary["accuracy"],
        "before": _probability_summary(
            softmax_probabilities(logits), y, nll=_mean_nll(logits, y, 1.0), **options
        ),
        "after": after_summary,
    }
