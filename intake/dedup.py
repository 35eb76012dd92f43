"""Duplicate detection across many texts, a batch at a time, in compact numpy arrays.

`KeySet` remembers 64-bit content keys (exact duplicates); `NearDuplicates` finds texts that
are nearly the same as an earlier one. Both take a batch of rows at once so the work is a
handful of numpy calls per batch instead of Python per row, and both keep only fixed-size
integers per text (no texts, no Python objects), so a million texts cost about 8 bytes
(`KeySet`) and about 100 bytes (`NearDuplicates`) each.

Near-duplicates: MinHash with LSH banding (Broder 1997; Leskovec, Rajaraman and Ullman,
*Mining of Massive Datasets*, ch. 3), with one-permutation hashing (Li, Owen and Zhang 2012)
and densification by rotation (Shrivastava and Li 2014) so a text is hashed once, not once per
permutation.

- A text is the set of its character 5-shingles (``shingle=5``: every run of 5 consecutive
  code points). A text shorter than the shingle size is one shingle: the whole text.
- Each shingle gets a 64-bit hash (a polynomial over its code points, then a mixing
  function), computed for a whole batch of texts at once on one ``uint64`` array.
- One-permutation hashing: the top 6 bits of a shingle's hash pick one of ``bins=64`` bins,
  the low 32 bits are its value, and a text's signature is the minimum value per bin. A bin
  no shingle fell into takes the value of the next non-empty bin to its right (circularly)
  plus a per-distance offset (rotation densification). The share of equal bins in two
  signatures estimates the Jaccard similarity of the two shingle sets, like ``bins``
  independent MinHash permutations, at the cost of one hash per shingle.
- Banding: the signature's first ``b * r`` bins are cut into ``b`` bands of ``r`` rows; two
  texts become candidates when any band is equal, with probability ``1 - (1 - s**r)**b`` at
  similarity ``s``. (b, r) is chosen among all ``b * r <= bins`` to minimise the weighted
  false-positive area (integral of that probability below the threshold) plus false-negative
  area (integral of one minus it above), false negatives weighing 0.9 and false positives 0.1:
  every candidate is verified, so a false positive only costs a comparison while a false
  negative is a missed duplicate. For threshold 0.9 and 64 bins that gives b=5, r=12: a pair
  at similarity 0.93 becomes a candidate with probability 0.93, a pair at 0.7 with 0.07.
- Verification: the candidates of a text are, per band, the first earlier text with that band
  (and the first of the same batch). Each is compared on the low 8 bits of every bin
  (b-bit MinHash, Li and König 2010): equal by chance with probability 1/256, which the
  estimate corrects for. The candidate with the most equal bins (ties: the earliest) is the
  match if the corrected estimate is at least the threshold. With 64 bins the estimate has a
  standard error of about 0.04 near 0.9, so pairs just above the threshold are sometimes
  missed and pairs just below sometimes reported.
- Memory per text: per band whose key is new, a 4-byte key and a 4-byte row in sorted runs
  (at most 40 bytes per text: 40 MB for a million texts). The 64-byte b-bit signatures go to
  an unnamed temporary file (appended a batch at a time, read back with `pread` only for the
  few rows that are candidates), so they cost disk and page cache, not the process's memory.
  No texts, shingles or Python objects are kept.
- Time: a batch's signatures are a few vector operations over its code points; each band
  lookup is a binary search in a few sorted runs (log-structured: runs of similar size are
  merged, so there are O(log n) of them). Linear in the number of texts, no pairwise
  comparison.
"""

from __future__ import annotations

import functools
import os
import tempfile
import weakref
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

_SHINGLE_MULT = np.uint64(0x100000001B3)
_MIX_MULT = np.uint64(0xFF51AFD7ED558CCD)
_MIX_MULT2 = np.uint64(0xC4CEB9FE1A85EC53)
_EMPTY = np.uint32(0xFFFFFFFF)
_ROTATE = np.uint32(0x9E3779B9)  # added once per bin of distance when densifying
_FN_WEIGHT = 0.9  # see the module docstring: candidates are verified, misses are not


@functools.lru_cache(maxsize=64)
def lsh_bands(threshold: float, num_perm: int, fn_weight: float = _FN_WEIGHT) -> tuple[int, int]:
    """The (bands, rows) with bands * rows <= num_perm minimising the weighted error area."""
    s = np.linspace(0.0, 1.0, 2001)
    below = s <= threshold
    best: tuple[float, int, int] | None = None
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1.0 - (1.0 - s**r) ** b
            fp = float(np.trapezoid(np.where(below, p, 0.0), s))
            fn = float(np.trapezoid(np.where(below, 0.0, 1.0 - p), s))
            error = (1.0 - fn_weight) * fp + fn_weight * fn
            if best is None or error < best[0]:
                best = (error, b, r)
    assert best is not None  # num_perm >= 1 gives at least (1, 1)
    return best[1], best[2]


def _mix(h: U64) -> U64:
    """A 64-bit finaliser (murmur3's fmix64): every output bit depends on every input bit."""
    h ^= h >> np.uint64(33)
    h *= _MIX_MULT
    h ^= h >> np.uint64(33)
    h *= _MIX_MULT2
    h ^= h >> np.uint64(33)
    return h


class _Runs:
    """Sorted uint64 runs, log-structured: a new run merges with ones of similar size."""

    def __init__(self) -> None:
        """Nothing stored."""
        self._runs: list[U64] = []

    def __len__(self) -> int:
        """How many entries are stored."""
        return sum(len(r) for r in self._runs)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(r.nbytes for r in self._runs)

    def _push(self, run: U64) -> None:
        """Add a sorted run; merge runs of similar size (O(log n) runs remain)."""
        runs = self._runs
        runs.append(run)
        while len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1]):
            last = runs.pop()
            merged = np.concatenate([runs.pop(), last])
            merged.sort()
            runs.append(merged)


class SortedRuns(_Runs):
    """A growing map from 32-bit keys to the first (smallest) row added with them.

    Each entry is one ``uint64``: the key in the high 32 bits, the row in the low 32, so a
    run sorts (and merges) as plain integers, in place, with no index array; equal keys sort
    by row, so the first entry of a key is its earliest row. New keys arrive in batches; each
    batch becomes a sorted run and runs of similar size are merged (a log-structured merge),
    so lookups are a binary search in O(log n) runs and memory is 8 bytes per key.
    """

    def find(self, keys: U32) -> I64:
        """For each key, the earliest row stored with it, or -1."""
        found = np.full(len(keys), -1, dtype=np.int64)
        probe = keys.astype(np.uint64) << np.uint64(32)
        for run in self._runs:
            at = np.searchsorted(run, probe)
            inside = at < len(run)
            entry = run[at[inside]]
            hit = np.zeros(len(keys), dtype=bool)
            hit[inside] = (entry >> np.uint64(32)) == (probe[inside] >> np.uint64(32))
            rows = np.zeros(len(keys), dtype=np.int64)
            rows[inside] = (entry & np.uint64(0xFFFFFFFF)).astype(np.int64)
            better = hit & ((found < 0) | (rows < found))
            found[better] = rows[better]
        return found

    def add(self, keys: U32, rows: I64) -> None:
        """Store keys with their rows (0 <= row < 2**32; the caller checks with `find`)."""
        if not len(keys):
            return
        run = (keys.astype(np.uint64) << np.uint64(32)) | rows.astype(np.uint64)
        run.sort()
        self._push(run)


def key64(hex_digest: str) -> int:
    """The first 64 bits of a hex content key, as the integer `KeySet` stores."""
    return int(hex_digest[:16], 16)


class KeySet(_Runs):
    """Exact duplicates: a set of 64-bit keys in sorted runs (8 bytes per key, no rows).

    Runs of similar size are merged (log-structured), so a lookup is a binary search in
    O(log n) runs; merging sorts the two runs' keys together, briefly holding both.
    """

    def contains(self, keys: U64) -> BoolArray:
        """Per key, whether it is stored."""
        found = np.zeros(len(keys), dtype=bool)
        for run in self._runs:
            at = np.searchsorted(run, keys)
            inside = at < len(run)
            found[inside] |= run[at[inside]] == keys[inside]
        return found

    def add(self, keys: U64) -> None:
        """Store keys (duplicates and keys already stored are fine: they are stored once)."""
        new = np.unique(keys)
        new = new[~self.contains(new)]
        if not len(new):
            return
        self._push(new)

    def check_batch(self, keys: Sequence[int] | U64) -> list[bool]:
        """Per key, whether an equal key came before (stored, or earlier in this batch).

        Every key is stored afterwards.
        """
        arr = np.asarray(keys, dtype=np.uint64)
        if not len(arr):
            return []
        earlier = self.contains(arr)
        _, first = np.unique(arr, return_index=True)
        repeat = np.ones(len(arr), dtype=bool)
        repeat[first] = False
        self.add(arr[~earlier])
        out: list[bool] = (earlier | repeat).tolist()
        return out


def _first_equal(keys: U32, rows: I64) -> I64:
    """Per position, the row of the first equal key earlier in the batch, else -1."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    first_pos = first[inverse.reshape(-1)]
    return np.where(first_pos < np.arange(len(keys)), rows[first_pos], -1)


class NearDuplicates:
    """Texts nearly the same as an earlier one: MinHash (one permutation) + LSH banding.

    See the module docstring for the method, its accuracy, memory and time.
    """

    def __init__(
        self, threshold: float = 0.9, *, shingle: int = 5, bins: int = 64, seed: int = 1
    ) -> None:
        """Set up an empty index."""
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], not {threshold}")
        if shingle < 1:
            raise ValueError("shingle must be at least 1")
        if bins not in (16, 32, 64, 128, 256):
            raise ValueError("bins must be a power of two between 16 and 256")
        self.threshold, self.shingle, self.bins = threshold, shingle, bins
        self._bin_shift = np.uint64(64 - bins.bit_length() + 1)
        self.bands, self.rows = lsh_bands(threshold, bins)
        # Equal low bytes needed: matches/bins = J + (1 - J)/256 at similarity J.
        self._min_matches = int(np.ceil(bins * (threshold + (1.0 - threshold) / 256) - 1e-9))
        rng = np.random.default_rng(seed)
        self._salt = rng.integers(1, 1 << 63, dtype=np.uint64)
        self._band_mult = rng.integers(1, 1 << 63, size=(self.bands, self.rows), dtype=np.uint64)
        self._band_mult |= np.uint64(1)
        self._index = [SortedRuns() for _ in range(self.bands)]
        # Row i's low bytes live at offset i * bins; the file is gone once closed.
        self._signatures = tempfile.TemporaryFile(prefix="labelgram-near-")  # noqa: SIM115
        # Closed (and so deleted) by close(), or when the index is garbage-collected.
        self._close = weakref.finalize(self, self._signatures.close)
        self._count = 0
        self._keys: list[str] = []  # only for check_and_add

    def __len__(self) -> int:
        """How many texts have been added."""
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes of memory held by the index (the signatures are on disk: `disk_bytes`)."""
        return sum(r.nbytes for r in self._index)

    @property
    def disk_bytes(self) -> int:
        """Bytes of signatures in the temporary file."""
        return self._count * self.bins

    def close(self) -> None:
        """Delete the temporary file; the index cannot be used afterwards."""
        self._close()

    def __enter__(self) -> NearDuplicates:
        """Use as a context manager to delete the temporary file at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Delete the temporary file."""
        self.close()

    def signatures(self, texts: Sequence[str]) -> U32:
        """The densified one-permutation MinHash signatures of texts, shape (n, bins)."""
        n = len(texts)
        lens = np.fromiter(map(len, texts), dtype=np.int64, count=n)
        total = int(lens.sum())
        sig = np.full(n * self.bins, _EMPTY, dtype=np.uint32)
        k = self.shingle
        if total:
            joined = "".join(texts).encode("utf-32-le", "surrogatepass")
            # +1 so that a NUL still counts.
            cps = np.frombuffer(joined, dtype=np.uint32).astype(np.uint64) + np.uint64(1)
            padded = np.concatenate([cps, np.zeros(k, dtype=np.uint64)])
            h = padded[:total].copy()
            for j in range(1, k):
                h *= _SHINGLE_MULT
                h += padded[j : j + total]
            ends = np.cumsum(lens)
            owner = np.repeat(np.arange(n, dtype=np.int64), lens)
            valid = (ends[owner] - np.arange(total)) >= k
            h, owner = h[valid], owner[valid]
            self._add_values(sig, h, owner)
        short = np.flatnonzero((lens < k) & (lens > 0))
        if short.size:  # a text shorter than a shingle is one shingle: the whole text
            hs = np.zeros(short.size, dtype=np.uint64)
            for i, t in enumerate(short.tolist()):
                v = 0
                for ch in texts[t]:
                    v = (v * 0x100000001B3 + ord(ch) + 1) & 0xFFFFFFFFFFFFFFFF
                hs[i] = v
            self._add_values(sig, hs, short.astype(np.int64))
        return self._densify(sig.reshape(n, self.bins))

    def _add_values(self, sig: U32, h: U64, owner: I64) -> None:
        h = _mix(h ^ self._salt)
        bins = (h >> self._bin_shift).astype(np.int64)
        values = (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        np.minimum.at(sig, owner * self.bins + bins, values)

    def _densify(self, sig: U32) -> U32:
        empty = sig == _EMPTY
        if not empty.any():
            return sig
        b = self.bins
        pos = np.where(np.concatenate([~empty, ~empty], axis=1), np.arange(2 * b), 2 * b)
        nxt = np.minimum.accumulate(pos[:, ::-1], axis=1)[:, ::-1][:, :b]
        full = nxt < 2 * b  # False only for a text with no shingle at all (empty text)
        rows = np.nonzero(full)
        source = nxt[full] % b
        dist = (nxt[full] - rows[1]).astype(np.uint32)
        out = sig.copy()
        out[rows] = sig[rows[0], source] + dist * _ROTATE
        return out

    def _band_keys(self, sig: U32) -> U32:
        used = sig[:, : self.bands * self.rows].reshape(len(sig), self.bands, self.rows)
        mixed = _mix((used.astype(np.uint64) * self._band_mult).sum(axis=2, dtype=np.uint64))
        keys: U32 = (mixed >> np.uint64(32)).astype(np.uint32)
        return keys

    def check_batch(self, texts: Sequence[str]) -> list[int]:
        """Per text, the row (order of adding, from 0) of an earlier near-duplicate, or -1.

        Every text is added, including the near-duplicates.
        """
        n = len(texts)
        if not n:
            return []
        sig = self.signatures(texts)
        low = (sig & np.uint32(0xFF)).astype(np.uint8)
        rows = np.arange(self._count, self._count + n, dtype=np.int64)
        self._store(low)
        band_keys = self._band_keys(sig)
        candidates = np.empty((n, self.bands), dtype=np.int64)
        for band, index in enumerate(self._index):
            keys = band_keys[:, band]
            found = index.find(keys)
            found = np.where(found >= 0, found, _first_equal(keys, rows))
            candidates[:, band] = found
            new = found < 0
            index.add(keys[new], rows[new])
        self._count += n
        return self._verify(low, candidates)

    def _verify(self, low: npt.NDArray[np.uint8], candidates: I64) -> list[int]:
        result = np.full(len(low), -1, dtype=np.int64)
        has = np.flatnonzero((candidates >= 0).any(axis=1))
        if has.size:
            cand = np.sort(candidates[has], axis=1)  # -1 first, then the earliest rows
            stored = self._gather(np.maximum(cand, 0).reshape(-1)).reshape(*cand.shape, -1)
            matches = np.count_nonzero(stored == low[has][:, None, :], axis=2)
            matches[cand < 0] = -1
            best = np.argmax(matches, axis=1)  # ties go to the earliest text
            ok = matches[np.arange(has.size), best] >= self._min_matches
            result[has[ok]] = cand[np.arange(has.size), best][ok]
        out: list[int] = result.tolist()
        return out

    def _store(self, low: npt.NDArray[np.uint8]) -> None:
        data = np.ascontiguousarray(low).tobytes()
        fd, offset = self._signatures.fileno(), self._count * self.bins
        while data:  # pwrite may write less than asked
            written = os.pwrite(fd, data, offset)
            data, offset = data[written:], offset + written

    def _gather(self, rows: I64) -> npt.NDArray[np.uint8]:
        unique, inverse = np.unique(rows, return_inverse=True)
        fd, size = self._signatures.fileno(), self.bins
        found = np.frombuffer(
            b"".join(os.pread(fd, size, row * size) for row in unique.tolist()), dtype=np.uint8
        ).reshape(len(unique), size)
        out: npt.NDArray[np.uint8] = found[inverse.reshape(-1)]
        return out

    def check_and_add(self, key: str, text: str) -> str | None:
        """One text at a time: the key of an earlier near-duplicate, or None; text is added."""
        self._keys.append(key)
        (match,) = self.check_batch([text])
        return None if match < 0 else self._keys[match]
