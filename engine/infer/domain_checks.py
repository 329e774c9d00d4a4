"""Input checks of a domain reference: whether a light curve looks like the training ones.

The limits are fitted from the reference light curves (the model's training objects, and any
augmented copies of them added to the reference), so they widen by themselves when training
widens. Each failed check gives a short plain sentence; an object failing any check is out of
domain whatever its embedding looks like (:mod:`engine.infer.domain`).

==============  ===========================================================================
check           fails when
==============  ===========================================================================
wavelength      a band lies outside the reference's wavelength range, widened by the
                training redshift augmentation (wavelengths times ``1 + z``; ATCAT's default
                z is clipped at -0.1 below and has sigma 0.1, so ``(-0.1, 0.3)``, 3 sigma
                above, covers what training showed the model)
points          fewer than ``min_points`` points (3: a shape needs three)
bands           fewer distinct bands than every reference light curve had
span            time span longer than ``factor`` x the reference's ``quantile`` span
cadence         median gap between consecutive points wider than ``factor`` x the
                reference's ``quantile`` median gap
==============  ===========================================================================

Short spans and dense cadences are not checks: a causal model is trained on every prefix of
its light curves, and deep-drilling fields have gaps of minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from engine.errors import InvalidValueError

#: redshift range ``(z_low, z_high)`` of the wavelength margin (see the module docstring)
WAVELENGTH_MARGIN = (-0.1, 0.3)
MIN_POINTS = 3
LIMIT_QUANTILE = 0.995
LIMIT_FACTOR = 1.5


@dataclass(frozen=True)
class InputLimits:
    """Limits an input light curve must keep to, fitted by :func:`fit_input_limits`.

    Attributes
    ----------
    wavelength_min, wavelength_max : band wavelengths accepted, Å (with the redshift margin)
    min_points : fewest points
    min_bands : fewest distinct bands (wavelengths)
    max_span : longest time span, days
    max_median_gap : widest median gap between consecutive points, days
    """

    wavelength_min: float
    wavelength_max: float
    min_points: int
    min_bands: int
    max_span: float
    max_median_gap: float

    def to_dict(self) -> dict:
        """JSON-ready form, read back by :meth:`from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> InputLimits:
        """Inverse of :meth:`to_dict`."""
        return cls(**values)

    def reasons(self, table: pl.DataFrame) -> pl.Series:
        """One String per object of ``table``: the failed checks as sentences, or ``""``."""
        stats = _object_stats(table).with_columns(_band_list(table, self))
        return stats.select(
            pl.concat_str(
                [
                    pl.when(pl.col("outside") != "").then(
                        pl.format(
                            "bands outside the trained wavelengths {}-{} Å: {}",
                            pl.lit(round(self.wavelength_min)),
                            pl.lit(round(self.wavelength_max)),
                            "outside",
                        )
                    ),
                    pl.when(pl.col("n_points") < self.min_points).then(
                        pl.format(
                            "only {} points (the model needs at least {})",
                            "n_points",
                            pl.lit(self.min_points),
                        )
                    ),
                    pl.when(pl.col("n_bands") < self.min_bands).then(
                        pl.format(
                            "only {} bands (every training light curve had at least {})",
                            "n_bands",
                            pl.lit(self.min_bands),
                        )
                    ),
                    pl.when(pl.col("span") > self.max_span).then(
                        pl.format(
                            "time span {} days, longer than the training light curves "
                            "(limit {} days)",
                            pl.col("span").round(0).cast(pl.Int64),
                            pl.lit(round(self.max_span)),
                        )
                    ),
                    pl.when(pl.col("median_gap") > self.max_median_gap).then(
                        pl.format(
                            "median gap between points {} days, sparser than the training "
                            "light curves (limit {} days)",
                            pl.col("median_gap").round(1),
                            pl.lit(round(self.max_median_gap, 1)),
                        )
                    ),
                ],
                separator="; ",
                ignore_nulls=True,
            )
            .fill_null("")
            .alias("reason")
        )["reason"]


def fit_input_limits(
    table: pl.DataFrame,
    *,
    wavelength_margin: tuple[float, float] = WAVELENGTH_MARGIN,
    min_points: int = MIN_POINTS,
    quantile: float = LIMIT_QUANTILE,
    factor: float = LIMIT_FACTOR,
) -> InputLimits:
    """Fit :class:`InputLimits` to the reference light curves ``table`` (a canonical table).

    Parameters
    ----------
    table : the reference objects' light curves
    wavelength_margin : ``(z_low, z_high)``: accepted wavelengths are the reference's range
        times ``1 + z_low`` and ``1 + z_high`` (see the module docstring)
    min_points : fewest points an input needs
    quantile, factor : span and median gap limits are ``factor`` x their ``quantile`` in the
        reference (so a few odd reference curves do not set them)
    """
    low, high = wavelength_margin
    if not -1.0 < low <= 0.0 <= high:
        msg = (
            "wavelength_margin must be (z_low, z_high) with -1 < z_low <= 0 <= z_high, "
            f"got {wavelength_margin}"
        )
        raise InvalidValueError(msg)
    if not 0.0 < quantile <= 1.0 or not factor >= 1.0:
        msg = f"quantile must be in (0, 1] and factor >= 1, got {quantile} and {factor}"
        raise InvalidValueError(msg)
    if table.height == 0:
        msg = "cannot fit input limits to a table of 0 reference light curves"
        raise InvalidValueError(msg)
    stats = _object_stats(table)
    return InputLimits(
        wavelength_min=float(stats["wavelength_min"].min()) * (1.0 + low),
        wavelength_max=float(stats["wavelength_max"].max()) * (1.0 + high),
        min_points=int(min_points),
        min_bands=int(stats["n_bands"].min()),
        max_span=factor * float(np.quantile(stats["span"].to_numpy(), quantile)),
        max_median_gap=factor
        * float(np.nanquantile(stats["median_gap"].to_numpy().astype(float), quantile)),
    )


def _object_stats(table: pl.DataFrame) -> pl.DataFrame:
    """Points, bands, span, median gap and wavelength range of every object, in table order."""
    time = pl.col("time")
    return table.select(
        time.list.len().alias("n_points"),
        pl.col("wavelength").list.n_unique().alias("n_bands"),
        (time.list.max() - time.list.min()).alias("span"),
        time.list.diff().list.median().alias("median_gap"),
        pl.col("wavelength").list.min().alias("wavelength_min"),
        pl.col("wavelength").list.max().alias("wavelength_max"),
    )


def _band_list(table: pl.DataFrame, limits: InputLimits) -> pl.Series:
    """Bands of each object outside the accepted wavelengths, e.g. ``"w (20000 Å)"``, or ``""``."""
    wavelength = pl.col("wavelength")
    outside = (
        table.select("band", "wavelength")
        .with_row_index("row")
        .explode("band", "wavelength")
        .filter((wavelength < limits.wavelength_min) | (wavelength > limits.wavelength_max))
        .unique(["row", "band"], maintain_order=True)
        .group_by("row", maintain_order=True)
        .agg(pl.format("{} ({} Å)", "band", wavelength.round(0).cast(pl.Int64)).str.join(", "))
    )
    rows = pl.DataFrame({"row": np.arange(table.height, dtype=np.uint32)})
    joined = rows.join(outside, on="row", how="left", maintain_order="left")
    return joined["band"].fill_null("").alias("outside")
