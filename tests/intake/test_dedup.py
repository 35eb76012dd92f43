"""The compact duplicate indexes: exact keys and near-duplicate texts, batch by batch."""

from __future__ import annotations

import random

import numpy as np
import pytest

from intake.dedup import KeySet, NearDuplicates, SortedRuns, key64


def texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = [f"w{i}x" for i in range(3000)]
    return [" ".join(rng.choices(words, k=20)) for _ in range(n)]


def test_sorted_runs_find_the_first_row_of_each_key_across_merges() -> None:
    runs = SortedRuns()
    rng = np.random.default_rng(1)
    truth: dict[int, int] = {}
    row = 0
    for _ in range(40):
        keys = rng.integers(0, 5000, size=100, dtype=np.uint32)
        found = runs.find(keys)
        for k, f in zip(keys.tolist(), found.tolist(), strict=True):
            assert f == truth.get(k, -1)
        new = {}
        for k in keys.tolist():
            if k not in truth and k not in new:
                new[k] = row
            row += 1
        runs.add(np.array(list(new), dtype=np.uint32), np.array(list(new.values())))
        truth.update(new)
    assert len(runs) == len(truth)
    assert runs.nbytes == 8 * len(truth)
    assert len(runs._runs) <= 12  # merged: logarithmically many runs


def test_key_set_finds_duplicates_within_and_across_batches() -> None:
    ks = KeySet()
    assert ks.check_batch([5, 6, 5]) == [False, False, True]
    assert ks.check_batch([6, 7, 7, 5]) == [True, False, True, True]
    assert len(ks) == 3
    assert ks.check_batch([]) == []


def test_key_set_agrees_with_a_python_set_over_many_merges() -> None:
    rng = np.random.default_rng(4)
    ks, truth = KeySet(), set()
    for _ in range(60):
        batch = rng.integers(0, 5_000, size=int(rng.integers(1, 400)), dtype=np.uint64)
        expected = []
        for key in batch.tolist():
            expected.append(key in truth)
            truth.add(key)
        assert ks.check_batch(batch) == expected
    assert len(ks) == len(truth)
    assert len(ks._runs) <= 14  # merged: logarithmically many runs


def test_key64_takes_the_first_64_bits() -> None:
    assert key64("ff" + "0" * 30) == 0xFF << 56
    assert key64("0123456789abcdef" + "f" * 16) == 0x0123456789ABCDEF


def test_batches_and_one_at_a_time_agree() -> None:
    corpus = texts(600)
    corpus += [t + "!" for t in corpus[:50]]  # near-duplicates of earlier texts
    corpus += [corpus[10], corpus[20]]  # exact copies
    one = NearDuplicates()
    singles = [one.check_batch([t])[0] for t in corpus]
    many = NearDuplicates()
    batched: list[int] = []
    for start in range(0, len(corpus), 97):
        batched += many.check_batch(corpus[start : start + 97])
    assert singles == batched
    assert sum(m >= 0 for m in batched) >= 50
    assert batched[-2:] == [10, 20]


def test_a_near_duplicate_within_one_batch_points_to_the_earlier_text() -> None:
    base = texts(1)[0]
    near = NearDuplicates()
    assert near.check_batch(["something else entirely, nothing alike", base, base + "."]) == [
        -1,
        -1,
        1,
    ]


def test_signatures_estimate_jaccard() -> None:
    near = NearDuplicates(bins=256)
    a = "".join(random.Random(3).choices("abcdefghij", k=400))
    b = a[:300] + "".join(random.Random(4).choices("abcdefghij", k=100))

    def shingles(t: str) -> set[str]:
        return {t[i : i + 5] for i in range(len(t) - 4)}

    true = len(shingles(a) & shingles(b)) / len(shingles(a) | shingles(b))
    sig = near.signatures([a, b])
    estimate = float(np.mean(sig[0] == sig[1]))
    assert abs(estimate - true) < 0.1


def test_memory_per_text_is_the_band_index_only() -> None:
    with NearDuplicates() as near:
        corpus = texts(70_000, seed=2)
        for start in range(0, len(corpus), 2048):
            near.check_batch(corpus[start : start + 2048])
        # Band runs hold 8 bytes per new key; the signatures are on disk, not in memory.
        per_text = near.nbytes / len(near)
        assert per_text <= 8 * near.bands
        assert near.disk_bytes == len(near) * near.bins
    ks = KeySet()
    ks.check_batch(range(100_000))
    assert ks.nbytes / len(ks) <= 12


def test_signatures_read_back_from_disk_are_the_ones_written() -> None:
    near = NearDuplicates()
    corpus = texts(5_000, seed=3)
    sig = near.signatures(corpus)
    near.check_batch(corpus)
    rows = np.array([4_999, 0, 17, 17, 2_500], dtype=np.int64)
    assert (near._gather(rows) == (sig[rows] & 0xFF).astype(np.uint8)).all()
    near.close()
    with pytest.raises(ValueError, match="closed file"):
        near.check_batch(["closed"])


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="bins"):
        NearDuplicates(bins=60)
    with pytest.raises(ValueError, match="shingle"):
        NearDuplicates(shingle=0)
