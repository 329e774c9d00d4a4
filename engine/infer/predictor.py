"""Inference with a trained ATCAT model: calibrated probabilities, embeddings, attention, futures.

Notation: ``N`` objects, ``P`` points in all, ``C`` classes, ``L`` layers, ``H`` heads, ``S``
sequence length, ``K`` mixture components.

Probabilities are the softmax over the C class logits and the "unsure" logit at the calibrated
temperature, with the calibration's class-prior shift (see :mod:`engine.evaluation.calibration`):
the ``p_<class>`` columns sum to ``1 - unsure``, and ``confidence`` is the largest of them.
When the model directory holds a domain reference (:mod:`engine.infer.domain`), predictions
also say how unlike the training set each object is (``domain_score``, ``in_domain``,
``domain_reason``), from the hidden state the forward pass computes anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch

from engine.data.bands import BandRegistry
from engine.data.batching import Batch, collate
from engine.data.packed import PackedLightCurves
from engine.data.photometry import reference_at
from engine.errors import InputError
from engine.evaluation.calibration import TemperatureScaler
from engine.infer.batches import InferenceSettings, iter_batches, last_outputs
from engine.infer.compile import compiled
from engine.infer.domain import DomainReference, has_domain_reference
from engine.models.atcat.model import ATCAT, next_point_queries
from engine.models.atcat.mog import unsquash
from engine.models.checkpoint import (
    METADATA_SCALER_FILE,
    load_model,
    read_calibration,
    read_optional_extra,
)
from engine.models.registry import ModelInfo, find_model
from engine.training.metadata import MetadataScaler

QUANTILE_LEVELS = (0.025, 0.16, 0.5, 0.84, 0.975)


@dataclass(frozen=True)
class PointProbabilities:
    """Calibrated probabilities after every point of every object.

    Object ``k`` owns rows ``offsets[k]:offsets[k + 1]`` of ``probabilities`` (P, C + 1) and
    ``time`` (P,), for the points the model saw (after subsampling of long curves).
    """

    object_id: np.ndarray
    offsets: np.ndarray
    time: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class Continuation:
    """Sampled future of a light curve.

    ``samples`` (n_samples, n_times) are FLUXCAL fluxes drawn autoregressively at ``time``
    (MJD) in ``band``; ``quantiles`` maps each level of :data:`QUANTILE_LEVELS` to the
    per-time quantile of the samples (the 68 % band is 0.16-0.84, the 95 % band 0.025-0.975).
    """

    time: np.ndarray
    band: list[str]
    samples: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)


class Predictor:
    """A loaded model with its calibration and metadata scaling, ready for any canonical table.

    Use :func:`load_predictor` to build one.
    """

    def __init__(
        self,
        info: ModelInfo,
        model: ATCAT,
        *,
        calibration: TemperatureScaler | None,
        metadata_scaler: MetadataScaler | None,
        settings: InferenceSettings,
        domain: DomainReference | None = None,
    ) -> None:
        self.info = info
        self.model = model.to(settings.torch_device).eval()
        self._last_point = compiled(self.model.last_point, settings)
        self.calibration = calibration
        self.metadata_scaler = metadata_scaler
        self.settings = settings
        self.domain = domain

    @property
    def classes(self) -> list[str]:
        """Class names in the order of the probability columns."""
        return list(self.model.config.class_names)

    @property
    def temperature(self) -> float:
        """Calibration temperature (1.0 when the model has no calibration)."""
        return float(self.calibration.temperature_) if self.calibration else 1.0

    @property
    def max_points(self) -> int:
        """Longest light curve the model sees; longer ones are subsampled evenly."""
        return self.model.config.max_points

    # -- preparation -------------------------------------------------------------------------
    def pack(self, table: pl.DataFrame) -> PackedLightCurves:
        """Pack a canonical table and scale its metadata as the model was trained."""
        packed = PackedLightCurves.from_frame(table)
        names = self.model.config.metadata_names
        if not names:
            return packed
        raw = np.stack(
            [packed.metadata.get(n, np.full(len(packed), np.nan)) for n in names], axis=1
        )
        scaled = self.metadata_scaler.transform(raw) if self.metadata_scaler else raw
        metadata = dict(packed.metadata) | {n: scaled[:, i] for i, n in enumerate(names)}
        return PackedLightCurves(**{**packed.__dict__, "metadata": metadata})

    def _batches(self, packed: PackedLightCurves):
        return iter_batches(
            packed,
            self.settings,
            max_points=self.max_points,
            metadata_names=self.model.config.metadata_names,
        )

    @property
    def _logit_offset(self) -> torch.Tensor:
        """(C + 1,) class-prior shift of the calibration (zeros without one)."""
        n_columns = len(self.classes) + 1
        offset = self.calibration.offset_ if self.calibration else np.zeros(n_columns)
        return torch.as_tensor(offset, dtype=torch.float32)

    def calibrated_probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities (..., C + 1) of logits: temperature and class-prior shift."""
        return torch.softmax(logits.float() / self.temperature + self._logit_offset, dim=-1)

    # -- classification ----------------------------------------------------------------------
    def last_logits(self, table: pl.DataFrame) -> np.ndarray:
        """Uncalibrated logits (N, C + 1) after each object's last point, in table order."""
        return self._last_outputs(table)[0]

    def _last_outputs(self, table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return last_outputs(
            self._last_point, self.pack(table), self.settings, config=self.model.config
        )

    def predict(self, table: pl.DataFrame) -> pl.DataFrame:
        """Calibrated class probabilities after each object's last point.

        Returns ``object_id, pred_class, confidence, unsure`` and one ``p_<class>`` column per
        class, in the order of ``table``; with a domain reference also ``domain_score``,
        ``in_domain`` and ``domain_reason`` (see :meth:`DomainReference.assess`).
        """
        return self.predict_and_embed(table)[0]

    def predict_and_embed(self, table: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
        """:meth:`predict` and :meth:`embed` of ``table`` from one forward pass."""
        logits, hidden = self._last_outputs(table)
        object_id = table["object_id"].to_numpy().astype(str)
        probabilities = self.calibrated_probabilities(torch.from_numpy(logits)).numpy()
        frame = self._prediction_frame(object_id, probabilities)
        if self.domain is not None:
            frame = frame.hstack(self.domain.assess(table, hidden).drop("object_id"))
        return frame, hidden

    def _prediction_frame(self, object_id: np.ndarray, probabilities: np.ndarray) -> pl.DataFrame:
        classes = np.asarray(self.classes)
        class_part = probabilities[:, :-1]
        best = class_part.argmax(axis=1)
        return pl.DataFrame(
            {
                "object_id": object_id,
                "pred_class": classes[best] if len(classes) else np.array([], dtype=str),
                "confidence": class_part.max(axis=1, initial=0.0),
                "unsure": probabilities[:, -1],
                **{f"p_{c}": class_part[:, i] for i, c in enumerate(self.classes)},
            }
        )

    @torch.no_grad()
    def predict_points(self, table: pl.DataFrame) -> PointProbabilities:
        """Calibrated probabilities after every point (the causal model's early predictions)."""
        packed = self.pack(table)
        lengths = np.minimum(packed.lengths, self.max_points)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        probabilities = np.zeros((offsets[-1], len(self.classes) + 1), dtype=np.float32)
        time = np.zeros(offsets[-1])
        for index, batch in self._batches(packed):
            with self.settings.autocast():
                logits = self.model(batch).class_logits
            values = self.calibrated_probabilities(logits).cpu().numpy()  # (B, T, C + 1)
            for row, k in enumerate(index):
                n = int(lengths[k])
                probabilities[offsets[k] : offsets[k] + n] = values[row, :n]
                start = packed.time[packed.offsets[k]]
                time[offsets[k] : offsets[k] + n] = start + batch.time[row, :n].cpu().numpy()
        return PointProbabilities(packed.object_id, offsets, time, probabilities)

    def predict_timeline(self, table: pl.DataFrame) -> pl.DataFrame:
        """Per-point probabilities of one object: ``time, n_points, p_<class>..., unsure``."""
        _require_one(table)
        points = self.predict_points(table)
        p = points.probabilities
        return pl.DataFrame(
            {
                "time": points.time,
                "n_points": np.arange(1, len(p) + 1),
                **{f"p_{c}": p[:, i] for i, c in enumerate(self.classes)},
                "unsure": p[:, -1],
            }
        )

    # -- representation ----------------------------------------------------------------------
    def embed(self, table: pl.DataFrame) -> np.ndarray:
        """Hidden state at each object's last point, (N, d) float32, in the order of ``table``."""
        return self._last_outputs(table)[1]

    @torch.no_grad()
    def attention(self, table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Attention weights of one object, (L, H, S, S), and the MJD of its points (T,).

        With a metadata token, row and column 0 are [META] and ``S = T + 1``.
        """
        _require_one(table)
        packed = self.pack(table)
        batch = self._collate(packed).to(self.settings.torch_device)
        maps = self.model(batch, return_attention=True).attention
        weights = torch.stack([m[0] for m in maps]).float().cpu().numpy()
        return weights, packed.time[0] + batch.time[0].cpu().numpy()

    def _collate(self, packed: PackedLightCurves, max_points: int | None = None) -> Batch:
        return collate(
            packed,
            np.arange(len(packed)),
            max_points=max_points or self.max_points,
            metadata_names=self.model.config.metadata_names,
        )

    # -- generation --------------------------------------------------------------------------
    @torch.no_grad()
    def continue_curve(
        self,
        table: pl.DataFrame,
        times: np.ndarray,
        bands: list[str],
        *,
        n_samples: int = 100,
        flux_err: np.ndarray | None = None,
        seed: int = 0,
        registry: BandRegistry | None = None,
    ) -> Continuation:
        """Sample the light curve's future autoregressively from the mixture head.

        Parameters
        ----------
        table : one object
        times : (n_times,) MJD of the future points, after the object's last point
        bands : (n_times,) band of each future point: a band of the object's own points (its
            wavelength is taken from them, so user bands of ``--band-map`` work), or any name
            ``registry`` knows
        n_samples : number of sampled futures
        flux_err : (n_times,) observational error to assume; default: the median error of the
            object's points in that band (or of all its points when the band is new)
        seed : random seed of the sampling
        registry : bands the object does not have (default: built-in bands); pass the
            :attr:`~engine.data.load.LoadedTable.registry` the table was read with

        Each future point is a draw from the mixture (squashed units, mapped back to flux) plus
        Gaussian observational noise of ``flux_err``, so the bands describe new *observations*;
        it is appended to the light curve before the next one is predicted, so every path is
        consistent in time.
        """
        _require_one(table)
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 1 or len(times) == 0 or len(times) != len(bands):
            msg = f"times and bands must be 1-D of one length >= 1, got {times.shape}, {len(bands)}"
            raise InputError(msg)
        if n_samples < 1:
            msg = f"n_samples must be at least 1, got {n_samples}"
            raise InputError(msg)
        wavelengths = band_wavelengths(table, bands, registry or BandRegistry())
        packed = self.pack(table)
        last = packed.time[-1]
        if np.any(times <= last) or np.any(np.diff(times) < 0):
            msg = f"future times must be sorted and after the last point (MJD {last:.3f})"
            raise InputError(msg)
        errors = (
            np.asarray(flux_err, dtype=np.float32)
            if flux_err is not None
            else typical_errors(packed, wavelengths)
        )
        context_points = max(1, self.max_points - len(times))
        batch = self._collate(packed, max_points=context_points)
        device = self.settings.torch_device
        generator = torch.Generator(device=device).manual_seed(seed)
        # (n_samples, T) copies of the context; every step appends one point to all of them.
        seq = {name: getattr(batch, name).expand(n_samples, -1).to(device) for name in
               ("time", "flux", "flux_err", "wavelength", "mask")}  # fmt: skip
        metadata = (
            None if batch.metadata is None else batch.metadata.expand(n_samples, -1).to(device)
        )
        first = packed.time[0]
        samples = np.zeros((n_samples, len(times)), dtype=np.float32)
        cache = None  # every layer's input tokens so far: each step computes one new row
        for j, (t, wavelength, err) in enumerate(zip(times, wavelengths, errors, strict=True)):
            current = Batch(**seq, metadata=metadata)
            with self.settings.autocast():
                hidden, cache = self.model.decode_step(current, cache)
                hidden = hidden[:, None]  # (n, 1, d)
                query = {
                    "query_time": torch.full((n_samples, 1), t - first, device=device)
                    - current.time[:, -1:],
                    "query_wavelength": torch.full(
                        (n_samples, 1), float(wavelength), device=device
                    ),
                    "query_flux_err": torch.full((n_samples, 1), float(err), device=device),
                }
                logits = self.model.next_flux_logits(hidden, **query).float()[:, 0]  # (n, K)
            # a draw of the true flux, then the observational noise added in flux units
            drawn = self.model.mixture.sample(logits, 1, generator=generator)[:, 0]  # (n,)
            noise = torch.randn(n_samples, generator=generator, device=device) * float(err)
            flux = unsquash(drawn) + noise
            samples[:, j] = flux.cpu().numpy()
            point = {"time": t - first, "flux": flux, "flux_err": float(err),
                     "wavelength": float(wavelength), "mask": True}  # fmt: skip
            seq = {
                name: torch.cat([seq[name], _column(point[name], seq[name], n_samples)], dim=1)
                for name in seq
            }
        samples += reference_at(table, wavelengths)  # total photometry: back on its own scale
        quantiles = {q: np.quantile(samples, q, axis=0) for q in QUANTILE_LEVELS}
        return Continuation(times, list(bands), samples, quantiles)

    # -- evaluation --------------------------------------------------------------------------
    @torch.no_grad()
    def next_point_log_prob(self, table: pl.DataFrame) -> PointProbabilities:
        """Log density (natural log, per FLUXCAL) of every observed next point.

        Row i of object k holds ``log p(flux_{i+1} | points 0..i)`` in the ``probabilities``
        field (shape (P, 1)); the last point of each object has NaN (nothing follows it).
        """
        packed = self.pack(table)
        lengths = np.minimum(packed.lengths, self.max_points)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        out = np.full((offsets[-1], 1), np.nan, dtype=np.float64)
        for index, batch in self._batches(packed):
            with self.settings.autocast():
                hidden = self.model(batch).hidden
                queries = next_point_queries(batch)
                logits = self.model.next_flux_logits(
                    hidden, queries.delta_time, queries.wavelength, queries.flux_err
                ).float()
            log_prob = self.model.mixture.log_prob_flux(
                logits, queries.target_flux, queries.flux_err
            )
            log_prob = torch.where(queries.valid, log_prob, torch.nan).double().cpu().numpy()
            for row, k in enumerate(index):
                n = int(lengths[k])
                out[offsets[k] : offsets[k] + n, 0] = log_prob[row, :n]
        return PointProbabilities(packed.object_id, offsets, np.zeros(offsets[-1]), out)


def _column(value, like: torch.Tensor, n: int) -> torch.Tensor:
    """Make a (n, 1) column of ``value`` (scalar or (n,) tensor) with the dtype of ``like``."""
    if isinstance(value, torch.Tensor):
        return value.to(like.dtype).reshape(n, 1)
    return torch.full((n, 1), value, dtype=like.dtype, device=like.device)


def band_wavelengths(table: pl.DataFrame, bands: list[str], registry: BandRegistry) -> np.ndarray:
    """Wavelength of each band: from the object's own points, else from ``registry``."""
    own = table.select(pl.col("band").explode(), pl.col("wavelength").explode()).unique("band")
    known = dict(own.iter_rows())
    return np.array(
        [known[b] if b in known else registry.wavelength(b) for b in bands], dtype=np.float32
    )


def typical_errors(packed: PackedLightCurves, wavelengths: np.ndarray) -> np.ndarray:
    """Median flux_err of the object's points in each requested band (all points if none)."""
    overall = float(np.median(packed.flux_err))
    return np.array(
        [
            float(np.median(packed.flux_err[packed.wavelength == w]))
            if np.any(packed.wavelength == w)
            else overall
            for w in wavelengths
        ],
        dtype=np.float32,
    )


def _require_one(table: pl.DataFrame) -> None:
    if table.height != 1:
        msg = f"this view needs exactly one object, got {table.height}"
        raise InputError(msg)


def load_predictor(
    name_or_path: str | Path,
    *,
    settings: InferenceSettings | None = None,
    models_dir: Path | None = None,
) -> Predictor:
    """Load a shipped model by name (e.g. ``"atcat-plasticc"``) or a model directory.

    Its calibration, metadata scaler and domain reference are loaded when the directory has them.
    """
    info = find_model(name_or_path, models_dir)
    settings = settings or InferenceSettings()
    model = load_model(info.path, device=settings.torch_device)
    calibration = read_calibration(info.path)
    scaler = read_optional_extra(info.path, METADATA_SCALER_FILE)
    domain = DomainReference.load(info.path) if has_domain_reference(info.path) else None
    return Predictor(
        info,
        model,
        calibration=None if calibration is None else TemperatureScaler.from_dict(calibration),
        metadata_scaler=None if scaler is None else MetadataScaler.from_dict(scaler),
        settings=settings,
        domain=domain,
    )
