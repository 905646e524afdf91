"""Vectorised n-gram counting: every n-gram is a row of a sorted integer table.

A sentence is scored as the window stream `<s> w1 ... wn </s>`; the n-grams of order k are its
windows of length k (so `<s>` appears only as the first word, never padded twice, as in an ARPA
file). Order-k n-grams are stored as sorted int64 keys

    key(w1..wk) = index(w1..w{k-1} in the order k-1 table) * V + wk        (order 1: key = w)

a prefix trie laid out as arrays: a look-up is one `searchsorted` per order, the context of an
entry is `key // V`, its word `key % V`, and the successors of a context are one contiguous run.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .._checks import parse_memory
from ..corpus import Corpus
from ..vocabulary import BOS_ID, EOS_ID

#: N-grams an estimation step takes at a time: its per-n-gram temporaries stay a few MB each
#: where a whole order's would be hundreds.
SPAN = 1 << 20


def window_stream(corpus: Corpus, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, starts): the corpus as one array `<s> a b </s> <s> c </s> ...` and the index
    of each sentence's `<s>` (written into `out` when given: int64 by default)."""
    lengths = corpus.lengths.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 2)[:-1]]).astype(np.int64)
    n = int((lengths + 2).sum())
    tokens = np.empty(n, dtype=np.int64) if out is None else out
    tokens[starts] = BOS_ID
    tokens[starts + lengths + 1] = EOS_ID
    # Each sentence's words sit after its <s>: position i of the ids moves right by 2 per
    # sentence before it, plus one.
    for lo in range(0, len(corpus), 1 << 20):           # in slices: bounded temporaries
        hi = min(lo + (1 << 20), len(corpus))
        a, b = int(corpus.offsets[lo]), int(corpus.offsets[hi])
        shift = np.repeat(2 * np.arange(lo, hi, dtype=np.int64) + 1, lengths[lo:hi])
        tokens[np.arange(a, b, dtype=np.int64) + shift] = corpus.ids[a:b]
    return tokens, starts


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


class NGramCounts:
    """Raw counts of every window of length 1..order of a corpus.

    Attributes, one array per order k = 1..order (index k-1):
      keys[k-1]    sorted int64 keys (order 1: all V word ids, counts may be 0)
      counts[k-1]  raw window counts (the `<s>` unigram counts sentences); int32 below 2**31
                   stream positions (a count never exceeds them), else int64
      suffix[k-1]  index in the order k-1 table of w2..wk (order 1: none); int32 likewise
      bos[k-1]     True where the n-gram starts with `<s>`

    `memory` (bytes, or a size such as "4G" as lmplz's `-S`) bounds the working memory of
    counting: each order is counted in shards of the window stream (each shard sorted into a run
    of distinct n-grams with counts, the runs merged), and when the stream's per-position arrays
    would take more than half the budget they live in memory-mapped files in `tmp_dir`. The
    tables themselves, the output, are not bounded. The counts are the same for any budget.

    `keep_raw` (True) may be set False by a caller that needs no raw counts after estimation:
    the smoothings then drop each order's `counts` and `bos` arrays once used.
    """

    keep_raw = True

    def __init__(self, corpus: Corpus, order: int, memory: int | str | None = None,
                 tmp_dir: str | None = None):
        V = len(corpus.vocab)
        self.V, self.order = V, order
        inside = np.flatnonzero(corpus.ids == BOS_ID)
        if len(inside):
            seq = int(np.searchsorted(corpus.offsets, inside[0], side="right") - 1)
            raise ValueError(f"sequence {seq} of the training corpus contains <s> (a literal '<s>' in "
                             "the text?); <s> only starts a sequence and is never counted as a word")
        budget = DEFAULT_MEMORY if memory is None else parse_memory(memory)
        # About 100 bytes of working memory per stream position of a shard (keys, their sort);
        # shards beyond 4M positions are no faster, so a large budget is not spent on them.
        shard = int(min(max(budget // 100, 64), 1 << 22))
        with tempfile.TemporaryDirectory(dir=tmp_dir, prefix="langmodels-counts-") as tmp:
            n = corpus.n_tokens + 2 * len(corpus)
            spill = 12 * n > budget // 2          # tokens + two node arrays, 4 bytes a position each
            alloc = _Allocator(tmp if spill else None)
            tokens = window_stream(corpus, out=alloc(n, np.int32))[0]
            # A count or a table index is below the stream length: 4 bytes each where it fits,
            # which at scale is a quarter of the tables' memory.
            small = np.int32 if n < 2**31 else np.int64
            self.keys = [np.arange(V, dtype=np.int64)]
            self.counts = [np.bincount(tokens, minlength=V).astype(small)]
            self.suffix: list[np.ndarray | None] = [None]
            self.bos = [np.arange(V) == BOS_ID]
            prev = node = tokens              # prev[t]: the order k-1 window ending at t
            for k in range(2, order + 1):
                node = alloc(n, small) if k < order else None
                runs, suffix = _shard_runs(tokens, prev, V, shard, node, small)
                # The merge needs none of the stream but `node` (for the next order): free the
                # rest first.
                prev = None
                if k == order:
                    tokens = None
                keys, counts, suffix = _merge_order(runs, suffix, node, shard, V, self.keys[-1],
                                                    self.suffix[-1], small)
                self.keys.append(keys)
                self.counts.append(counts)
                self.suffix.append(suffix)
                bos = np.empty(len(keys), bool)
                for lo in range(0, len(keys), SPAN):
                    bos[lo:lo + SPAN] = self.bos[-1][keys[lo:lo + SPAN] // V]
                self.bos.append(bos)
                prev = node
            tokens = prev = node = None       # before the folder of their files goes

    def context(self, k: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Index in the order k-1 table of each order-k n-gram's context (order 1: zeros), for
        the entries lo:hi of the order."""
        if k == 1:
            return np.zeros(len(range(self.V)[lo:hi]), np.int64)
        return self.keys[k - 1][lo:hi] // self.V

    def spans(self, k: int, size: int | None = None):
        """(lo, hi) slices of about `size` (default `SPAN`) order-k entries that never split a
        context: a sum over each context's n-grams is then the same, bit for bit, slice by slice."""
        size = SPAN if size is None else size
        keys, n, lo = self.keys[k - 1], len(self.keys[k - 1]), 0
        while lo < n:
            hi = n if k == 1 else min(lo + size, n)
            if hi < n:                    # back to where keys[hi]'s context starts, or past it
                ctx = int(keys[hi]) // self.V
                cut = int(np.searchsorted(keys, ctx * self.V))
                hi = cut if cut > lo else int(np.searchsorted(keys, (ctx + 1) * self.V))
            yield lo, hi
            lo = hi

    def words(self, k: int) -> np.ndarray:
        return self.keys[k - 1] % self.V

    def n_contexts(self, k: int) -> int:
        """Number of possible contexts of order-k n-grams (1 for unigrams: the empty one)."""
        return 1 if k == 1 else len(self.keys[k - 2])

    def continuation_counts(self, k: int) -> np.ndarray:
        """Number of distinct words seen before each order-k n-gram: N1+(. w1..wk), k < order."""
        return np.bincount(self.suffix[k], minlength=len(self.keys[k - 1])).astype(np.int64, copy=False)


# --- counting in shards ---------------------------------------------------------------------------
#: The working-memory budget of counting when `fit` is given none (bytes).
DEFAULT_MEMORY = 1 << 30


class _Allocator:
    """Stream-length arrays in memory, or memory-mapped files in `folder` when one is given
    (the folder is temporary: its files go with it)."""

    def __init__(self, folder: str | None):
        self.folder, self.count = folder, 0

    def __call__(self, n: int, dtype) -> np.ndarray:
        if self.folder is None:
            return np.empty(n, dtype)
        self.count += 1
        return np.lib.format.open_memmap(os.path.join(self.folder, f"a{self.count}.npy"), "w+", dtype,
                                         (max(n, 1),))[:n]


def _sorted_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, first): `keys[order]` is sorted and `first` marks where each distinct key starts.

    As in `_sort_with_positions`: when key and position fit in 64 bits together, one value sort
    of `key << bits | position` (numpy's SIMD sort) is many times faster than an argsort."""
    m = len(keys)
    bits = max(int(m - 1).bit_length(), 1)
    if m and int(keys.max()).bit_length() + bits <= 64:
        packed = keys.astype(np.uint64) << np.uint64(bits)
        packed |= np.arange(m, dtype=np.uint64)
        packed.sort()
        order = (packed & np.uint64((1 << bits) - 1)).astype(np.int64)
        packed >>= np.uint64(bits)
        ordered = packed.view(np.int64)
    else:
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
    first = np.empty(m, bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return order, first


def _shard_runs(tokens, prev, V: int, shard: int, node, small=np.int32):
    """(runs, suffix) of the order-k windows, prev[t] the order k-1 window ending at t: each
    shard of positions sorted into a run (distinct keys, counts as `small`). Fills node[t] with
    the window's index in its shard's run (-1 where none) unless node is None. With a single
    shard the run is the table, and suffix (else None) its n-grams' suffixes.

    The window ending at t is `prev[t-1] * V + tokens[t]` where t does not start a sentence
    and the order k-1 window before it exists (it then lies inside one sentence).
    """
    n = len(tokens)
    runs = []
    if node is not None:
        node[0] = -1                      # position 0 is the first <s>: no window ends there
    for lo in range(1, n, shard):
        hi = min(lo + shard, n)
        before = np.asarray(prev[lo - 1:hi - 1], np.int64)
        tok = np.asarray(tokens[lo:hi], np.int64)
        valid = np.flatnonzero((before >= 0) & (tok != BOS_ID))
        key = before[valid] * V + tok[valid]
        del before, tok
        order, first = _sorted_groups(key)
        starts = np.flatnonzero(first)
        keys = key[order[starts]]
        counts = np.diff(np.append(starts, len(key))).astype(small)
        if node is not None:
            out = np.full(hi - lo, -1, node.dtype)
            inverse = np.empty(len(key), np.int64)
            inverse[order] = np.cumsum(first) - 1
            out[valid] = inverse
            node[lo:hi] = out
        runs.append((keys, counts))
        if n <= 1 + shard:                # one shard: the suffix w2..wk of the window ending at t
            return runs, np.asarray(prev[lo:hi], small)[valid[order[starts]]]    # is prev[t]
        del key, order, first, starts, keys, counts
    return runs, None


def _merge_order(runs, suffix, node, shard: int, V: int, lower_keys, lower_suffix, small=np.int32):
    """(keys, counts, suffix) of an order from its shards' runs (`_shard_runs`); turns node's
    run indices into table indices."""
    if suffix is not None:                # one shard: its run is the table
        return *runs[0], suffix
    # The node arrays need each run's keys after the merge; the highest order has none, and
    # there the merge frees each run as it packs it.
    run_keys = [r[0] for r in runs] if node is not None else []
    keys, counts = _merge_runs(runs, small)
    for i, one_run in enumerate(run_keys):       # shard-relative indices -> merged table's
        lo = 1 + i * shard
        local = np.asarray(node[lo:lo + shard], np.int64)
        hit = local >= 0
        local[hit] = np.searchsorted(keys, one_run)[local[hit]]
        node[lo:lo + shard] = local
    del run_keys
    # The suffix of h w (h an order k-1 entry) is the entry suffix(h) w of the order k-1 table,
    # looked up a span of keys at a time (a look-up takes ~80 bytes per query).
    if lower_suffix is None:
        return keys, counts, (keys % V).astype(small)
    table = compact_keys(lower_keys)
    suffix = np.empty(len(keys), small)
    step = min(shard, SPAN)
    for lo in range(0, len(keys), step):
        part = keys[lo:lo + step]
        suffix[lo:lo + step] = lookup(table, lower_suffix[part // V].astype(np.int64) * V + part % V)
    return keys, counts, suffix


def _merge_runs(runs: list, small=np.int64) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and summed counts (as `small`) of sorted runs (key, count); empties
    `runs` as it goes, so each run's memory is freed once packed.

    A key and its count in one run fit together in a uint64 for realistic tables, so the merge
    is one value sort of `key << bits | count` and a sum over equal keys: about 13 bytes per run
    entry, where an argsort with gathers would take some 50."""
    total = sum(len(r[0]) for r in runs)
    bits = max(int(max(r[1].max(initial=0) for r in runs)).bit_length(), 1)
    top = max(int(r[0].max(initial=0)) for r in runs)
    if top.bit_length() + bits > 64:
        all_keys = np.concatenate([r[0] for r in runs])
        order, first = _sorted_groups(all_keys)
        starts = np.flatnonzero(first)
        counts = np.add.reduceat(np.concatenate([r[1] for r in runs])[order], starts)
        runs.clear()
        return all_keys[order[starts]], counts.astype(small)
    packed = np.empty(total, np.uint64)
    at = 0
    while runs:
        run_keys, run_counts = runs.pop(0)
        chunk = packed[at:at + len(run_keys)]
        np.left_shift(run_keys.astype(np.uint64), np.uint64(bits), out=chunk)
        chunk |= run_counts.astype(np.uint64)
        at += len(run_keys)
        del run_keys, run_counts, chunk
    packed.sort()
    counts = (packed & np.uint64((1 << bits) - 1)).astype(small)
    packed >>= np.uint64(bits)
    first = np.empty(total, bool)
    first[:1] = True
    np.not_equal(packed[1:], packed[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    del first
    keys = packed[starts].view(np.int64)
    del packed
    return keys, np.add.reduceat(counts, starts)
