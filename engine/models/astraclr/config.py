"""Every hyperparameter of an Astra-CLR model, in one dataclass that a checkpoint stores as JSON."""

from __future__ import annotations

from dataclasses import dataclass

from engine.models.atcat.config import ATCATConfig
from engine.models.hyperparameters import ModelConfig


@dataclass(frozen=True)
class AstraCLRConfig(ModelConfig):
    """Hyperparameters of :class:`engine.models.astraclr.model.AstraCLR`.

    The public Astra-CLR config has 4 layers, d = 512, 8 heads, FFN 2048 and a projection of 256;
    the default here is a CPU-sized version (d = 128, FFN 256, projection 128).

    Attributes
    ----------
    d_model, n_layers, n_heads, head_dim, ffn_mult : transformer sizes (as in ATCAT)
    projection_dim : output width of the projection head the contrastive loss reads
    max_points : longest light curve the model accepts (collate subsamples longer ones)
    t_max, time_exponent_range : ATCAT's time embedding (see :mod:`engine.models.atcat.encoding`)
    float_scales : scales of the multi-scale ``tanh(x / s)`` embedders of the *normalised* flux
        and flux_err (in units of the light curve's own scale, see
        :func:`engine.models.astraclr.model.normalise_flux`), so smaller than ATCAT's FLUXCAL ones
    wavelength_range, wavelength_rotation : ATCAT's wavelength rotation of the time embedding
    dropout : dropout rate on the input embedding and the residual branches
    """

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    head_dim: int = 32
    ffn_mult: int = 2
    projection_dim: int = 128
    max_points: int = 256
    t_max: float = 1500.0
    time_exponent_range: tuple[float, float] = (-0.1, 1.0)
    float_scales: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 100.0)
    wavelength_range: tuple[float, float] = (3671.0, 9710.0)
    wavelength_rotation: float = 5.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        self._as_tuples(("time_exponent_range", "float_scales", "wavelength_range"), float)
        self._check_positive_ints(
            "d_model", "n_layers", "n_heads", "head_dim", "ffn_mult", "projection_dim", "max_points"
        )
        self._check_even("d_model")
        self._check_time_features()
        self._check_wavelength_range()
        if not self.float_scales or any(s <= 0 for s in self.float_scales):
            msg = f"float_scales must be non-empty and positive, got {self.float_scales}"
            raise ValueError(msg)
        if not self.wavelength_rotation > 0:
            msg = f"wavelength_rotation must be positive, got {self.wavelength_rotation}"
            raise ValueError(msg)
        self._check_fraction("dropout")

    @property
    def embedding_dim(self) -> int:
        """Width of the pooled representation (the embedding)."""
        return self.d_model

    def point_encoder_config(self) -> ATCATConfig:
        """Return the ATCAT config fields that ATCAT's ``PointEncoder`` reads."""
        return ATCATConfig(
            d_model=self.d_model,
            t_max=self.t_max,
            time_exponent_range=self.time_exponent_range,
            float_scales=self.float_scales,
            wavelength_range=self.wavelength_range,
            wavelength_rotation=self.wavelength_rotation,
        )
