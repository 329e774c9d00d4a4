"""The ``[model]`` and ``[loss]`` config classes of each family a training run can train.

``[loss]`` configs are plain dataclasses (ATCAT's is :class:`engine.training.losses.LossConfig`);
each has a ``classifies`` property that tells the data loader whether labels are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.models.astraclr.config import AstraCLRConfig
from engine.models.astromer2.config import Astromer2Config
from engine.models.atcat.config import ATCATConfig
from engine.models.rtf.config import RTFConfig
from engine.training.losses import LossConfig


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        msg = f"{name} must be a probability in [0, 1], got {value!r}"
        raise ValueError(msg)


def _check_range(name: str, pair: tuple[float, float]) -> None:
    if len(pair) != 2 or not 0.0 < pair[0] <= pair[1] <= 1.0:
        msg = f"{name} must be (low, high) fractions with 0 < low <= high <= 1, got {pair}"
        raise ValueError(msg)


@dataclass(frozen=True)
class MaskedMagnitudeConfig:
    """Astromer 2's masked-magnitude objective (paper sections 2.3 and 3.3).

    Attributes
    ----------
    probe_fraction : fraction of each window's points that are probed (scored by the loss)
    masked_share, random_share : shares of the probed points replaced by [MASK] (and hidden
        from attention) and by the magnitude of another point of the window; the rest of the
        probed points are kept as they are. The paper's 50 % probed = 30 % + 10 % + 10 %.
    error_floor : smallest magnitude error used in the 1/error weights, so a few very precise
        points cannot dominate the loss
    """

    probe_fraction: float = 0.5
    masked_share: float = 0.6
    random_share: float = 0.2
    error_floor: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 < self.probe_fraction < 1.0:
            msg = f"probe_fraction must be in (0, 1), got {self.probe_fraction!r}"
            raise ValueError(msg)
        _check_probability("masked_share", self.masked_share)
        _check_probability("random_share", self.random_share)
        if self.masked_share + self.random_share > 1.0:
            msg = (
                f"masked_share + random_share must be <= 1 (shares of the probed points), got "
                f"{self.masked_share} + {self.random_share}"
            )
            raise ValueError(msg)
        if not self.error_floor > 0:
            msg = f"error_floor must be a positive magnitude, got {self.error_floor!r}"
            raise ValueError(msg)

    @property
    def classifies(self) -> bool:
        """Astromer trains without labels."""
        return False


@dataclass(frozen=True)
class ContrastiveConfig:
    """Astra-CLR's NT-Xent objective over three views of each light curve.

    Attributes
    ----------
    temperature : NT-Xent temperature (0.1 in Astra-CLR)
    anchor_fraction : (low, high) fraction of an object's points in the anchor, a long
        contiguous window
    positive_fraction : (low, high) fraction in the positive, a short contiguous window
    min_points : a window holds at least this many points (all of them for shorter curves)
    noise_scale : the "noisy" hard positive adds Gaussian noise of ``noise_scale * flux_err``
        (and inflates flux_err to match)
    bin_days : the "binned" hard positive averages each band's points within bins of this
        many days (inverse-variance weighted)
    outlier_fraction, outlier_sigma : the "outlier" hard positive moves this fraction of
        points by ``± outlier_sigma * flux_err``
    """

    temperature: float = 0.1
    anchor_fraction: tuple[float, float] = (0.6, 1.0)
    positive_fraction: tuple[float, float] = (0.2, 0.5)
    min_points: int = 5
    noise_scale: float = 1.0
    bin_days: float = 3.0
    outlier_fraction: float = 0.05
    outlier_sigma: float = 10.0

    def __post_init__(self) -> None:
        for name in ("anchor_fraction", "positive_fraction"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
            _check_range(name, getattr(self, name))
        if not self.temperature > 0:
            msg = f"temperature must be positive, got {self.temperature!r}"
            raise ValueError(msg)
        if not isinstance(self.min_points, int) or self.min_points < 1:
            msg = f"min_points must be a positive integer, got {self.min_points!r}"
            raise ValueError(msg)
        _check_probability("outlier_fraction", self.outlier_fraction)
        for name in ("noise_scale", "bin_days", "outlier_sigma"):
            if not getattr(self, name) > 0:
                msg = f"{name} must be positive, got {getattr(self, name)!r}"
                raise ValueError(msg)

    @property
    def classifies(self) -> bool:
        """Astra-CLR trains without labels."""
        return False


@dataclass(frozen=True)
class AutoencoderConfig:
    """RTF's reconstruction objective, with its optional joint classification.

    Attributes
    ----------
    classification : weight of the classification cross-entropy (RTF's ``--cls-weight 0.5``);
        0 trains a plain autoencoder without labels and without a classification head
    wavelength : weight of the wavelength-channel MSE (the band head) next to the MSE of the
        four photometric channels
    truncate_rate : probability that a training light curve is cut to its first ``n`` points,
        ``n ~ U{min(min_points, L), L}`` (RTF's random truncation to [3, L])
    min_points : shortest truncated light curve
    """

    classification: float = 0.5
    wavelength: float = 1.0
    truncate_rate: float = 1.0
    min_points: int = 3

    def __post_init__(self) -> None:
        for name in ("classification", "wavelength"):
            if not getattr(self, name) >= 0.0:
                msg = f"loss weight {name} must be >= 0, got {getattr(self, name)!r}"
                raise ValueError(msg)
        _check_probability("truncate_rate", self.truncate_rate)
        if not isinstance(self.min_points, int) or self.min_points < 1:
            msg = f"min_points must be a positive integer, got {self.min_points!r}"
            raise ValueError(msg)

    @property
    def classifies(self) -> bool:
        """Whether the joint classification head is trained (the run then needs labels)."""
        return self.classification > 0


#: family -> (model config class, [loss] config class)
FAMILY_CONFIGS: dict[str, tuple[type, type]] = {
    "atcat": (ATCATConfig, LossConfig),
    "astromer2": (Astromer2Config, MaskedMagnitudeConfig),
    "astraclr": (AstraCLRConfig, ContrastiveConfig),
    "rtf": (RTFConfig, AutoencoderConfig),
}
