"""Next-token top-k accuracy and mean reciprocal rank, against values worked by hand."""

from __future__ import annotations

import pytest

import langmodels as lm
from langmodels import Corpus
from langmodels.metrics import ranking_metrics
from tests.stubs import TableModel


def test_unigram_ranks_with_shared_ties():
    train = Corpus.from_texts(["a a b"])          # p: a .5, b .25, </s> .25, <unk> 0
    m = lm.make("unigram").fit(train)
    test = Corpus.from_texts(["a b"], vocab=train.vocab)
    r = ranking_metrics(m, test)
    # a: rank 1. b and </s>: one token above, tied with each other: rank 2 or 3, E[1/rank] = 5/12
    assert r["top1_accuracy"] == pytest.approx(1 / 3)
    assert r["top5_accuracy"] == pytest.approx(1.0)
    assert r["mrr"] == pytest.approx((1 + 5 / 12 + 5 / 12) / 3)


def test_uniform_model_gets_chance_level(toy_train, toy_test):
    m = lm.make("uniform").fit(toy_train)
    n = len(toy_train.vocab) - 1   # every token but <s> ties
    r = ranking_metrics(m, toy_test)
    assert r["top1_accuracy"] == pytest.approx(1 / n)
    assert r["top5_accuracy"] == pytest.approx(5 / n)
    assert r["mrr"] == pytest.approx(sum(1 / i for i in range(1, n + 1)) / n)


def test_bigram_stub_in_small_and_large_batches():
    m = TableModel().fit(Corpus.from_texts(["a b c"]))
    test = Corpus.from_texts(["a c", "a b", "b"], vocab=m.vocab_)
    # a c: a rank 1, c after a rank 2 (b .36 > c .34), </s> rank 1; a b: all rank 1;
    # b: b after <s> rank 2 (a .55 > b .40), </s> rank 1
    expect = {"top1_accuracy": 6 / 8, "top5_accuracy": 1.0, "mrr": (8 - 2 * 0.5) / 8}
    assert ranking_metrics(m, test) == pytest.approx(expect)
    assert ranking_metrics(m, test, max_batch_floats=1) == pytest.approx(expect)


@pytest.mark.parametrize("name, params", [
    ("lstm", {"hidden_size": 8}),
    ("transformer", {"n_heads": 2, "block_size": 4}),   # sequences longer than the window
])
def test_neural_whole_sequence_ranks_equal_the_incremental_path(name, params, toy_train, toy_test,
                                                                 monkeypatch):
    m = lm.make(name, embed_dim=8, n_layers=1, epochs=3, lr=0.01, batch_size=4, device="cpu",
                progress=False, **params).fit(toy_train)
    assert max(toy_test.lengths) + 1 > params.get("block_size", 99) or name == "lstm"
    fast = ranking_metrics(m, toy_test, max_batch_floats=500)
    monkeypatch.setattr(type(m), "_target_distributions", lm.LanguageModel._target_distributions)
    slow = ranking_metrics(m, toy_test)
    assert fast == pytest.approx(slow, abs=1e-12)
    assert 0.0 < fast["top1_accuracy"] <= fast["top5_accuracy"] < 1.0   # not a trivial ranking
