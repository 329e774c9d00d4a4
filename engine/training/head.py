"""A small classifier head fitted on frozen embeddings from a user's own labels.

:func:`fit_head` fits a logistic regression or a one-hidden-layer MLP (scikit-learn, classes
weighted by inverse frequency) on standardised embeddings. Its honesty is measured before use:
stratified k-fold cross-validation gives out-of-fold logits for every labelled object, from
which come the per-class F1 and the reliability diagram, and on which the temperature is
fitted (:class:`~engine.evaluation.calibration.TemperatureScaler`: no object scores itself).
The head used afterwards is refitted on all labels and divides its logits by that temperature.

:class:`EmbeddingHead` holds only arrays (scaler, layer weights, classes, temperature) and
predicts with NumPy, so saving it as safetensors + JSON (:meth:`EmbeddingHead.save`, no
pickle) and loading it rebuild exactly the same predictor.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import polars as pl
from numpy.typing import ArrayLike
from safetensors.numpy import load_file, save_file
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from engine.errors import InputError, InvalidValueError
from engine.evaluation.calibration import TemperatureScaler, reliability_diagram
from engine.evaluation.metrics import classification_report

HeadKind = Literal["logistic", "mlp"]
#: fewest labelled objects per class, and fewest classes, a head is fitted from
MIN_PER_CLASS = 2
MIN_CLASSES = 2
WEIGHTS_FILE = "head.safetensors"
CONFIG_FILE = "head.json"
FORMAT_VERSION = 1


class TooFewLabelsError(InputError):
    """The labels cannot train a classifier: too few classes or too few objects of a class."""


@dataclass(frozen=True)
class HeadSettings:
    """How a head is fitted: its kind, regularisation and the cross-validation folds."""

    kind: HeadKind = "logistic"
    #: inverse L2 strength of the logistic regression
    c: float = 1.0
    #: hidden units and L2 penalty of the MLP
    hidden: int = 64
    alpha: float = 1e-3
    max_iter: int = 2000
    #: cross-validation folds (fewer when the smallest class has fewer objects)
    n_splits: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in get_args(HeadKind):
            msg = f"head kind must be one of {get_args(HeadKind)}; got {self.kind!r}"
            raise InvalidValueError(msg)
        if self.n_splits < 2 or self.hidden < 1 or self.c <= 0 or self.alpha < 0:
            msg = f"invalid head settings {self}: need n_splits >= 2, hidden >= 1, c > 0"
            raise InvalidValueError(msg)


def check_labels(labels: ArrayLike) -> tuple[list[str], np.ndarray]:
    """Sorted class names and each label's code; :class:`TooFewLabelsError` if too few."""
    labels = np.asarray(labels).astype(str)
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) < MIN_CLASSES:
        found = f"only {str(classes[0])!r}" if len(classes) else "none"
        msg = (
            f"a classifier needs labels of at least {MIN_CLASSES} classes; found {found} "
            f"({len(labels)} labelled object(s))"
        )
        raise TooFewLabelsError(msg)
    few = [f"{name} ({n})" for name, n in zip(classes, counts, strict=True) if n < MIN_PER_CLASS]
    if few:
        msg = (
            f"every class needs at least {MIN_PER_CLASS} labelled objects; too few: "
            f"{', '.join(few)}. Label more of them or leave them out"
        )
        raise TooFewLabelsError(msg)
    return classes.tolist(), codes


@dataclass(frozen=True, eq=False)
class EmbeddingHead:
    """A fitted head: standardisation, dense layers (ReLU between) and a temperature.

    ``weights[i]`` is (in, out) and ``biases[i]`` (out,); the last layer gives one logit per
    class. ``report`` holds the cross-validated scores of :func:`fit_head`; ``source`` how to
    find the embedding model again (a catalogue's manifest entry: ``source``, ``sha256``).
    """

    model: str
    classes: tuple[str, ...]
    kind: HeadKind
    mean: np.ndarray
    scale: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    temperature: float = 1.0
    report: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """Width of the embeddings the head reads."""
        return len(self.mean)

    def logits(self, embeddings: ArrayLike) -> np.ndarray:
        """Uncalibrated class logits (N, C) of embeddings (N, d)."""
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            msg = (
                f"the head of model {self.model!r} reads {self.dim}-wide embeddings; got "
                f"shape {x.shape} (embeddings of another model?)"
            )
            raise InvalidValueError(msg)
        h = (x - self.mean) / self.scale
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if layer < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h

    def probabilities(self, embeddings: ArrayLike) -> np.ndarray:
        """Calibrated class probabilities (N, C): softmax of logits / temperature."""
        return softmax(self.logits(embeddings) / self.temperature, axis=1)

    def predict_frame(self, object_ids: Sequence[str], embeddings: ArrayLike) -> pl.DataFrame:
        """``object_id, pred_class, confidence, p_<class>...`` as ``catscope score`` writes."""
        p = self.probabilities(embeddings)
        return pl.DataFrame(
            {
                "object_id": pl.Series(list(object_ids), dtype=pl.String),
                "pred_class": np.asarray(self.classes)[p.argmax(axis=1)],
                "confidence": p.max(axis=1),
                **{f"p_{name}": p[:, k] for k, name in enumerate(self.classes)},
            }
        )

    def save(self, folder: str | Path) -> Path:
        """Write ``head.safetensors`` (arrays) and ``head.json`` (the rest) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"mean": self.mean, "scale": self.scale}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            tensors[f"weight.{i}"], tensors[f"bias.{i}"] = w, b
        arrays = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in tensors.items()}
        save_file(arrays, str(folder / WEIGHTS_FILE))
        config = {
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "classes": list(self.classes),
            "kind": self.kind,
            "n_layers": len(self.weights),
            "temperature": self.temperature,
            "source": self.source,
            "report": self.report,
        }
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> EmbeddingHead:
        """Read a head written by :meth:`save`."""
        folder = Path(folder)
        if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
            msg = (
                f"{folder}: not a classifier head (needs {CONFIG_FILE} and {WEIGHTS_FILE}; "
                "write one with 'catscope adapt')"
            )
            raise InputError(msg)
        config = json.loads((folder / CONFIG_FILE).read_text())
        tensors = load_file(str(folder / WEIGHTS_FILE))
        layers = range(config["n_layers"])
        return cls(
            model=config["model"],
            classes=tuple(config["classes"]),
            kind=config["kind"],
            mean=tensors["mean"],
            scale=tensors["scale"],
            weights=tuple(tensors[f"weight.{i}"] for i in layers),
            biases=tuple(tensors[f"bias.{i}"] for i in layers),
            temperature=float(config["temperature"]),
            report=config.get("report", {}),
            source=config.get("source", {}),
        )


def _layers(estimator, n_classes: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Dense layers of a fitted scikit-learn classifier, the last one giving C logits.

    A two-class scikit-learn model has one output z (the log-odds of class 1); the logits
    ``(0, z)`` give the same probabilities.
    """
    if isinstance(estimator, LogisticRegression):
        weights, biases = [estimator.coef_.T], [estimator.intercept_]
    else:
        weights, biases = list(estimator.coefs_), list(estimator.intercepts_)
    if n_classes == 2 and weights[-1].shape[1] == 1:
        weights[-1] = np.hstack([np.zeros_like(weights[-1]), weights[-1]])
        biases[-1] = np.concatenate([[0.0], biases[-1]])
    return tuple(w.astype(np.float64) for w in weights), tuple(b.astype(np.float64) for b in biases)


def _fit_head(
    x: np.ndarray, codes: np.ndarray, classes: list[str], model: str, settings: HeadSettings
) -> EmbeddingHead:
    """Fit one head on all of ``x`` (temperature 1)."""
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    if settings.kind == "logistic":
        estimator = LogisticRegression(
            C=settings.c, class_weight="balanced", max_iter=settings.max_iter,
            random_state=settings.seed,
        )  # fmt: skip
        estimator.fit(z, codes)
    else:
        estimator = MLPClassifier(
            hidden_layer_sizes=(settings.hidden,), alpha=settings.alpha,
            max_iter=settings.max_iter, random_state=settings.seed,
        )  # fmt: skip
        estimator.fit(z, codes, sample_weight=compute_sample_weight("balanced", codes))
    weights, biases = _layers(estimator, len(classes))
    return EmbeddingHead(
        model=model,
        classes=tuple(classes),
        kind=settings.kind,
        mean=scaler.mean_.astype(np.float64),
        scale=scaler.scale_.astype(np.float64),
        weights=weights,
        biases=biases,
    )


def _reliability(probabilities: np.ndarray, codes: np.ndarray) -> dict:
    return {"reliability": reliability_diagram(probabilities, codes)}


def fit_head(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    model: str,
    settings: HeadSettings | None = None,
    calibrate: bool = True,
) -> EmbeddingHead:
    """Fit a head on ``embeddings`` (N, d) for ``labels`` (N,) of ``model``'s embeddings.

    With ``calibrate`` (the default) the head carries a cross-validated ``report``
    (``classification``: per-class F1 of the out-of-fold predictions; ``calibration``:
    ``before`` / ``after`` reliability bins; ``n_splits``, ``settings``) and the temperature
    fitted on the out-of-fold logits. Without it, one fit and temperature 1 (benchmarks that
    only read the argmax).
    """
    settings = settings or HeadSettings()
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(np.asarray(labels)) or not np.isfinite(x).all():
        msg = f"need finite (N, d) embeddings and N labels; got {x.shape} and {np.shape(labels)}"
        raise InvalidValueError(msg)
    classes, codes = check_labels(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        head = _fit_head(x, codes, classes, model, settings)
        if not calibrate:
            return head
        n_splits = int(min(settings.n_splits, np.bincount(codes).min()))
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=settings.seed)
        oof = np.zeros((len(x), len(classes)))
        for train, test in folds.split(x, codes):
            oof[test] = _fit_head(x[train], codes[train], classes, model, settings).logits(x[test])
        scaler = TemperatureScaler(unsure_column="none").fit(oof, codes)
    temperature = float(scaler.temperature_)
    report = {
        "n_objects": len(x),
        "n_splits": n_splits,
        "settings": asdict(settings),
        "classification": classification_report(codes, oof.argmax(axis=1), classes),
        "calibration": {
            "temperature": temperature,
            "before": _reliability(softmax(oof, axis=1), codes),
            "after": _reliability(softmax(oof / temperature, axis=1), codes),
        },
    }
    return EmbeddingHead(**{**head.__dict__, "temperature": temperature, "report": report})
