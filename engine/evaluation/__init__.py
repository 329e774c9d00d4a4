"""Model-independent evaluation on NumPy arrays: scores, calibration, early detection, NLL.

Nothing here runs a model: callers pass predicted classes, logits or per-point values, and get
JSON-serialisable dictionaries back (``None`` marks undefined values).
"""

from engine.evaluation._checks import encode_labels
from engine.evaluation.calibration import (
    NotFittedError,
    TemperatureScaler,
    calibration_report,
    expected_calibration_error,
    reliability_diagram,
    softmax_probabilities,
    split_unsure,
)
from engine.evaluation.early import (
    DEFAULT_DAY_CHECKPOINTS,
    DEFAULT_POINT_CHECKPOINTS,
    early_detection_report,
    predictions_after_days,
    predictions_after_points,
)
from engine.evaluation.metrics import (
    MacroF1,
    classification_report,
    inverse_frequency_weights,
    macro_f1_scores,
)
from engine.evaluation.nll import nll_summary
from engine.evaluation.ragged import to_flat

__all__ = [
    "DEFAULT_DAY_CHECKPOINTS",
    "DEFAULT_POINT_CHECKPOINTS",
    "MacroF1",
    "NotFittedError",
    "TemperatureScaler",
    "calibration_report",
    "classification_report",
    "early_detection_report",
    "encode_labels",
    "expected_calibration_error",
    "inverse_frequency_weights",
    "macro_f1_scores",
    "nll_summary",
    "predictions_after_days",
    "predictions_after_points",
    "reliability_diagram",
    "softmax_probabilities",
    "split_unsure",
    "to_flat",
]
