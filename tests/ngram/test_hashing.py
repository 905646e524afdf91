"""The hash index answers exactly what a search of the sorted table answers."""

from __future__ import annotations

import numpy as np
import pytest

from langmodels import Corpus, make
from langmodels.ngram import backoff
from langmodels.ngram.hashing import HashIndex


def by_dict(keys, query):
    where = {int(k): i for i, k in enumerate(keys.tolist())}
    return np.array([where.get(int(q), -1) for q in np.ravel(query)]).reshape(np.shape(query))


@pytest.mark.parametrize("dtype, n", [(np.uint32, 1000), (np.int64, 5000), (np.int64, 1), (np.uint32, 0)])
@pytest.mark.parametrize("span", [7, 1 << 20])
def test_find_agrees_with_a_dict(dtype, n, span, monkeypatch):
    from langmodels.ngram import hashing

    monkeypatch.setattr(hashing, "INSERT_SPAN", span)     # built in spans of 7 keys, or at once
    rng = np.random.default_rng(1)
    top = 2**32 - 1 if dtype == np.uint32 else 2**62
    keys = np.unique(rng.integers(0, top, n)).astype(dtype)
    index = HashIndex(keys)
    present = keys[rng.integers(0, len(keys), 300)].astype(np.int64) if len(keys) else np.zeros(0, np.int64)
    query = np.concatenate([present, rng.integers(0, top, 300), [-1, -7, 2**32, 2**40, 2**63 - 1]])
    np.testing.assert_array_equal(index.find(query), by_dict(keys, query))
    grid = query[:300].reshape(20, 15)
    np.testing.assert_array_equal(index.find(grid), by_dict(keys, grid))


def test_colliding_keys_probe_past_each_other():
    # Keys differing only in their low bits share a home slot in a small table (Fibonacci hashing
    # takes the product's top bits), so most of them sit away from home.
    keys = np.arange(0, 64 << 40, 1 << 40, dtype=np.int64)
    index = HashIndex(keys)
    homes = index._home(keys)
    assert len(np.unique(homes)) < len(keys)
    query = np.concatenate([keys, keys + 1])
    np.testing.assert_array_equal(index.find(query), by_dict(keys, query))


def test_models_score_the_same_through_the_hash(monkeypatch):
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(40)]
    train = Corpus.from_texts([" ".join(rng.choice(words, rng.integers(1, 15))) for _ in range(400)])
    test = Corpus.from_texts([" ".join(rng.choice(words, rng.integers(1, 15))) for _ in range(50)],
                             vocab=train.vocab)
    for name in ("modified-kneser-ney", "add-k"):        # backoff and uniform scoring paths
        model = make(name, order=4).fit(train)
        expected = model.token_logprobs(test)
        rows = model.next_logprobs([[4, 5], [6]])
        monkeypatch.setattr(backoff, "HASH_MIN", 0)      # every order through a hash index
        np.testing.assert_array_equal(model.token_logprobs(test), expected)
        np.testing.assert_array_equal(model.next_logprobs([[4, 5], [6]]), rows)
        assert all(h is not None for h in model.tables_._hash[1:])   # unigrams are indexed by id
        monkeypatch.undo()
