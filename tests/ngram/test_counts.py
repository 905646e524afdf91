"""Counting and the vectorised look-up under every n-gram score, against plain dicts."""

import numpy as np
import pytest

from langmodels import Corpus, InvalidParameterError
from langmodels._checks import parse_memory
from langmodels.ngram.counts import NGramCounts, compact_keys, lookup
from langmodels.vocabulary import BOS_ID, EOS_ID


@pytest.mark.parametrize("big", [False, True], ids=["uint32 keys", "int64 keys"])
def test_lookup_matches_a_dict(big):
    rng = np.random.default_rng(0)
    offset = 2**40 if big else 0
    keys = np.unique(rng.integers(0, 5000, 800)) + offset
    table = compact_keys(keys)
    assert table.dtype == (np.int64 if big else np.uint32)
    # Repeated, absent, negative and out-of-range queries, in no order.
    query = np.concatenate([rng.choice(keys, 300), rng.integers(0, 5000, 300) + offset,
                            [-1, -7, 2**33 + offset, keys[0], keys[-1], keys[0]]])
    rng.shuffle(query)
    where = {int(k): i for i, k in enumerate(keys)}
    expected = np.array([where.get(int(q), -1) for q in query])
    np.testing.assert_array_equal(lookup(table, query), expected)
    np.testing.assert_array_equal(lookup(table, query.reshape(-1, 2)), expected.reshape(-1, 2))


def test_lookup_of_nothing():
    assert lookup(compact_keys(np.arange(3)), np.array([], np.int64)).shape == (0,)
    np.testing.assert_array_equal(lookup(compact_keys(np.array([], np.int64)), np.array([0, 1])), [-1, -1])


def window_counts_by_dict(sentences, order):
    """Every window of `<s> w1 .. wn </s>` (no window starts after `<s>` padding) in a Counter."""
    from collections import Counter

    out = Counter()
    for s in sentences:
        seq = [BOS_ID, *s, EOS_ID]
        for k in range(1, order + 1):
            out.update(tuple(seq[i:i + k]) for i in range(len(seq) - k + 1))
    return out


@pytest.mark.parametrize("memory", [None, "8K", 1000],
                         ids=["one pass", "shards, spilled", "64-position shards"])
def test_counts_in_shards_equal_a_dict_of_windows(memory, tmp_path):
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(30)]
    texts = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(300)]
    corpus = Corpus.from_texts(texts)
    counts = NGramCounts(corpus, 4, memory=memory, tmp_dir=str(tmp_path))
    expected = window_counts_by_dict([list(s) for s in corpus.sequences()], 4)
    for k in range(1, 5):
        table = {t: c for t, c in zip(sorted_tables(counts, k), counts.counts[k - 1].tolist()) if c > 0}
        assert table == {t: c for t, c in expected.items() if len(t) == k}
        if k > 1:     # suffix: the order k-1 entry of w2..wk
            lower = {t: i for i, t in enumerate(sorted_tables(counts, k - 1))}
            assert [lower[t[1:]] for t in sorted_tables(counts, k)] == counts.suffix[k - 1].tolist()
    assert list(tmp_path.iterdir()) == []          # the spill files went with their folder


def sorted_tables(counts, k):
    """The order-k table's n-grams as word-id tuples, in table order."""
    V = counts.V
    if k == 1:
        return [(w,) for w in counts.keys[0].tolist()]
    lower = sorted_tables(counts, k - 1)
    keys = counts.keys[k - 1]
    return [(*lower[c], w) for c, w in zip((keys // V).tolist(), (keys % V).tolist())]


@pytest.mark.parametrize("text, expected", [(1024, 1024), ("512", 512), ("4K", 4096), ("1.5M", 3 * 2**19),
                                            ("4G", 4 * 2**30), ("2gb", 2 * 2**30)])
def test_parse_memory(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("bad", [0, -1, "", "G", "lots", "-4G", True, 1.5])
def test_parse_memory_refuses(bad):
    with pytest.raises(InvalidParameterError, match="memory must be"):
        parse_memory(bad)


@pytest.mark.parametrize("size", [1, 3, 50, 10**6])
def test_spans_cover_each_order_without_splitting_a_context(size):
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(8)]
    corpus = Corpus.from_texts([" ".join(rng.choice(words, rng.integers(1, 9))) for _ in range(60)])
    counts = NGramCounts(corpus, 3)
    for k in (1, 2, 3):
        spans = list(counts.spans(k, size))
        n = len(counts.keys[k - 1])
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(spans, spans[1:]))
        ctx = counts.context(k)
        assert all(ctx[hi - 1] != ctx[hi] for _, hi in spans[:-1])   # a context stays whole
        if k > 1 and size < n:
            assert len(spans) > 1
        for lo, hi in spans:
            assert counts.context(k, lo, hi).tolist() == ctx[lo:hi].tolist()


def test_counts_and_suffixes_are_four_bytes_each():
    corpus = Corpus.from_texts(["a b a b c", "b c a"])
    counts = NGramCounts(corpus, 3)
    assert all(c.dtype == np.int32 for c in counts.counts)
    assert all(s.dtype == np.int32 for s in counts.suffix[1:])
