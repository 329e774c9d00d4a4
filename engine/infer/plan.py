"""Where to observe next: the expected information about the class of each candidate observation.

Notation: ``M`` candidate observations (band × time), ``n`` sampled fluxes per candidate, ``C``
classes, ``K`` mixture components, ``d`` model width.

For a candidate (band, time) ATCAT's mixture head gives the distribution of the flux it would
measure, conditioned on the light curve so far (one query after the last hidden state). Each
sampled flux y (a mixture draw plus observational noise of the band's typical error, as in
:meth:`~engine.infer.predictor.Predictor.continue_curve`) is appended and the curve re-classified
with the calibrated probabilities (temperature and class-prior shift); all M·n extensions share
the prefix, so they cost one row per layer each (:mod:`engine.models.atcat.append`).

The expected information is the brief's expected reduction of the class entropy, in bits:
``bits = H[p(c|x)] - E_y H[p(c|x,y)]``, today's entropy minus its expected value after the
observation; validated on fold 0 against the realised reduction (``benchmarks/plan.py``). It
splits into two parts. The mutual information between the outcome and the class under the
sampled joint, ``I = H[E_y p(c|x,y)] - E_y H[p(c|x,y)]`` (the "BALD" form, ``mutual_information``),
is ≥ 0, is 0 when the classifier ignores the flux, and comes from *what* the point shows. The
rest, ``H[p(c|x)] - H[E_y p(c|x,y)]``, is the shift the classifier makes from a point at that
time and band *whatever* it shows (the classifier and the flux head are separate heads, so
today's prediction need not equal the average after the outcome); it can be negative, and so
can ``bits``. Classes are the C real classes renormalised without the "unsure" logit (unsure is
not a class to learn about). Monte-Carlo standard errors: of ``bits``, the standard deviation of
the sampled entropies over √n; of ``I``, the delta-method one (each sample's influence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from engine.data.bands import BandRegistry
from engine.data.batching import collate
from engine.data.packed import PackedLightCurves
from engine.errors import InputError
from engine.infer.predictor import Predictor, band_wavelengths, typical_errors
from engine.models.atcat.append import Prefix, appended_logits, encode_prefix
from engine.models.atcat.mog import unsquash

CHUNK_ROWS = 8192
"""Extensions re-classified per pass: bounds memory to a few MB per layer."""
UNSURE_CONFIDENCE = 0.5
"""``unsure_only`` keeps objects whose most likely class has less than this probability."""


@dataclass(frozen=True)
class PlanSettings:
    """Candidate grid and sampling of :func:`plan_object`.

    Attributes
    ----------
    first_day, last_day, step : candidate times, days after the object's last point
    bands : candidate bands; empty = the object's own bands
    n_samples : sampled fluxes per candidate (the standard error falls as 1/√n_samples)
    seed : random seed of the sampling
    n_outcome_classes : how many most likely classes after the observation to report
    """

    first_day: float = 1.0
    last_day: float = 30.0
    step: float = 1.0
    bands: tuple[str, ...] = ()
    n_samples: int = 32
    seed: int = 0
    n_outcome_classes: int = 2

    def __post_init__(self) -> None:
        if not (0 < self.first_day <= self.last_day) or self.step <= 0:
            msg = (
                "candidate days need 0 < first_day <= last_day and step > 0, got "
                f"first_day={self.first_day}, last_day={self.last_day}, step={self.step}"
            )
            raise InputError(msg)
        if self.n_samples < 2:
            msg = f"n_samples must be at least 2 (a standard error needs two), got {self.n_samples}"
            raise InputError(msg)
        if self.n_outcome_classes < 1:
            msg = f"n_outcome_classes must be at least 1, got {self.n_outcome_classes}"
            raise InputError(msg)

    @property
    def days_ahead(self) -> np.ndarray:
        """Candidate times in days after the last point, (n_times,)."""
        n = int(np.floor((self.last_day - self.first_day) / self.step + 1e-9)) + 1
        return self.first_day + self.step * np.arange(n)


@dataclass(frozen=True)
class Information:
    """Expected information of M candidates (see module doc), in bits, (M,) each.

    ``bits`` and its ``standard_error`` are the expected entropy reduction, ``mutual_information``
    and ``mi_standard_error`` its outcome part; ``flux`` (M, n) holds the sampled outcomes
    (FLUXCAL, as the model reads them) and ``after`` (M, n, C) the class probabilities after each.
    """

    bits: np.ndarray
    standard_error: np.ndarray
    mutual_information: np.ndarray
    mi_standard_error: np.ndarray
    flux: np.ndarray
    after: np.ndarray


@dataclass(frozen=True)
class BestObservation:
    """The most informative candidate of a plan."""

    band: str
    days_ahead: float
    bits: float
    standard_error: float
    mutual_information: float
    outcome_classes: tuple[str, ...]


@dataclass(frozen=True)
class ObservationPlan:
    """Expected information of every band × time candidate for one object.

    Attributes
    ----------
    object_id : the object
    bands : (n_bands,) candidate bands, bluest first
    days_ahead : (n_times,) candidate times, days after the last point
    bits, standard_error, mutual_information : (n_bands, n_times) see :class:`Information`
    entropy_now : class entropy after the last point, bits
    pred_class : most likely class now
    outcome_classes : (n_bands, n_times, n_outcome_classes) the classes the sampled outcomes
        most often make the most likely one, most frequent first ("" when fewer occur)
    """

    object_id: str
    bands: list[str]
    days_ahead: np.ndarray
    bits: np.ndarray
    standard_error: np.ndarray
    mutual_information: np.ndarray
    entropy_now: float
    pred_class: str
    outcome_classes: np.ndarray

    @property
    def best(self) -> BestObservation:
        """The candidate with the most expected bits (the earliest, bluest one on ties)."""
        row, column = np.unravel_index(int(np.argmax(self.bits)), self.bits.shape)
        return BestObservation(
            band=self.bands[row],
            days_ahead=float(self.days_ahead[column]),
            bits=float(self.bits[row, column]),
            standard_error=float(self.standard_error[row, column]),
            mutual_information=float(self.mutual_information[row, column]),
            outcome_classes=tuple(c for c in self.outcome_classes[row, column] if c),
        )

    def sentence(self) -> str:
        """One sentence about the best candidate, e.g. for the inspector and the CLI."""
        best = self.best
        days = f"{best.days_ahead:g} day{'s' if best.days_ahead != 1 else ''}"
        outcomes = " or ".join(best.outcome_classes)
        if best.bits <= 0:
            return (
                f"No point in the next {self.days_ahead[-1]:g} days is expected to make the "
                f"class clearer (now {self.entropy_now:.2f} bits of uncertainty, most likely "
                f"{self.pred_class}); the least unhelpful is a {best.band} point in {days} "
                f"({best.bits:.2f} ± {best.standard_error:.2f} bits)."
            )
        return (
            f"A {best.band} point in {days} is expected to tell you {best.bits:.2f} ± "
            f"{best.standard_error:.2f} bits about the class (now {self.entropy_now:.2f} bits "
            f"of uncertainty, most likely {self.pred_class}); the most likely outcomes would "
            f"make it {outcomes}."
        )


def class_entropy_bits(probabilities: np.ndarray) -> np.ndarray:
    """Entropy in bits over the last axis of probabilities (..., C) that sum to 1."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(probabilities * np.log2(p)).sum(axis=-1)


def class_part(probabilities: torch.Tensor) -> np.ndarray:
    """Calibrated probabilities (..., C + 1) -> the C classes renormalised without "unsure"."""
    classes = probabilities[..., :-1].double()
    return (classes / classes.sum(dim=-1, keepdim=True).clamp(min=1e-12)).cpu().numpy()


def mutual_information(after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bits of ``H[mean_y p] - mean_y H[p]`` and its standard error from after (M, n, C)."""
    n = after.shape[1]
    mean = after.mean(axis=1)  # (M, C)
    each = class_entropy_bits(after)  # (M, n)
    bits = np.maximum(class_entropy_bits(mean) - each.mean(axis=1), 0.0)
    # Influence of sample s: d H(mean) / d p_s = -log2(mean) / n (the constant term sums to 0).
    log_mean = np.log2(np.clip(mean, 1e-12, 1.0))[:, None, :]
    influence = -((after - mean[:, None, :]) * log_mean).sum(axis=-1) - each
    return bits, influence.std(axis=1, ddof=1) / np.sqrt(n)


class InformationPlanner:
    """Expected information of candidate observations for objects of one ATCAT predictor."""

    def __init__(self, predictor: Predictor) -> None:
        if not predictor.classes:
            msg = f"model {predictor.info.name} has no classifier: nothing to plan for"
            raise InputError(msg)
        self.predictor = predictor
        self.model = predictor.model

    def prefix(self, packed: PackedLightCurves, index: int = 0) -> tuple[Prefix, float]:
        """Encode object ``index`` of a packed table; returns it and its first MJD.

        Long curves are subsampled to leave room for the appended point.
        """
        batch = collate(
            packed,
            np.array([index]),
            max_points=self.predictor.max_points - 1,
            metadata_names=self.model.config.metadata_names,
        ).to(self.predictor.settings.torch_device)
        return encode_prefix(self.model, batch), float(packed.time[packed.offsets[index]])

    def probabilities_now(self, prefix: Prefix) -> np.ndarray:
        """Class probabilities (C,) after the prefix's last point (renormalised, calibrated)."""
        return class_part(self.predictor.calibrated_probabilities(prefix.logits))

    def probabilities_after(
        self,
        prefix: Prefix,
        *,
        time: torch.Tensor,
        flux: torch.Tensor,
        flux_err: torch.Tensor,
        wavelength: torch.Tensor,
    ) -> np.ndarray:
        """Class probabilities (B, C) after appending each of B points, in chunks."""
        parts = []
        for start in range(0, len(time), CHUNK_ROWS):
            window = slice(start, start + CHUNK_ROWS)
            logits = appended_logits(
                self.model,
                prefix,
                time=time[window],
                flux=flux[window],
                flux_err=flux_err[window],
                wavelength=wavelength[window],
            )
            parts.append(class_part(self.predictor.calibrated_probabilities(logits)))
        return np.concatenate(parts)

    @torch.no_grad()
    def information(
        self,
        prefix: Prefix,
        *,
        time: np.ndarray,
        wavelength: np.ndarray,
        flux_err: np.ndarray,
        n_samples: int,
        generator: torch.Generator,
    ) -> Information:
        """Compute the expected information of M candidates.

        ``time`` in days since the first point, ``wavelength`` in Å, ``flux_err`` in FLUXCAL,
        (M,) each. One pass of the flux head over all candidates, one batched
        re-classification of all M·n sampled outcomes.
        """
        device = prefix.hidden.device
        t = torch.as_tensor(time, dtype=torch.float32, device=device)
        wl = torch.as_tensor(wavelength, dtype=torch.float32, device=device)
        err = torch.as_tensor(flux_err, dtype=torch.float32, device=device)
        m = len(t)
        hidden = prefix.hidden.expand(1, m, -1)  # (1, M, d): the same last state for every query
        logits = self.model.next_flux_logits(hidden, t[None] - prefix.time[-1], wl[None], err[None])
        drawn = self.model.mixture.sample(logits[0].float(), n_samples, generator=generator)
        noise = torch.randn(drawn.shape, generator=generator, device=device) * err[:, None]
        flux = unsquash(drawn) + noise  # (M, n) FLUXCAL, true flux plus observational noise
        after = self.probabilities_after(
            prefix,
            time=t.repeat_interleave(n_samples),
            flux=flux.reshape(-1),
            flux_err=err.repeat_interleave(n_samples),
            wavelength=wl.repeat_interleave(n_samples),
        ).reshape(m, n_samples, -1)  # (M, n, C)
        information, mi_error = mutual_information(after)
        now = class_entropy_bits(self.probabilities_now(prefix))
        entropies = class_entropy_bits(after)  # (M, n)
        return Information(
            bits=now - entropies.mean(axis=1),
            standard_error=entropies.std(axis=1, ddof=1) / np.sqrt(n_samples),
            mutual_information=information,
            mi_standard_error=mi_error,
            flux=flux.cpu().numpy(),
            after=after,
        )

    def plan_object(
        self,
        table: pl.DataFrame,
        settings: PlanSettings | None = None,
        *,
        registry: BandRegistry | None = None,
    ) -> ObservationPlan:
        """Compute the expected information of every band × day candidate of a one-row table."""
        settings = settings or PlanSettings()
        if table.height != 1:
            msg = f"plan_object needs exactly one object, got {table.height}"
            raise InputError(msg)
        packed = self.predictor.pack(table)
        bands = list(settings.bands) or _own_bands(table)
        wavelengths = band_wavelengths(table, bands, registry or BandRegistry())
        order = np.argsort(wavelengths, kind="stable")
        bands, wavelengths = [bands[i] for i in order], wavelengths[order]
        errors = typical_errors(packed, wavelengths)
        prefix, first = self.prefix(packed)
        days = settings.days_ahead
        last = float(packed.time[-1]) - first
        grid_time = np.tile(last + days, len(bands))  # band-major: (n_bands * n_times,)
        info = self.information(
            prefix,
            time=grid_time,
            wavelength=np.repeat(wavelengths, len(days)),
            flux_err=np.repeat(errors, len(days)),
            n_samples=settings.n_samples,
            generator=torch.Generator(device=prefix.hidden.device).manual_seed(settings.seed),
        )
        shape = (len(bands), len(days))
        now = self.probabilities_now(prefix)
        return ObservationPlan(
            object_id=str(packed.object_id[0]),
            bands=bands,
            days_ahead=days,
            bits=info.bits.reshape(shape),
            standard_error=info.standard_error.reshape(shape),
            mutual_information=info.mutual_information.reshape(shape),
            entropy_now=float(class_entropy_bits(now)),
            pred_class=self.predictor.classes[int(np.argmax(now))],
            outcome_classes=self._outcomes(info.after, settings.n_outcome_classes).reshape(
                *shape, -1
            ),
        )

    def _outcomes(self, after: np.ndarray, n_classes: int) -> np.ndarray:
        """(M, n_classes) names of the classes most often on top after the outcomes."""
        names = np.array([*self.predictor.classes, ""])
        winners = after.argmax(axis=-1)  # (M, n)
        counts = np.stack([(winners == c).sum(axis=1) for c in range(after.shape[-1])], axis=1)
        top = np.argsort(-counts, axis=1, kind="stable")[:, :n_classes]  # (M, n_classes)
        seen = np.take_along_axis(counts, top, axis=1) > 0
        return np.where(seen, names[top], "")


def _own_bands(table: pl.DataFrame) -> list[str]:
    """Return the object's bands, in first-seen order."""
    return list(dict.fromkeys(table["band"][0].to_list()))


def select_objects(
    predictor: Predictor,
    table: pl.DataFrame,
    *,
    object_ids: list[str] | None = None,
    unsure_only: bool = False,
) -> pl.DataFrame:
    """Rows of ``table`` to plan for: the listed ids, and/or those with confidence < 0.5."""
    if object_ids is not None:
        missing = sorted(set(object_ids) - set(table["object_id"].to_list()))
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5])
            msg = f"{len(missing)} listed object(s) are not in the catalogue: {shown}"
            raise InputError(msg)
        table = table.filter(pl.col("object_id").is_in(object_ids))
    if unsure_only:
        confidence = predictor.predict(table)["confidence"]
        table = table.filter(confidence < UNSURE_CONFIDENCE)
    return table


def plan_catalogue(
    predictor: Predictor,
    table: pl.DataFrame,
    settings: PlanSettings | None = None,
    *,
    registry: BandRegistry | None = None,
) -> pl.DataFrame:
    """Best next observation of every object, ranked by expected bits (a follow-up list).

    Columns: ``rank, object_id, pred_class, entropy_now, best_band, days_ahead, expected_bits,
    standard_error, mutual_information, outcome_classes`` (comma-separated).
    """
    planner = InformationPlanner(predictor)
    rows = []
    for k in range(table.height):
        plan = planner.plan_object(table[k : k + 1], settings, registry=registry)
        best = plan.best
        rows.append(
            {
                "object_id": plan.object_id,
                "pred_class": plan.pred_class,
                "entropy_now": plan.entropy_now,
                "best_band": best.band,
                "days_ahead": best.days_ahead,
                "expected_bits": best.bits,
                "standard_error": best.standard_error,
                "mutual_information": best.mutual_information,
                "outcome_classes": ", ".join(best.outcome_classes),
            }
        )
    schema = {
        "object_id": pl.String,
        "pred_class": pl.String,
        "entropy_now": pl.Float64,
        "best_band": pl.String,
        "days_ahead": pl.Float64,
        "expected_bits": pl.Float64,
        "standard_error": pl.Float64,
        "mutual_information": pl.Float64,
        "outcome_classes": pl.String,
    }
    frame = pl.DataFrame(rows, schema=schema).sort("expected_bits", descending=True)
    return frame.with_row_index("rank", offset=1)
