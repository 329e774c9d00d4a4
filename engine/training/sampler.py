"""Batch samplers: class-balanced (labelled training) and shuffled (unlabelled), length-bucketed.

Both work in "mega-batches" of ``bucket_batches`` batches: draw that many objects, sort them by
length, cut the sorted list into batches and shuffle the batch order. Objects of similar length
then share a batch, so a CPU step pays for little padding, while the mega-batch as a whole still
follows the intended distribution. Bucketing makes single batches less class-balanced than the
mega-batch (short curves are more often some classes than others); the soft-F1 loss corrects for
that with per-batch inverse class frequency weights (see :mod:`engine.training.losses`).

Mega-batch ``m`` is drawn from ``numpy.random.default_rng([seed, m])``, so the stream of
batches is a pure function of the seed, and ``batches(start=step)`` resumes a run exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int | np.integer) or value < 1:
        msg = f"{name} must be a positive integer, got {value!r}"
        raise ValueError(msg)


class _LengthBucketed:
    """Shared machinery: subclasses draw the ``batch_size * bucket_batches`` objects."""

    def __init__(
        self, lengths: np.ndarray, *, batch_size: int, bucket_batches: int, seed: int
    ) -> None:
        _check_positive("batch_size", batch_size)
        _check_positive("bucket_batches", bucket_batches)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if self.lengths.ndim != 1 or len(self.lengths) == 0:
            msg = f"lengths must be a non-empty 1-D array, got shape {self.lengths.shape}"
            raise ValueError(msg)
        self.batch_size = batch_size
        self.bucket_batches = bucket_batches
        self.seed = seed

    def _draw(self, rng: np.random.Generator, mega: int) -> np.ndarray:
        raise NotImplementedError

    def _mega_batch(self, mega: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, mega])
        drawn = self._draw(rng, mega)
        drawn = drawn[np.argsort(self.lengths[drawn], kind="stable")]
        batches = [drawn[i : i + self.batch_size] for i in range(0, len(drawn), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def _locate(self, start: int) -> tuple[int, int]:
        """Mega-batch holding batch number ``start`` and the batches to skip in it."""
        return divmod(start, self.bucket_batches)

    def batches(self, start: int = 0) -> Iterator[np.ndarray]:
        """Endless stream of index arrays (one per batch), from batch number ``start`` on."""
        mega, skip = self._locate(start)
        while True:
            yield from self._mega_batch(mega)[skip:]
            mega, skip = mega + 1, 0


class BalancedBatchSampler(_LengthBucketed):
    """ATAT-style class-balanced sampling: pick a class uniformly, then an object of it.

    Parameters
    ----------
    labels : (N,) integer class index of each object
    lengths : (N,) number of points each object will have in the batch (cap it at the model's
        ``max_points``)
    batch_size : objects per batch
    bucket_batches : batches per length-sorted mega-batch; 1 disables bucketing
    seed : seed of the whole stream
    """

    def __init__(
        self,
        labels: np.ndarray,
        lengths: np.ndarray,
        *,
        batch_size: int,
        bucket_batches: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__(lengths, batch_size=batch_size, bucket_batches=bucket_batches, seed=seed)
        labels = np.asarray(labels)
        if labels.shape != self.lengths.shape:
            msg = f"labels has shape {labels.shape} but lengths has {self.lengths.shape}"
            raise ValueError(msg)
        self.classes, codes = np.unique(labels, return_inverse=True)
        # members of class c are by_class[starts[c]:starts[c + 1]]
        self._by_class = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(self.classes))
        self._starts = np.concatenate([[0], np.cumsum(counts)])

    def _draw(self, rng: np.random.Generator, mega: int) -> np.ndarray:
        n = self.batch_size * self.bucket_batches
        cls = rng.integers(len(self.classes), size=n)
        size = self._starts[cls + 1] - self._starts[cls]
        within = np.floor(rng.random(n) * size).astype(np.int64)
        return self._by_class[self._starts[cls] + within]


class ShuffledBatchSampler(_LengthBucketed):
    """Epochs of a random permutation of all objects, for unlabelled (generative) training.

    Every object appears once per epoch of ``ceil(N / (batch_size * bucket_batches))``
    mega-batches; the last mega-batch of an epoch may be smaller.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        *,
        batch_size: int,
        bucket_batches: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__(lengths, batch_size=batch_size, bucket_batches=bucket_batches, seed=seed)
        per_mega = batch_size * bucket_batches
        self._megas_per_epoch = -(-len(self.lengths) // per_mega)

    def _draw(self, rng: np.random.Generator, mega: int) -> np.ndarray:
        epoch, chunk = divmod(mega, self._megas_per_epoch)
        permutation = np.random.default_rng([self.seed, epoch, 1]).permutation(len(self.lengths))
        per_mega = self.batch_size * self.bucket_batches
        return permutation[chunk * per_mega : (chunk + 1) * per_mega]

    def _locate(self, start: int) -> tuple[int, int]:
        # only the last mega-batch of an epoch is short: count the batches of one epoch
        per_mega = self.batch_size * self.bucket_batches
        last = len(self.lengths) - (self._megas_per_epoch - 1) * per_mega
        per_epoch = (self._megas_per_epoch - 1) * self.bucket_batches + -(-last // self.batch_size)
        epoch, step = divmod(start, per_epoch)
        chunk, skip = divmod(step, self.bucket_batches)
        return epoch * self._megas_per_epoch + chunk, skip


def ordered_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Every object once, in batches of similar lengths: for validation and inference."""
    _check_positive("batch_size", batch_size)
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
