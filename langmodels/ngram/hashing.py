"""A hash index over a sorted key table, probed for a whole batch of queries at once.

A binary search over a table of tens of millions of n-gram keys touches a cache line per level
once the table outgrows the cache; KenLM's `probing` format answers with a hash table instead.
`HashIndex` is that, in numpy: open addressing with linear probing, slots holding each key's
position in the sorted table (so every array indexed by it stays as it is), the home slot of a
key the top bits of `key * 0x9E3779B97F4A7C15` (Fibonacci hashing). Every query of a batch
advances one slot per round; a round is a handful of numpy operations over the queries still
probing, and at most half the slots are full, so few rounds are needed.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

#: Keys inserted at a time while building: the build's temporaries stay a few tens of MB.
INSERT_SPAN = 1 << 20


class HashIndex:
    """Position of a key in the sorted array `keys` (non-negative, distinct), or -1.

    Parameters
    ----------
    keys : numpy.ndarray
        The sorted table (uint32 or int64); kept by reference, not copied.
    """

    def __init__(self, keys: np.ndarray):
        self.keys = keys
        n = len(keys)
        self.bits = max(int(2 * n - 1).bit_length(), 3)      # 2n <= slots: at most half full
        self.mask = (1 << self.bits) - 1
        self.slots = np.full(1 << self.bits, -1, np.int32 if n < 2**31 else np.int64)
        # Insert a span of keys at a time (bounded temporaries): each round, the keys whose slot
        # is free claim it (where several claim one, one wins), the others move one slot on.
        for lo in range(0, n, INSERT_SPAN):
            pending = np.arange(lo, min(lo + INSERT_SPAN, n), dtype=self.slots.dtype)
            pos = self._home(keys[lo:lo + INSERT_SPAN])
            while len(pending):
                free = self.slots[pos] < 0
                cand, at = pending[free], pos[free]
                self.slots[at] = cand
                won = self.slots[at] == cand
                pending = np.concatenate([pending[~free], cand[~won]])
                pos = np.concatenate([pos[~free], at[~won]])
                pos += 1
                pos &= self.mask

    def _home(self, keys: np.ndarray) -> np.ndarray:
        h = np.asarray(keys).astype(np.uint64) * _GOLDEN          # wraps modulo 2**64
        return (h >> np.uint64(64 - self.bits)).astype(np.int64)

    @property
    def nbytes(self) -> int:
        return int(self.slots.nbytes)

    def find(self, query: np.ndarray) -> np.ndarray:
        """Index in `keys` of each query key (any integer shape), -1 where absent."""
        query = np.asarray(query, np.int64)
        flat = query.ravel()
        out = np.full(len(flat), -1, np.int64)
        # A key of a uint32 table is below 2**32; anything else cannot be in it.
        top = 2**32 if self.keys.dtype == np.uint32 else np.iinfo(np.int64).max
        which = np.flatnonzero((flat >= 0) & (flat < top)) if len(self.keys) else flat[:0]
        q = flat[which]
        pos = self._home(q)
        while len(which):
            idx = self.slots[pos]
            filled = idx >= 0
            hit = filled & (self.keys[np.where(filled, idx, 0)] == q)
            out[which[hit]] = idx[hit]
            go = filled & ~hit                  # an empty slot ends a miss
            which, q, pos = which[go], q[go], pos[go] + 1
            pos &= self.mask
        return out.reshape(query.shape)
