"""BLEU protocols against sacrebleu and NLTK called directly on the same strings."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

import langmodels as lm
from langmodels import Corpus
from langmodels.metrics.bleu import (
    continuation_bleu,
    continuation_prompts,
    distinct_n,
    sacrebleu_corpus,
    sample_sequences,
    texygen_self_bleu,
    texygen_test_bleu,
    unconditional_metrics,
)

TRAIN = ["the cat sat on the mat today", "the dog sat on the log", "a cat saw a dog on the mat",
         "the dog saw the cat", "the the the the cat"]
TEST = ["the cat sat on the log and the dog", "a dog", "the dog saw a cat on the mat",
        "the mat the mat the mat", "cats sat"]


@pytest.fixture(scope="module")
def data():
    train = Corpus.from_texts(TRAIN)
    return train, Corpus.from_texts(TEST, vocab=train.vocab)


def test_sacrebleu_wrapper_equals_sacrebleu():
    hyps, refs = ["the cat sat on a mat", "", "dog dog"], ["the cat sat on the mat", "a b", "the dog"]
    ours = sacrebleu_corpus(hyps, refs)
    theirs = sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a")
    assert ours["score"] == pytest.approx(theirs.score)
    assert ours["precisions"] == pytest.approx(theirs.precisions)
    assert ours["bp"] == pytest.approx(theirs.bp)
    assert "tok:13a" in ours["signature"] and "nrefs:1" in ours["signature"]


def test_prompts_are_the_first_k_words_of_long_enough_sequences(data):
    _, test = data
    pairs = continuation_prompts(test, k=2)   # >= 6 tokens: sequences 0, 2 and 3
    assert [test.vocab.decode(p) for p, _ in pairs] == [["the", "cat"], ["the", "dog"], ["the", "mat"]]
    assert test.vocab.decode(pairs[0][1]) == "sat on the log <unk> the dog".split()  # "and" is OOV
    two = continuation_prompts(test, k=2, max_prompts=2, seed=3)
    assert len(two) == 2 and [p.tolist() for p, _ in two] == [p.tolist() for p, _ in
                                                              continuation_prompts(test, 2, 2, seed=3)]


def test_continuation_bleu_equals_sacrebleu_on_the_same_strings(data):
    train, test = data
    model = lm.make("unigram", k=0.5).fit(train)
    scores, gens = continuation_bleu(model, test, k=2, sample_seeds=(0, 1, 2))
    pairs = continuation_prompts(test, k=2)
    refs = [" ".join(test.vocab.decode(r)) for _, r in pairs]
    # The unigram model's argmax is "the": greedy repeats it up to len(reference) + 10 tokens.
    greedy = [" ".join(["the"] * (len(r) + 10)) for _, r in pairs]
    assert [g["hypothesis"] for g in gens if g["mode"] == "greedy"] == greedy
    assert [g["reference"] for g in gens if g["mode"] == "greedy"] == refs
    assert scores["greedy"]["score"] == pytest.approx(sacrebleu.corpus_bleu(greedy, [refs]).score)
    per_seed = []
    for s in (0, 1, 2):
        hyps = [g["hypothesis"] for g in gens if g["mode"] == f"sample-seed{s}"]
        redo = lm.generate(model, [p for p, _ in pairs], max_new_tokens=[len(r) + 10 for _, r in pairs],
                           do_sample=True, seed=s)
        assert hyps == [g.text for g in redo]
        per_seed.append(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert scores["sample"]["bleu_mean"] == pytest.approx(np.mean(per_seed))
    assert scores["sample"]["bleu_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert scores["protocol"].startswith("contbleu|k:2|n:3/1000|")


def test_continuation_bleu_needs_long_sequences(data):
    train, test = data
    with pytest.raises(ValueError, match="at least 14 tokens"):
        continuation_bleu(lm.make("uniform").fit(train), test, k=10)


def test_texygen_bleu_equals_nltk():
    rng = np.random.default_rng(0)
    words = list("abcdef")
    samples = [list(rng.choice(words, rng.integers(0, 9))) for _ in range(12)]
    refs = [list(rng.choice(words, rng.integers(1, 9))) for _ in range(7)]
    smooth = SmoothingFunction().method1
    for n in (2, 3, 4):
        w = (1 / n,) * n
        expect = np.mean([sentence_bleu(refs, s, w, smoothing_function=smooth) for s in samples])
        assert texygen_test_bleu(samples, refs, n) == pytest.approx(expect, abs=1e-12)
        expect = np.mean([sentence_bleu(samples[:i] + samples[i + 1:], s, w, smoothing_function=smooth)
                          for i, s in enumerate(samples)])
        assert texygen_self_bleu(samples, n) == pytest.approx(expect, abs=1e-12)


def test_distinct_n_by_hand():
    samples = [["a", "b", "a"], ["a", "b"]]
    assert distinct_n(samples, 1) == pytest.approx(2 / 5)   # a b a a b
    assert distinct_n(samples, 2) == pytest.approx(2 / 3)   # ab ba ab
    assert distinct_n([["a"]], 2) == 0.0


def test_unconditional_samples_are_seeded(data):
    train, test = data
    model = lm.make("unigram", k=0.5).fit(train)
    a = sample_sequences(model, 20, seed=1, max_new_tokens=15)
    assert a == sample_sequences(model, 20, seed=1, max_new_tokens=15)
    assert all("</s>" not in s and "<s>" not in s and len(s) <= 15 for s in a)
    refs = [test.vocab.decode(s) for s in test.sequences()]
    m = unconditional_metrics(a, refs, orders=(2, 4))
    assert m["test_bleu4"] == pytest.approx(texygen_test_bleu(a, refs, 4))
    assert m["self_bleu2"] == pytest.approx(texygen_self_bleu(a, 2))
    assert "Texygen" in m["definition"]
