"""Pre-training then fine-tuning an HMM: fit(corpus, init=model_or_dir)."""

from __future__ import annotations

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, Vocabulary
from langmodels.errors import InvalidParameterError, NotFittedError
from langmodels.hmm import HMMLanguageModel

QUIET = {"progress": False, "device": "cpu"}
BASE_VOCAB = Vocabulary(["<unk>", "<s>", "</s>", "the", "cat", "sat"])
PI = np.array([0.6, 0.4])
A = np.array([[0.7, 0.3], [0.2, 0.8]])
#              <unk>  <s>  </s>  the   cat   sat
B = np.array([[0.10, 0.0, 0.20, 0.30, 0.25, 0.15],
              [0.20, 0.0, 0.10, 0.10, 0.20, 0.40]])


@pytest.fixture
def base():
    return HMMLanguageModel.from_parameters(PI, A, B, BASE_VOCAB, **QUIET)


def _texts(rng, words_a, words_b, n):
    """Sentences that alternate between two word groups, starting in group a."""
    out = []
    for _ in range(n):
        length = rng.integers(2, 7)
        out.append(" ".join(rng.choice(words_a if t % 2 == 0 else words_b) for t in range(length)))
    return out


def test_mapping_worked_by_hand(base):
    new = Corpus.from_texts(["sat dog the ran"], vocab=Vocabulary(["<unk>", "<s>", "</s>", "sat", "dog",
                                                                   "the", "ran"]))
    m = HMMLanguageModel(n_states=2, n_iter=0, **QUIET).fit(new, init=base)
    # new -> base ids: <unk> 0, <s> 1, </s> 2, sat 5, dog <unk>, the 3, ran <unk>; three new ids
    # share base <unk> (B[:, 0] / 3), and "cat", missing from the new vocabulary, joins new <unk>:
    # row 0: <unk> 0.1/3 + 0.25, </s> 0.2, sat 0.15, dog 0.1/3, the 0.3, ran 0.1/3
    # row 1: <unk> 0.2/3 + 0.20, </s> 0.1, sat 0.40, dog 0.2/3, the 0.1, ran 0.2/3
    expected = np.array([[0.1 / 3 + 0.25, 0.0, 0.2, 0.15, 0.1 / 3, 0.3, 0.1 / 3],
                         [0.2 / 3 + 0.20, 0.0, 0.1, 0.40, 0.2 / 3, 0.1, 0.2 / 3]])
    np.testing.assert_allclose(m.emissionprob_, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(m.emissionprob_.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(m.startprob_, PI)
    np.testing.assert_array_equal(m.transmat_, A)
    assert m.startprob_ is not base.startprob_          # a copy: fine-tuning leaves the base alone
    assert m.vocab_ == new.vocab and m.n_iter_ == 0


def test_same_vocabulary_maps_to_itself(base):
    corpus = Corpus.from_texts(["the cat sat"], vocab=BASE_VOCAB)
    m = HMMLanguageModel(n_states=2, n_iter=0, **QUIET).fit(corpus, init=base)
    np.testing.assert_array_equal(m.emissionprob_, B)


def test_finetune_from_fitted_and_from_saved_directory(base, tmp_path):
    corpus = Corpus.from_texts(["the dog sat", "a dog ran", "the cat ran away"])
    params = {"n_states": 2, "n_iter": 6, "tol": 0.0, **QUIET}
    from_model = HMMLanguageModel(**params).fit(corpus, init=base)
    base.save(tmp_path / "base")
    from_dir = HMMLanguageModel(**params).fit(corpus, init=tmp_path / "base")
    from_str = HMMLanguageModel(**params).fit(corpus, init=str(tmp_path / "base"))
    for m in (from_dir, from_str):
        np.testing.assert_allclose(m.emissionprob_, from_model.emissionprob_, rtol=0, atol=1e-12)
        np.testing.assert_allclose(m.transmat_, from_model.transmat_, rtol=0, atol=1e-12)
    assert from_model.n_iter_ == 6
    for arr in (from_model.startprob_, from_model.transmat_, from_model.emissionprob_):
        np.testing.assert_allclose(arr.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(np.diff(from_model.history_) >= -1e-9)
    np.testing.assert_array_equal(base.emissionprob_, B)   # the base model is not modified
    # the first objective is that of the mapped parameters, not of a fresh start
    start = HMMLanguageModel(n_states=2, n_iter=0, **QUIET).fit(corpus, init=base)
    assert from_model.loglik_history_[0] == pytest.approx(start.log_likelihood(corpus), abs=1e-9)


def test_a_model_can_continue_from_itself():
    corpus = Corpus.from_texts(["a b a b", "b a b"])
    m = HMMLanguageModel(n_states=2, n_iter=3, tol=0.0, **QUIET).fit(corpus)
    before = m.log_likelihood(corpus)
    m.fit(corpus, init=m)
    assert m.loglik_history_[0] == pytest.approx(before, abs=1e-9)
    assert m.log_likelihood(corpus) >= before - 1e-9


def test_refuses_other_models_and_sizes(base, tmp_path):
    corpus = Corpus.from_texts(["the cat sat"], vocab=BASE_VOCAB)
    with pytest.raises(InvalidParameterError, match=r"n_states=2 but this model has n_states=3"):
        HMMLanguageModel(n_states=3, **QUIET).fit(corpus, init=base)
    unigram = lm.make("unigram").fit(corpus)
    with pytest.raises(InvalidParameterError, match="not an HMM"):
        HMMLanguageModel(n_states=2, **QUIET).fit(corpus, init=unigram)
    unigram.save(tmp_path / "uni")
    with pytest.raises(InvalidParameterError, match="not an HMM"):
        HMMLanguageModel(n_states=2, **QUIET).fit(corpus, init=tmp_path / "uni")
    with pytest.raises(NotFittedError):
        HMMLanguageModel(n_states=2, **QUIET).fit(corpus, init=HMMLanguageModel(n_states=2))
    with pytest.raises(TypeError, match="init must be"):
        HMMLanguageModel(n_states=2, **QUIET).fit(corpus, init=42)
    with pytest.raises(lm.CheckpointError):
        HMMLanguageModel(n_states=2, **QUIET).fit(corpus, init=tmp_path / "missing")


def test_finetuning_scores_the_new_domain_better():
    rng = np.random.default_rng(0)
    nouns, verbs, adjs = ["n1", "n2", "n3"], ["v1", "v2", "v3"], ["j1", "j2"]
    general = _texts(rng, nouns, verbs, 300)                   # noun verb noun verb ...
    domain = _texts(rng, adjs, nouns, 120)                     # adjective noun adjective noun ...
    vocab = Corpus.from_texts(general + domain).vocab           # a deliberately shared vocabulary
    pre = HMMLanguageModel(n_states=4, n_iter=15, seed=0, **QUIET)
    pre.fit(Corpus.from_texts(general, vocab=vocab))
    train, test = Corpus.from_texts(domain[:100], vocab=vocab), Corpus.from_texts(domain[100:], vocab=vocab)
    tuned = HMMLanguageModel(n_states=4, n_iter=5, seed=0, **QUIET).fit(train, init=pre)
    assert lm.perplexity(tuned, test) < 0.8 * lm.perplexity(pre, test)
