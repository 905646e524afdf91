"""The vectorised look-up under every n-gram score, against a plain dict."""

import numpy as np
import pytest

from langmodels.ngram.counts import compact_keys, lookup


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
