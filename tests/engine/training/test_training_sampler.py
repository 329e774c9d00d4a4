"""Batch samplers: class balance, length bucketing, reproducibility and exact resumption."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest

from engine.training.sampler import BalancedBatchSampler, ShuffledBatchSampler, ordered_batches


@pytest.fixture
def imbalanced():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2, 3], [1000, 200, 40, 5])  # 200:1 imbalance
    lengths = rng.integers(5, 300, len(labels))
    return labels, lengths


def test_balanced_sampler_draws_classes_uniformly(imbalanced):
    labels, lengths = imbalanced
    sampler = BalancedBatchSampler(labels, lengths, batch_size=32, bucket_batches=8, seed=1)
    drawn = np.concatenate(list(islice(sampler.batches(), 400)))
    counts = np.bincount(labels[drawn], minlength=4)
    n = len(drawn)
    assert np.all(np.abs(counts - n / 4) <= 5 * np.sqrt(n * 0.25 * 0.75))
    # within the rare class, every member shows up
    assert set(drawn[labels[drawn] == 3]) == set(np.flatnonzero(labels == 3))


def test_batches_have_similar_lengths(imbalanced):
    labels, lengths = imbalanced
    sampler = BalancedBatchSampler(labels, lengths, batch_size=32, bucket_batches=16, seed=2)
    batches = list(islice(sampler.batches(), 64))
    spread = np.array([np.ptp(lengths[b]) for b in batches])
    # a random batch spans nearly the whole range (~280); a bucketed one a sixteenth of it
    assert np.median(spread) < 40
    assert all(len(b) == 32 for b in batches)


def test_unbucketed_batches_are_not_sorted(imbalanced):
    labels, lengths = imbalanced
    sampler = BalancedBatchSampler(labels, lengths, batch_size=32, bucket_batches=1, seed=2)
    spread = [np.ptp(lengths[b]) for b in islice(sampler.batches(), 16)]
    assert np.median(spread) > 200


def test_seed_reproduces_and_start_resumes(imbalanced):
    labels, lengths = imbalanced

    def make(seed):
        return BalancedBatchSampler(labels, lengths, batch_size=16, bucket_batches=4, seed=seed)

    first = list(islice(make(3).batches(), 20))
    again = list(islice(make(3).batches(), 20))
    other = list(islice(make(4).batches(), 20))
    resumed = list(islice(make(3).batches(start=7), 13))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(first[7:], resumed, strict=True))


def test_shuffled_sampler_covers_each_epoch_once_and_resumes():
    lengths = np.random.default_rng(5).integers(1, 100, 1000)
    sampler = ShuffledBatchSampler(lengths, batch_size=32, bucket_batches=4, seed=6)
    # 1000 objects: 7 full mega-batches of 128 plus one of 104 -> 28 + 4 = 32 batches per epoch
    stream = list(islice(sampler.batches(), 70))
    epoch = np.concatenate(stream[:32])
    assert np.array_equal(np.sort(epoch), np.arange(1000))
    assert np.array_equal(np.sort(np.concatenate(stream[32:64])), np.arange(1000))
    assert np.median([np.ptp(lengths[b]) for b in stream]) < 30
    resumed = list(islice(sampler.batches(start=30), 40))
    assert all(np.array_equal(a, b) for a, b in zip(stream[30:], resumed, strict=True))


def test_ordered_batches_cover_everything_once():
    lengths = np.array([5, 1, 9, 3, 7])
    batches = ordered_batches(lengths, 2)
    assert [lengths[b].tolist() for b in batches] == [[1, 3], [5, 7], [9]]


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        BalancedBatchSampler(np.zeros(3), np.ones(3), batch_size=0)
    with pytest.raises(ValueError, match="labels has shape"):
        BalancedBatchSampler(np.zeros(2), np.ones(3), batch_size=2)
