"""Every hyperparameter of an RTF autoencoder, in one dataclass that a checkpoint stores as JSON."""

from __future__ import annotations

from dataclasses import dataclass

from engine.models.hyperparameters import ModelConfig


@dataclass(frozen=True)
class RTFConfig(ModelConfig):
    """Hyperparameters of :class:`engine.models.rtf.model.RTF`.

    Defaults follow RTF's photometry-only autoencoder: encoder of 4 layers, 8 heads, d = 128,
    FFN 512; a 64-float latent (256 bytes); a decoder of 2 layers.

    Attributes
    ----------
    d_model, n_layers, n_heads, head_dim, ffn_mult : encoder sizes (the decoder uses the same
        widths)
    decoder_layers : number of decoder blocks
    latent_dim : width of the bottleneck, the embedding
    max_points : longest light curve the model accepts and reconstructs (collate subsamples
        longer ones); also the number of learned decoder positions
    t_max, time_exponent_range : ATCAT's time embedding (RTF's Time2Vec)
    wavelength_range : (bluest, reddest) wavelength in Ångström mapped to [0, 1] as the band
        channel
    class_names : classes of the optional joint classification head; empty for none
    dropout : dropout rate on the inputs and residual branches
    """

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 8
    head_dim: int = 16
    ffn_mult: int = 4
    decoder_layers: int = 2
    latent_dim: int = 64
    max_points: int = 256
    t_max: float = 1500.0
    time_exponent_range: tuple[float, float] = (-0.1, 1.0)
    wavelength_range: tuple[float, float] = (3671.0, 9710.0)
    class_names: tuple[str, ...] = ()
    dropout: float = 0.0

    def __post_init__(self) -> None:
        self._as_tuples(("time_exponent_range", "wavelength_range"), float)
        self._as_tuples(("class_names",), str)
        self._check_positive_ints(
            "d_model",
            "n_layers",
            "n_heads",
            "head_dim",
            "ffn_mult",
            "decoder_layers",
            "latent_dim",
            "max_points",
        )
        self._check_even("d_model")
        self._check_time_features()
        self._check_wavelength_range()
        if len(set(self.class_names)) != len(self.class_names) or not all(self.class_names):
            msg = f"class_names must hold distinct non-empty names, got {self.class_names}"
            raise ValueError(msg)
        self._check_fraction("dropout")

    @property
    def embedding_dim(self) -> int:
        """Width of the latent vector (the embedding)."""
        return self.latent_dim
