"""Every smoothing against probabilities worked by hand on a two-sentence corpus.

Corpus "a b" / "a a": windows <s> a b </s> and <s> a a </s>; vocabulary <unk> <s> </s> a b,
so V - 1 = 4 words can be predicted (uniform = 1/4).
  unigram targets: a 3, b 1, </s> 2 (N = 6; <s> is never a target)
  bigrams: <s> a 2 | a b 1, a a 1, a </s> 1 (c(a) = 3) | b </s> 1
  Kneser-Ney adjusted unigram counts (distinct left words): a 2 (<s>, a), b 1, </s> 2 (a, b): 5
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, make


@pytest.fixture(scope="module")
def toy():
    return Corpus.from_texts(["a b", "a a"])


def probs(model, history):
    v = model.vocab_
    lp = model.next_logprobs([[v[w] for w in history]])[0]
    return {w: np.exp(lp[v[w]]) for w in ["<unk>", "</s>", "a", "b"]}


def test_mle(toy):
    m = make("mle", order=2).fit(toy)
    assert probs(m, [])["a"] == pytest.approx(1.0)                    # c(<s> a) / c(<s>) = 2/2
    assert probs(m, ["a"])["b"] == pytest.approx(1 / 3)               # c(a b) / c(a)
    assert probs(m, ["a"])["<unk>"] == 0.0
    # "</s>" was never a context: back off to the longest seen suffix, the empty one: c(a)/N
    assert probs(m, ["b", "</s>"])["a"] == pytest.approx(3 / 6)


def test_laplace_and_add_k(toy):
    m = make("laplace", order=2).fit(toy)
    assert probs(m, [])["a"] == pytest.approx(3 / 6)                  # (2 + 1) / (2 + 4)
    assert probs(m, [])["b"] == pytest.approx(1 / 6)                  # (0 + 1) / (2 + 4)
    assert probs(m, ["a"])["b"] == pytest.approx(2 / 7)               # (1 + 1) / (3 + 4)
    assert probs(m, ["a"])["<unk>"] == pytest.approx(1 / 7)
    m = make("add-k", order=2, k=0.5).fit(toy)
    assert probs(m, ["a"])["b"] == pytest.approx(1.5 / 5)             # (1 + .5) / (3 + .5*4)
    u = make("add-k", order=1, k=0.5).fit(toy)
    assert probs(u, ["a"])["b"] == pytest.approx(1.5 / 8)             # (1 + .5) / (6 + .5*4)


def test_witten_bell(toy):
    m = make("witten-bell", order=2).fit(toy)
    # unigrams: (c(w) + N1+ * 1/4) / (N + N1+), N1+ = 3 types: a 3.75/9, b 1.75/9, <unk> .75/9
    p = probs(m, ["b", "</s>"])        # context "</s>" unseen: gamma = 1, the unigrams
    assert p["a"] == pytest.approx(3.75 / 9) and p["<unk>"] == pytest.approx(0.75 / 9)
    # p(b | a) = c(a b) / (c(a) + N1+(a .)) + N1+(a .) / (c(a) + N1+(a .)) p(b) = 1/6 + 1/2 * 1.75/9
    assert probs(m, ["a"])["b"] == pytest.approx(1 / 6 + 0.5 * 1.75 / 9)


def test_absolute_discount(toy):
    m = make("absolute-discount", order=2, discount=0.5).fit(toy)
    # p(b) = (1 - .5)/6 + (.5 * 3 / 6) * 1/4 = 7/48; p(b | a) = (1 - .5)/3 + (.5 * 3 / 3) p(b)
    assert probs(m, ["a"])["b"] == pytest.approx(0.5 / 3 + 0.5 * 7 / 48)


def test_kneser_ney(toy):
    m = make("kneser-ney", order=2, discount=0.5).fit(toy)
    # unigrams on adjusted counts: (a - .5)/5 + (.5 * 3/5) * 1/4: a .375, b .175, </s> .375, <unk> .075
    p = probs(m, ["b", "</s>"])
    assert [p[w] for w in ["a", "b", "</s>", "<unk>"]] == pytest.approx([0.375, 0.175, 0.375, 0.075])
    # p(b | a) = (1 - .5)/3 + (.5 * 3/3) * .175 ; p(a | <s>) = (2 - .5)/2 + (.5 * 1/2) * .375
    assert probs(m, ["a"])["b"] == pytest.approx(0.5 / 3 + 0.5 * 0.175)
    assert probs(m, [])["a"] == pytest.approx(0.75 + 0.25 * 0.375)


def test_modified_kneser_ney_with_given_discounts(toy):
    m = make("modified-kneser-ney", order=2, discount=[(0.5, 1.0, 1.5)] * 2).fit(toy)
    # unigrams: a (2-1)/5, b (1-.5)/5, </s> (2-1)/5; gamma = (.5*1 + 1*2)/5 = .5, uniform .5/4
    p = probs(m, ["b", "</s>"])
    assert [p[w] for w in ["a", "b", "</s>", "<unk>"]] == pytest.approx([0.325, 0.225, 0.325, 0.125])
    # p(a | <s>) = (2 - 1)/2 + (1 * 1)/2 * .325 ; p(b | a) = (1 - .5)/3 + (.5 * 3)/3 * .225
    assert probs(m, [])["a"] == pytest.approx(0.5 + 0.5 * 0.325)
    assert probs(m, ["a"])["b"] == pytest.approx(0.5 / 3 + 0.5 * 0.225)


def test_modified_kneser_ney_falls_back_like_lmplz(toy):
    with pytest.warns(UserWarning, match="discount_fallback"):
        m = make("modified-kneser-ney", order=2).fit(toy)
    assert m.discounts_ == [(0.5, 1.0, 1.5)] * 2
    given = make("modified-kneser-ney", order=2, discount=[(0.5, 1.0, 1.5)] * 2).fit(toy)
    np.testing.assert_allclose(m.next_logprobs([[], [3]]), given.next_logprobs([[], [3]]))


def test_katz_good_turing_and_backoff():
    # Sentences "x w": w1..w5 once, w6 and w7 twice, w8 three times. Bigrams "x w" and "w </s>"
    # share each count, "<s> x" has 12: n1 = 10, n2 = 4, n3 = 2.
    # K = 2: d_r = (r*/r - 3 n3/n1) / (1 - 3 n3/n1), r* = (r+1) n_{r+1} / n_r, 3 n3/n1 = .6
    #   d1 = (2*4/10 - .6) / .4 = .5 ;  d2 = (3*2/(2*4) - .6) / .4 = .375 ; counts > K kept.
    texts = [f"x w{i}" for i in range(1, 6)] + ["x w6", "x w7"] * 2 + ["x w8"] * 3
    corpus = Corpus.from_texts(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # the unigram counts give no valid ratios
        m = make("katz", order=2, max_count=2).fit(corpus)
    v = corpus.vocab
    p = np.exp(m.next_logprobs([[v["x"]]])[0])
    assert p[v["w8"]] == pytest.approx(3 / 12)
    assert p[v["w6"]] == pytest.approx(0.375 * 2 / 12)
    assert p[v["w1"]] == pytest.approx(0.5 * 1 / 12)
    # The 5/12 left over goes to the words never seen after x, in proportion to their unigrams.
    unseen = [v["</s>"], v["x"], v.unk_id]
    lower = np.exp(m.next_logprobs([[v["</s>"]]])[0])       # context never seen: the unigrams
    np.testing.assert_allclose(p[unseen], 5 / 12 * lower[unseen] / lower[unseen].sum())
    assert p.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["mle", "laplace", "witten-bell", "absolute-discount", "kneser-ney",
                                  "modified-kneser-ney", "katz"])
@pytest.mark.parametrize("order", [1, 2, 4, 7])
def test_every_order_gives_distributions(name, order, toy_train, toy_test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make(name, order=order).fit(toy_train)
    hs = [[], [5], [5, 6, 7, 8, 9, 10, 11, 12], [0, 0]]
    lp = m.next_logprobs(hs)
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(m.token_logprobs(toy_test),
                               lm.LanguageModel._token_logprobs(m, toy_test), atol=1e-12)


@pytest.mark.parametrize("params", [{"order": 0}, {"order": 2.5}, {"order": 2, "min_counts": [1]},
                                    {"order": 2, "min_counts": [2, 2]},
                                    {"order": 3, "min_counts": [1, 3, 2]}])
def test_bad_parameters_are_named(params, toy):
    with pytest.raises(lm.InvalidParameterError, match="order|min_counts"):
        make("kneser-ney", **params).fit(toy)


def test_zero_probability_is_reported_not_a_crash(toy):
    test = Corpus.from_texts(["b b"], vocab=toy.vocab)
    report = lm.evaluate(make("mle", order=2).fit(toy), test)   # c(b b) = 0 after seen "b"
    assert report.n_zero_prob >= 1 and report.perplexity == np.inf


def test_literal_bos_in_training_text_is_refused():
    with pytest.raises(ValueError, match="sequence 1 .* contains <s>"):
        make("kneser-ney", order=2).fit(Corpus.from_texts(["a b", "a <s> b"]))


def test_katz_leaves_mass_after_a_context_seen_only_often():
    # "x" is followed by "y" 6 times (> K = 5): pure Katz would give every other word 0 there.
    corpus = Corpus.from_texts(["x y"] * 6 + ["a b", "b c", "c a b", "a c c", "b b a"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make("katz", order=2).fit(corpus)
    p = np.exp(m.next_logprobs([[corpus.vocab["x"]]])[0])
    assert 0 < p[corpus.vocab["y"]] < 1 and p.sum() == pytest.approx(1.0)
    assert (np.delete(p, [corpus.vocab["y"], corpus.vocab["<s>"]]) > 0).all()
