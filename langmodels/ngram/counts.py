"""Vectorised n-gram counting: every n-gram is a row of a sorted integer table.

A sentence is scored as the window stream `<s> w1 ... wn </s>`; the n-grams of order k are its
windows of length k (so `<s>` appears only as the first word, never padded twice, as in an ARPA
file). Order-k n-grams are stored as sorted int64 keys

    key(w1..wk) = index(w1..w{k-1} in the order k-1 table) * V + wk        (order 1: key = w)

a prefix trie laid out as arrays: a look-up is one `searchsorted` per order, the context of an
entry is `key // V`, its word `key % V`, and the successors of a context are one contiguous run.
"""

from __future__ import annotations

import numpy as np

from ..corpus import Corpus
from ..vocabulary import BOS_ID, EOS_ID


def window_stream(corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, starts): the corpus as one array `<s> a b </s> <s> c </s> ...` and the index
    of each sentence's `<s>`."""
    lengths = corpus.lengths.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 2)[:-1]]).astype(np.int64)
    tokens = np.empty(int((lengths + 2).sum()), dtype=np.int64)
    tokens[starts] = BOS_ID
    tokens[starts + lengths + 1] = EOS_ID
    mask = np.ones(len(tokens), bool)
    mask[starts] = False
    mask[starts + lengths + 1] = False
    tokens[mask] = corpus.ids
    return tokens, starts


def positions_in_sentence(tokens_len: int, starts: np.ndarray) -> np.ndarray:
    """For each stream position, its distance from its sentence's `<s>` (0 at `<s>`)."""
    pos = np.arange(tokens_len, dtype=np.int64)
    sent = np.searchsorted(starts, pos, side="right") - 1
    return pos - starts[sent]


def compact_keys(keys: np.ndarray) -> np.ndarray:
    """The keys as uint32 when they fit (half the memory), else int64."""
    keys = np.asarray(keys)
    if len(keys) == 0 or (keys.min() >= 0 and keys.max() < 2**32):
        return np.ascontiguousarray(keys, np.uint32)
    return np.ascontiguousarray(keys, np.int64)


def search(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """np.searchsorted(keys, query) for int64 queries, without converting a uint32 table."""
    query = np.asarray(query, np.int64)
    if keys.dtype == np.int64:
        return np.searchsorted(keys, query)
    idx = np.searchsorted(keys, np.clip(query, 0, 2**32 - 1).astype(keys.dtype))
    idx[query >= 2**32] = len(keys)
    return idx


def lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each query key in the sorted `keys`, or -1 where absent (negative queries too).

    The distinct queries are searched in sorted order: numpy's binary search starts from the
    previous answer, so sorted queries run several times faster than random ones, sort included."""
    query = np.asarray(query, np.int64)
    flat = query.ravel()
    limit = 2**32 if keys.dtype == np.uint32 else np.iinfo(np.int64).max
    if len(keys) == 0 or len(flat) == 0:
        return np.full(query.shape, -1, np.int64)
    if flat.min() < 0 or flat.max() >= limit:
        out = np.full(len(flat), -1, np.int64)
        valid = np.flatnonzero((flat >= 0) & (flat < limit))
        out[valid] = lookup(keys, flat[valid])
        return out.reshape(query.shape)
    q, order = _sort_with_positions(flat.astype(keys.dtype))
    first = np.empty(len(q), bool)           # n-grams repeat (Zipf): search each distinct one once
    first[0] = True
    np.not_equal(q[1:], q[:-1], out=first[1:])
    distinct = q[first]
    idx = np.searchsorted(keys, distinct)
    np.minimum(idx, len(keys) - 1, out=idx)
    found = np.where(keys[idx] == distinct, idx, -1)
    out = np.empty(len(flat), np.int64)
    out[order] = found[np.cumsum(first) - 1]
    return out.reshape(query.shape)


def _sort_with_positions(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(np.sort(q), np.argsort(q)). For uint32 keys, sorting `key << 32 | position` as one uint64
    is faster than an argsort (numpy's value sorts are SIMD-vectorised, its argsorts less so)."""
    if q.dtype != np.uint32 or len(q) >= 2**32:
        order = np.argsort(q)
        return q[order], order
    packed = q.astype(np.uint64) << np.uint64(32)
    packed |= np.arange(len(q), dtype=np.uint64)
    packed.sort()
    return (packed >> np.uint64(32)).astype(np.uint32), (packed & np.uint64(2**32 - 1)).astype(np.int64)


def stream_nodes(tables: list[np.ndarray], tokens: np.ndarray, V: int) -> list[np.ndarray]:
    """nodes[k-1][t] = index in the order-k table of the window of length k ending at t, or -1.

    One look-up per order over the whole stream; a window reaching across a sentence boundary
    contains `</s> <s>`, which no table holds, so it is -1 without extra bookkeeping.
    """
    nodes = [np.where(tokens < V, tokens, -1)]
    for k in range(2, len(tables) + 1):
        prev = np.full(len(tokens), -1, np.int64)
        prev[1:] = nodes[-1][:-1]
        query = np.where(prev >= 0, prev * V + tokens, -1)
        nodes.append(lookup(tables[k - 1], query))
    return nodes


class NGramCounts:
    """Raw counts of every window of length 1..order of a corpus.

    Attributes, one array per order k = 1..order (index k-1):
      keys[k-1]    sorted int64 keys (order 1: all V word ids, counts may be 0)
      counts[k-1]  raw window counts (the `<s>` unigram counts sentences)
      suffix[k-1]  index in the order k-1 table of w2..wk (order 1: none)
      bos[k-1]     True where the n-gram starts with `<s>`
    """

    def __init__(self, corpus: Corpus, order: int):
        V = len(corpus.vocab)
        self.V, self.order = V, order
        inside = np.flatnonzero(corpus.ids == BOS_ID)
        if len(inside):
            seq = int(np.searchsorted(corpus.offsets, inside[0], side="right") - 1)
            raise ValueError(f"sequence {seq} of the training corpus contains <s> (a literal '<s>' in "
                             "the text?); <s> only starts a sequence and is never counted as a word")
        tokens, starts = window_stream(corpus)
        dist = positions_in_sentence(len(tokens), starts)
        self.keys = [np.arange(V, dtype=np.int64)]
        self.counts = [np.bincount(tokens, minlength=V).astype(np.int64)]
        self.suffix: list[np.ndarray | None] = [None]
        self.bos = [np.arange(V) == BOS_ID]
        nodes = [tokens]                  # nodes[k-1][t]: order-k window ending at t, or -1
        for k in range(2, order + 1):
            valid = np.flatnonzero(dist >= k - 1)            # windows inside one sentence
            key = nodes[-1][valid - 1] * V + tokens[valid]
            keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
            # The suffix w2..wk of the window ending at t is the order k-1 window ending at t.
            suffix = np.empty(len(keys), np.int64)
            suffix[inverse] = nodes[-1][valid]
            node = np.full(len(tokens), -1, np.int64)
            node[valid] = inverse
            nodes.append(node)
            self.keys.append(keys)
            self.counts.append(counts.astype(np.int64))
            self.suffix.append(suffix)
            self.bos.append(self.bos[-1][keys // V])

    def context(self, k: int) -> np.ndarray:
        """Index in the order k-1 table of each order-k n-gram's context (order 1: zeros)."""
        if k == 1:
            return np.zeros(self.V, np.int64)
        return self.keys[k - 1] // self.V

    def words(self, k: int) -> np.ndarray:
        return self.keys[k - 1] % self.V

    def n_contexts(self, k: int) -> int:
        """Number of possible contexts of order-k n-grams (1 for unigrams: the empty one)."""
        return 1 if k == 1 else len(self.keys[k - 2])

    def continuation_counts(self, k: int) -> np.ndarray:
        """Number of distinct words seen before each order-k n-gram: N1+(. w1..wk), k < order."""
        return np.bincount(self.suffix[k], minlength=len(self.keys[k - 1])).astype(np.int64)
