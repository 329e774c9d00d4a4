"""Every hyperparameter of an ATCAT model, in one dataclass that a checkpoint stores as JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ATCATConfig:
    """Hyperparameters of :class:`engine.models.atcat.model.ATCAT`.

    Defaults follow the ATCAT paper (4 layers, 4 heads of 16 dimensions, FFN of 2·d, local
    windows of 1 and 10 days in the first two layers) with a smaller model dimension (128
    instead of 384) that trains on a CPU.

    Attributes
    ----------
    d_model : width of the residual stream (even: time features and rotations come in pairs)
    n_layers : number of transformer blocks
    n_heads, head_dim : attention heads and their width; the attention works in
        ``n_heads * head_dim`` dimensions (64 by default, as in the paper)
    ffn_mult : hidden width of the feed-forward network as a multiple of ``d_model``
    local_windows : time windows in days of the first ``len(local_windows)`` layers, which only
        attend to points at most that far back in time; the remaining layers are global
    t_max : longest time scale in days of the sin/cos time features (1500 as in ATAT)
    time_exponent_range : (lowest, highest) exponent p_k of the time frequencies
        ``(1 / (10 t_max)) ** p_k``; a negative lowest exponent gives frequencies above 1/day
    float_scales : scales s_k of the multi-scale ``tanh(x / s_k)`` flux and flux_err embedders
    wavelength_range : (bluest, reddest) band wavelength in Ångström mapped to [0, 1]
    wavelength_rotation : a normalised wavelength of 1 becomes this rotary "position"
    class_names : class labels of the classifier head; empty for a generative-only model.
        The head always has one more logit, "unsure", after the classes.
    metadata_names : metadata features of the [META] token, in batch column order; empty means
        the model has no [META] token
    n_mixture : number of fixed Gaussian components of the next-flux distribution
    max_points : longest light curve the model accepts (longer ones are subsampled by collate)
    dropout : dropout rate on the input embedding and the residual branches
    """

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    head_dim: int = 16
    ffn_mult: int = 2
    local_windows: tuple[float, ...] = (1.0, 10.0)
    t_max: float = 1500.0
    time_exponent_range: tuple[float, float] = (-0.1, 1.0)
    float_scales: tuple[float, ...] = (1.0, 10.0, 1000.0, 100000.0)
    wavelength_range: tuple[float, float] = (3671.0, 9710.0)
    wavelength_rotation: float = 5.0
    class_names: tuple[str, ...] = ()
    metadata_names: tuple[str, ...] = ()
    n_mixture: int = 64
    max_points: int = 256
    dropout: float = 0.0

    def __post_init__(self) -> None:
        # JSON turns tuples into lists: store tuples so configs compare equal after a round trip.
        for name in ("local_windows", "time_exponent_range", "float_scales", "wavelength_range"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        for name in ("class_names", "metadata_names"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        self._validate()

    def _validate(self) -> None:
        positive_ints = ("d_model", "n_layers", "n_heads", "head_dim", "ffn_mult", "max_points")
        for name in positive_ints + ("n_mixture",):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                msg = f"{name} must be a positive integer, got {value!r}"
                raise ValueError(msg)
        if self.n_mixture < 2:
            msg = f"n_mixture must be at least 2, got {self.n_mixture}"
            raise ValueError(msg)
        if self.d_model % 2:
            msg = f"d_model must be even (sin/cos pairs and rotations), got {self.d_model}"
            raise ValueError(msg)
        if len(self.local_windows) > self.n_layers:
            msg = (
                f"local_windows has {len(self.local_windows)} entries {self.local_windows} but "
                f"n_layers is {self.n_layers}; give at most one window per layer"
            )
            raise ValueError(msg)
        if any(not (w > 0 and math.isfinite(w)) for w in self.local_windows):
            msg = f"local_windows must be positive finite days, got {self.local_windows}"
            raise ValueError(msg)
        if not (self.t_max > 0 and math.isfinite(self.t_max)):
            msg = f"t_max must be a positive finite number of days, got {self.t_max}"
            raise ValueError(msg)
        low, high = self._pair("time_exponent_range")
        if not low < high:
            msg = f"time_exponent_range must be (low, high) with low < high, got {(low, high)}"
            raise ValueError(msg)
        if not self.float_scales or any(s <= 0 for s in self.float_scales):
            msg = f"float_scales must be non-empty and positive, got {self.float_scales}"
            raise ValueError(msg)
        blue, red = self._pair("wavelength_range")
        if not 0 < blue < red:
            msg = f"wavelength_range must be (blue, red) Å with 0 < blue < red, got {(blue, red)}"
            raise ValueError(msg)
        if not self.wavelength_rotation > 0:
            msg = f"wavelength_rotation must be positive, got {self.wavelength_rotation}"
            raise ValueError(msg)
        for name in ("class_names", "metadata_names"):
            values = getattr(self, name)
            if len(set(values)) != len(values) or any(not v for v in values):
                msg = f"{name} must hold distinct non-empty names, got {values}"
                raise ValueError(msg)
        if not 0.0 <= self.dropout < 1.0:
            msg = f"dropout must be in [0, 1), got {self.dropout}"
            raise ValueError(msg)

    def _pair(self, name: str) -> tuple[float, float]:
        value = getattr(self, name)
        if len(value) != 2:
            msg = f"{name} must hold exactly two numbers, got {value}"
            raise ValueError(msg)
        return value[0], value[1]

    @property
    def n_logits(self) -> int:
        """Width of the classifier output: one logit per class plus the "unsure" logit."""
        return len(self.class_names) + 1

    @property
    def has_metadata(self) -> bool:
        """Whether the sequence starts with a [META] token."""
        return bool(self.metadata_names)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ATCATConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            msg = f"unknown ATCATConfig keys {unknown}; allowed keys are {sorted(known)}"
            raise ValueError(msg)
        return cls(**values)
