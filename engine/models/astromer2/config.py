"""Every hyperparameter of an Astromer 2 model, in one dataclass a checkpoint stores as JSON."""

from __future__ import annotations

from dataclasses import dataclass

from engine.models.hyperparameters import ModelConfig


@dataclass(frozen=True)
class Astromer2Config(ModelConfig):
    """Hyperparameters of :class:`engine.models.astromer2.model.Astromer2`.

    The paper's model has 6 blocks of 4 heads of 64 (d = 256); the default here is the small
    version that trains on a CPU (4 blocks, d = 128).

    Attributes
    ----------
    d_model : width of the residual stream (even: the time features come in sin/cos pairs)
    n_layers : number of transformer blocks
    n_heads, head_dim : attention heads and their width
    ffn_mult : hidden width of the feed-forward network as a multiple of ``d_model``
    window : most points of one single-band window (the paper's 200); longer bands are cut into
        balanced consecutive windows
    max_points : longest multi-band light curve accepted (collate subsamples longer ones evenly)
    t_max, time_exponent_range : the ATCAT time embedding's longest time scale in days and the
        exponent range of its frequencies (see :mod:`engine.models.atcat.encoding`)
    wavelength_range : (bluest, reddest) wavelength in Ångström mapped to [-1, 1] when the band
        embeddings are combined (see :mod:`engine.models.astromer2.model`)
    dropout : dropout rate on the input embedding and after attention and FFN
    """

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    head_dim: int = 32
    ffn_mult: int = 2
    window: int = 200
    max_points: int = 1024
    t_max: float = 1500.0
    time_exponent_range: tuple[float, float] = (-0.1, 1.0)
    wavelength_range: tuple[float, float] = (3671.0, 9710.0)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        self._as_tuples(("time_exponent_range", "wavelength_range"), float)
        self._check_positive_ints(
            "d_model", "n_layers", "n_heads", "head_dim", "ffn_mult", "window", "max_points"
        )
        self._check_even("d_model")
        if self.window < 2:
            msg = f"window must hold at least 2 points (one probed, one seen), got {self.window}"
            raise ValueError(msg)
        self._check_time_features()
        self._check_wavelength_range()
        self._check_fraction("dropout")

    @property
    def embedding_dim(self) -> int:
        """Width of an object's embedding: band mean and wavelength moment, ``2 * d_model``."""
        return 2 * self.d_model
