import math

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, make


def test_uniform_perplexity_is_vocabulary_size_minus_one(toy_train, toy_test):
    model = make("uniform").fit(toy_train)
    V = len(toy_train.vocab)
    assert lm.perplexity(model, toy_test) == pytest.approx(V - 1, rel=1e-12)
    assert lm.perplexity(model, toy_train) == pytest.approx(V - 1, rel=1e-12)


def test_unigram_known_answer():
    # Train "a a b" and "a": predicted tokens a,a,b,</s>,a,</s> -> c(a)=3, c(b)=1, c(</s>)=2, N=6.
    train = Corpus.from_texts(["a a b", "a"])
    m = make("unigram").fit(train)
    v = train.vocab
    p = np.exp(m.next_logprobs([[]])[0])
    assert p[v["a"]] == pytest.approx(3 / 6) and p[v["b"]] == pytest.approx(1 / 6)
    assert p[v.eos_id] == pytest.approx(2 / 6) and p[v.unk_id] == 0 and p[v.bos_id] == 0
    # Test "b a": ln p = ln(1/6) + ln(3/6) + ln(2/6) over 3 counted tokens.
    test = Corpus.from_texts(["b a"], vocab=v)
    expected = math.exp(-(math.log(1 / 6) + math.log(3 / 6) + math.log(2 / 6)) / 3)
    assert lm.perplexity(m, test) == pytest.approx(expected)


def test_unigram_add_k():
    # k=1, V=5 (<unk>,<s>,</s>,a,b): outcomes exclude <s>, so the denominator is 6 + 1*4 = 10.
    train = Corpus.from_texts(["a a b", "a"])
    m = make("unigram", k=1.0).fit(train)
    p = np.exp(m.next_logprobs([[]])[0])
    assert p[train.vocab["a"]] == pytest.approx(4 / 10)
    assert p[train.vocab.unk_id] == pytest.approx(1 / 10)
    with pytest.raises(lm.InvalidParameterError, match="k must be"):
        make("unigram", k=-1).fit(train)


def test_zero_probability_tokens_give_inf_not_a_crash():
    train = Corpus.from_texts(["a a b"])
    test = Corpus.from_texts(["a zzz"], vocab=train.vocab)   # zzz -> <unk>, never seen in training
    report = lm.evaluate(make("unigram").fit(train), test)
    assert report.n_zero_prob == 1 and math.isinf(report.perplexity)
    assert report.n_oov == 1 and report.n_unk == 1
    assert math.isfinite(report.perplexity_no_unk)
