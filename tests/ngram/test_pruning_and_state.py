"""Count-threshold pruning keeps distributions normalised; the incremental state is exact."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, InvalidParameterError, make
from tests.stubs import histories_for

NAMES = ["mle", "add-k", "witten-bell", "absolute-discount", "kneser-ney", "modified-kneser-ney", "katz"]


def fit(name, corpus, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make(name, **params).fit(corpus)


@pytest.mark.parametrize("name", NAMES)
def test_pruned_model_sums_to_one_and_keeps_survivors(name, toy_train, toy_test, tmp_path):
    full = fit(name, toy_train, order=3)
    pruned = fit(name, toy_train, order=3, min_counts=[1, 2, 2])
    hs = histories_for(toy_train.vocab)
    np.testing.assert_allclose(np.exp(pruned.next_logprobs(hs)).sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(pruned.token_logprobs(toy_test),
                               lm.LanguageModel._token_logprobs(pruned, toy_test), atol=1e-12)
    a, b = full.tables_, pruned.tables_
    assert b.n_ngrams[0] == a.n_ngrams[0] and b.n_ngrams[1] < a.n_ngrams[1] and b.n_ngrams[2] < a.n_ngrams[2]
    # "the cat" was seen twice: it survives with the probability the full model gives it.
    v = toy_train.vocab
    assert pruned.next_logprobs([[v["the"]]])[0, v["cat"]] == pytest.approx(
        full.next_logprobs([[v["the"]]])[0, v["cat"]])
    if name != "add-k":
        pruned.save_arpa(tmp_path / "p.arpa")
        loaded = lm.load_arpa(tmp_path / "p.arpa", toy_train.vocab)
        np.testing.assert_allclose(loaded.token_logprobs(toy_test), pruned.token_logprobs(toy_test),
                                   atol=1e-12)


def test_pruning_nothing_changes_nothing(toy_train, toy_test):
    a = fit("kneser-ney", toy_train, order=3)
    b = fit("kneser-ney", toy_train, order=3, min_counts=[1, 1, 1])
    np.testing.assert_array_equal(a.token_logprobs(toy_test), b.token_logprobs(toy_test))


@pytest.mark.parametrize("order", [1, 2, 5])
def test_state_holds_last_ids_and_matches_rescoring(order, toy_train):
    m = fit("modified-kneser-ney", toy_train, order=order)
    v = toy_train.vocab
    prefixes = [[], [v["the"], v["cat"], v["sat"], v["on"]]]
    state, lp = m.start_state(prefixes)
    assert state.shape == (2, order - 1)
    for tok in ([v["the"], v["the"]], [v["mat"], v.eos_id], [v["was"], v.unk_id]):
        state, lp = m.advance(state, tok)
        prefixes = [p + [t] for p, t in zip(prefixes, tok)]
        np.testing.assert_allclose(lp, m.next_logprobs(prefixes), atol=1e-12)


def test_greedy_generation_follows_the_model(toy_train):
    m = fit("kneser-ney", toy_train, order=3)
    v = toy_train.vocab
    [g] = m.generate([[v["the"]]], max_new_tokens=5, do_sample=False)
    assert 1 <= len(g.tokens) <= 5
    history = [v["the"]]
    for tok, lp in zip(g.tokens, g.logprobs):
        row = m.next_logprobs([history])[0]
        assert tok == int(np.argmax(row)) and lp == pytest.approx(row[tok])
        history.append(tok)


@pytest.mark.parametrize("name", ["modified-kneser-ney", "katz", "add-k"])
def test_a_memory_budget_changes_nothing_but_memory(name, tmp_path):
    texts = [" ".join(f"w{(i * j) % 17}" for j in range(i % 9 + 1)) for i in range(200)]
    corpus = Corpus.from_texts(texts)
    a = make(name, order=4).fit(corpus)
    b = make(name, order=4).fit(corpus, memory="4K", tmp_dir=str(tmp_path))
    for k in range(4):
        np.testing.assert_array_equal(a.tables_.keys[k], b.tables_.keys[k])
        np.testing.assert_array_equal(a.tables_.logp[k], b.tables_.logp[k])
    with pytest.raises(InvalidParameterError, match="memory must be"):
        make(name, order=2).fit(corpus, memory="plenty")


@pytest.mark.parametrize("name", ["modified-kneser-ney", "kneser-ney", "absolute-discount", "add-k"])
def test_estimating_a_few_ngrams_at_a_time_changes_no_bit(name, monkeypatch):
    from langmodels.ngram import counts as counts_module

    texts = [" ".join(f"w{(i * j) % 23}" for j in range(i % 11 + 1)) for i in range(300)]
    corpus = Corpus.from_texts(texts)
    whole = make(name, order=4).fit(corpus)
    monkeypatch.setattr(counts_module, "SPAN", 3)      # spans of about 3 n-grams, not 2**20
    spans = make(name, order=4).fit(corpus)
    for k in range(4):
        np.testing.assert_array_equal(whole.tables_.keys[k], spans.tables_.keys[k])
        np.testing.assert_array_equal(whole.tables_.logp[k], spans.tables_.logp[k])
        if k < 3:
            np.testing.assert_array_equal(whole.tables_.logbow[k], spans.tables_.logbow[k])
