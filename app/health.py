"""Model health page: how good and how honest the chosen model is, from its metrics file.

The file is the JSON that ``catscope evaluate --out`` writes (see
:func:`engine.infer.evaluate.evaluate_predictor`), stored in the model folder as
``metrics.json`` for the evaluation fold. Figures are drawn from its ``classification``
(scores, per-class F1, confusion matrix), ``calibration`` (``before`` / ``after`` reliability
bins and ECE) and ``early_detection`` (``by_points``, ``by_days``) sections; a missing
section is skipped.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param

from app import plots
from app.loaders import load_metrics
from app.model_views import message
from app.state import HIDDEN, AppState
from app.text import markdown
from engine.errors import InputError
from engine.models.checkpoint import METRICS_FILE

HEADING = "How good and how honest is the model?"


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _reliability_points(reliability: dict) -> tuple[np.ndarray, np.ndarray]:
    """Mean confidence and accuracy of the non-empty bins."""
    confidence = np.array(
        [np.nan if v is None else v for v in reliability["mean_confidence"]], dtype=float
    )
    accuracy = np.array([np.nan if v is None else v for v in reliability["accuracy"]], dtype=float)
    keep = np.isfinite(confidence) & np.isfinite(accuracy)
    return confidence[keep], accuracy[keep]


def summary_text(metrics: dict) -> str:
    """One line with the headline numbers of ``metrics``."""
    scores = metrics.get("classification", {})
    calibration = metrics.get("calibration", {})
    parts = [
        f"Evaluated on {metrics['n_objects']:,} objects" if "n_objects" in metrics else "Evaluated",
        f"accuracy {_fmt(scores.get('accuracy'))}",
        f"macro F1 {_fmt(scores.get('macro_f1'))}",
        f"class-balanced macro F1 {_fmt(scores.get('class_balanced_macro_f1'))}",
    ]
    parts += [
        f"ECE {when} calibration {_fmt(calibration[when]['reliability']['ece'])}"
        for when in ("before", "after")
        if "reliability" in calibration.get(when, {})
    ]
    if "next_point_nll" in metrics:
        parts.append(f"next-point NLL {_fmt(metrics['next_point_nll'].get('mean'))}")
    return " · ".join(parts)


def figures(metrics: dict) -> list:
    """HoloViews figures for the sections present in ``metrics``."""
    found = []
    calibration = metrics.get("calibration", {})
    curves = {
        f"{when} (ECE {_fmt(calibration[when]['reliability']['ece'])})": _reliability_points(
            calibration[when]["reliability"]
        )
        for when in ("before", "after")
        if "reliability" in calibration.get(when, {})
    }
    if curves:
        found.append(plots.reliability(curves))
    scores = metrics.get("classification", {})
    if "confusion_matrix" in scores:
        matrix = np.asarray(scores["confusion_matrix"]["row_normalised"], dtype=float)
        found.append(plots.confusion(matrix, scores["class_names"]))
    if "per_class" in scores:
        f1 = {r["class"]: r["f1"] for r in scores["per_class"] if r.get("f1") is not None}
        found.append(plots.per_class_f1(f1))
    early = metrics.get("early_detection", {})
    for key, column, label in (
        ("by_points", "n_points", "number of points"),
        ("by_days", "days", "days since the first point"),
    ):
        if key in early:
            found.append(
                plots.score_curve(
                    early[key][column],
                    early[key]["macro_f1"],
                    xlabel=label,
                    title=f"Early detection: macro F1 against {label}",
                )
            )
    return found


class HealthView(pn.viewable.Viewer):
    """Reliability diagram, confusion matrix, per-class F1 and early-detection curves."""

    state = param.ClassSelector(class_=AppState)

    def metrics(self) -> dict | None:
        """Metrics of the chosen model (``None`` without a model or metrics file)."""
        info = self.state.model_info
        return load_metrics(str(info.path)) if info is not None else None

    @param.depends("state.model", "state.page")
    def _view(self) -> pn.viewable.Viewable:
        if not self.state.on_screen("health"):
            return HIDDEN
        if self.state.model_info is None:
            return message(
                "No model loaded: pick a model at the top of the page to see its health."
            )
        if not self.state.can("classify"):
            return message(
                f"Model {markdown(repr(self.state.model))} does not classify, so it has no "
                "reliability diagram, confusion matrix or early-detection curve. Its embeddings "
                "are scored by `catscope evaluate-embeddings` (linear probe and k-NN on fold 0) "
                "and its anomaly scores by `catscope anomaly-benchmark`; the README holds both "
                "tables."
            )
        try:
            metrics = self.metrics()
        except InputError as exc:
            return message(markdown(exc), "danger")
        if metrics is None:
            return message(
                f"Model {markdown(repr(self.state.model))} ships no {METRICS_FILE}; write one "
                "with catscope evaluate --out "
                f"{markdown(self.state.model_info.path / METRICS_FILE)}.",
                "warning",
            )
        found = figures(metrics)
        if not found:
            return message("The metrics file has none of the figures this page draws.", "warning")
        panes = [plots.figure(f) for f in found]
        return pn.Column(
            pn.pane.Markdown(summary_text(metrics)),
            pn.GridBox(*panes, ncols=2, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown(
                f"### {HEADING}\nScores on the model's evaluation fold, never seen in training."
            ),
            pn.panel(self._view, loading_indicator=True, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
