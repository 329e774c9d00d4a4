"""JSON round trip and common checks shared by the model config dataclasses of the new families.

A family's config is a frozen dataclass that a checkpoint stores as JSON (see
:mod:`engine.models.checkpoint`). JSON turns tuples into lists, so :meth:`ModelConfig.from_dict`
and ``__post_init__`` bring them back as tuples and configs compare equal after a round trip.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any, Self


class ModelConfig:
    """Mixin of frozen config dataclasses: ``to_dict``/``from_dict`` and argument checks."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """Rebuild a config from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            msg = f"unknown {cls.__name__} keys {unknown}; allowed keys are {sorted(known)}"
            raise ValueError(msg)
        return cls(**values)

    def _as_tuples(self, names: tuple[str, ...], kind: type) -> None:
        """Store the list-valued fields ``names`` as tuples of ``kind`` (after JSON)."""
        for name in names:
            object.__setattr__(self, name, tuple(kind(v) for v in getattr(self, name)))

    def _check_positive_ints(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                msg = f"{name} must be a positive integer, got {value!r}"
                raise ValueError(msg)

    def _check_even(self, name: str) -> None:
        value = getattr(self, name)
        if value % 2:
            msg = f"{name} must be even (sin/cos pairs and rotations), got {value}"
            raise ValueError(msg)

    def _check_fraction(self, name: str, *, low: float = 0.0, high: float = 1.0) -> None:
        """``low <= value < high``."""
        value = getattr(self, name)
        if not low <= value < high:
            msg = f"{name} must be in [{low}, {high}), got {value!r}"
            raise ValueError(msg)

    def _check_time_features(self) -> None:
        """``t_max`` and ``time_exponent_range`` as the ATCAT time embedding needs them."""
        t_max = self.t_max
        if not (t_max > 0 and math.isfinite(t_max)):
            msg = f"t_max must be a positive finite number of days, got {t_max}"
            raise ValueError(msg)
        pair = self.time_exponent_range
        if len(pair) != 2 or not pair[0] < pair[1]:
            msg = f"time_exponent_range must be (low, high) with low < high, got {pair}"
            raise ValueError(msg)

    def _check_wavelength_range(self) -> None:
        pair = self.wavelength_range
        if len(pair) != 2 or not 0 < pair[0] < pair[1]:
            msg = f"wavelength_range must be (blue, red) Å with 0 < blue < red, got {pair}"
            raise ValueError(msg)
