"""The synthetic language's probabilities are exact: they sum to 1 over the whole (finite) language
of tiny configurations, sampling follows them, and parsing a sentence gives back its probability."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from langmodels.datasets import SyntheticLanguage
from langmodels.errors import InvalidParameterError

ONE_WORD = dict(lemmas=(1, 1, 1, 1, 1), n_classes=(1, 1, 1, 1, 1))
# Finite configurations small enough to list every sentence:
TINY = {
    # nesting: relative clauses and parentheses to depth 2; "the" only, intransitive main verbs
    "nesting": dict(ONE_WORD, det_probs=(1, 0, 0, 0, 0), p_adj=0.0, p_adv=0.0, p_transitive=0.0,
                    max_depth=2, max_clauses=1, p_paren=0.3, p_rc=0.4, depth_decay=0.7, p_obj_rel=0.3),
    # objects and adverbs after relative clauses / after parentheses ("the" only, no adjectives)
    "objects-rc": dict(ONE_WORD, det_probs=(1, 0, 0, 0, 0), p_adj=0.0, max_depth=1, p_paren=0.0,
                       max_clauses=1, p_obj_rel=0.3),
    "objects-paren": dict(ONE_WORD, det_probs=(1, 0, 0, 0, 0), p_adj=0.0, max_depth=1, p_rc=0.0,
                          max_clauses=1, p_paren=0.3),
    # every determiner, up to 2 adjectives, adverbs, up to 2 clauses joined by "and"
    "clauses": dict(ONE_WORD, max_adj=2, max_depth=0, p_transitive=0.0, max_clauses=2, p_and=0.4),
    # words: classes, Zipfian emissions, collocations, transitive verbs with objects
    "words": dict(lemmas=(2, 3, 2, 2, 2), n_classes=(2, 2, 1, 2, 1), max_adj=1, max_clauses=1,
                  max_depth=0, colloc_fraction=1.0, colloc_strength=0.5),
}


@pytest.fixture(scope="module")
def enumerated():
    out = {}
    for name, params in TINY.items():
        lang = SyntheticLanguage(seed=3, **params)
        out[name] = (lang, list(lang.enumerate(limit=50_000)))
    return out


@pytest.mark.parametrize("name", sorted(TINY))
def test_probabilities_of_all_sentences_sum_to_one(enumerated, name):
    lang, items = enumerated[name]
    assert len(items) > 100  # a real language, not a handful of strings
    assert math.fsum(math.exp(lp) for _, lp in items) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", sorted(TINY))
def test_each_sentence_has_one_derivation_and_parsing_recovers_its_probability(enumerated, name):
    lang, items = enumerated[name]
    strings = [" ".join(s) for s, _ in items]
    assert len(set(strings)) == len(strings)  # distinct derivations never give the same string
    for tokens, lp in items[:: max(1, len(items) // 2000)]:
        assert lang.logprob(tokens) == pytest.approx(lp, abs=1e-10)


def test_sampled_frequencies_match_stated_probabilities(enumerated):
    lang, items = enumerated["words"]
    prob = {" ".join(s): math.exp(lp) for s, lp in items}
    n = 40_000
    sents, logp = lang.sample(n, rng=12345)
    keys = [" ".join(s) for s in sents]
    # every sample is a sentence of the language and carries its exact log-probability
    assert np.allclose(logp, [math.log(prob[k]) for k in keys], atol=1e-10)
    # chi-square over the sentences expected at least 5 times, the rest pooled in one cell
    counts = Counter(keys)
    big = [k for k, p in prob.items() if n * p >= 5]
    observed = [counts[k] for k in big] + [n - sum(counts[k] for k in big)]
    expected = [n * prob[k] for k in big] + [n * (1 - sum(prob[k] for k in big))]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected))
    assert len(big) > 50
    assert stats.chi2.sf(chi2, len(observed) - 1) > 1e-3
    # the mean surprisal estimates the entropy H = -sum p ln p within 4 standard errors
    entropy = -math.fsum(p * math.log(p) for p in prob.values())
    assert abs(-logp.mean() - entropy) < 4 * logp.std() / math.sqrt(n)


def test_default_language_parses_its_own_samples():
    lang = SyntheticLanguage(seed=0)
    sents, logp = lang.sample(1000, rng=7)
    assert np.allclose([lang.logprob(s) for s in sents], logp, atol=1e-9)
    assert np.isfinite(logp).all() and (logp < 0).all()


def _sentence_with(lang, word, rng=0):
    sents, _ = lang.sample(2000, rng=rng)
    return next(s for s in sents if word in s)


def test_strings_outside_the_language_have_probability_zero():
    lang = SyntheticLanguage(seed=0)
    s = _sentence_with(lang, "that")
    assert lang.logprob(s) > -math.inf
    verb = lang._cat == 2  # transitive verbs
    i = next(i for i, t in enumerate(s) if verb[lang._index[t]])
    lemma = lang._lemma[lang._index[s[i]]]
    other = [w for w in lang.words if lang._cat[lang._index[w]] == 2 and lang._lemma[lang._index[w]] == lemma]
    wrong_number = s[:i] + [next(w for w in other if w != s[i])] + s[i + 1 :]
    assert lang.logprob(wrong_number) == -math.inf  # the verb must agree with its subject
    p = _sentence_with(lang, "(")
    assert lang.logprob([t for t in p if t != ")"]) == -math.inf  # unbalanced parenthesis
    assert lang.logprob(s + ["and"]) == -math.inf
    assert lang.logprob(s[:1] + ["zebra"] + s[1:]) == -math.inf
    assert lang.logprob([]) == -math.inf


def test_same_seed_same_language_and_samples():
    a, b, c = SyntheticLanguage(seed=5), SyntheticLanguage(seed=5), SyntheticLanguage(seed=6)
    assert a.words == b.words and a.words != c.words
    sa, la = a.sample(50, rng=1)
    sb, lb = b.sample(50, rng=1)
    assert sa == sb and np.array_equal(la, lb)


def test_default_language_has_zipfian_words_and_long_distance_structure():
    lang = SyntheticLanguage(seed=0)
    assert 2000 <= len(lang.words) <= 4000
    sents, _ = lang.sample(20_000, rng=2)
    freq = np.sort(np.array(list(Counter(t for s in sents for t in s).values())))[::-1]
    ranks = np.arange(1, len(freq) + 1)
    mid = (ranks >= 10) & (ranks <= 1000)
    slope = np.polyfit(np.log(ranks[mid]), np.log(freq[mid]), 1)[0]
    assert -1.6 < slope < -0.7  # Zipf: frequency ~ rank^-1
    share = lambda w: np.mean([w in s for s in sents])  # noqa: E731
    assert share("that") > 0.2 and share("(") > 0.05 and share("and") > 0.1


def test_invalid_parameters_are_named():
    with pytest.raises(InvalidParameterError, match="p_rc"):
        SyntheticLanguage(p_rc=1.5)
    with pytest.raises(InvalidParameterError, match="noun"):
        SyntheticLanguage(lemmas=(4, 2, 4, 4, 4), n_classes=(1, 3, 1, 1, 1))
    with pytest.raises(InvalidParameterError, match="det_probs"):
        SyntheticLanguage(det_probs=(0.5, 0.6, 0, 0, 0))
    with pytest.raises(ValueError, match="finite"):
        next(SyntheticLanguage().enumerate())


def test_agreement_pairs_differ_only_in_the_number_of_a_distant_verb():
    lang = SyntheticLanguage(seed=0)
    good, bad, distance = lang.agreement_pairs(60, rng=4, min_distance=6)
    assert len(good) == len(bad) == len(distance) == 60 and (distance >= 6).all()
    idx = lang._index
    for g, b, d in zip(good, bad, distance):
        assert lang.logprob(g) > -math.inf and lang.logprob(b) == -math.inf
        (v,) = [i for i, (x, y) in enumerate(zip(g, b)) if x != y]
        assert lang._cat[idx[g[v]]] in (2, 3) and lang._lemma[idx[g[v]]] == lang._lemma[idx[b[v]]]
        subject = g[v - d]
        assert lang._cat[idx[subject]] == 1  # a noun, whose number the good verb carries
        assert lang._num[idx[subject]] == lang._num[idx[g[v]]] != lang._num[idx[b[v]]]
        assert "(" in g[v - d : v] or "that" in g[v - d : v]
