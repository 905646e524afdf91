"""HMMLanguageModel <-> hmmlearn's CategoricalHMM: same parameters, same scores, both ways."""

from __future__ import annotations

import numpy as np
import pytest

from langmodels import Vocabulary
from langmodels.errors import InvalidParameterError, NotFittedError, VocabularyMismatchError
from langmodels.hmm import HMMLanguageModel
from langmodels.vocabulary import BOS_ID, UNK_ID

hmm = pytest.importorskip("hmmlearn.hmm")


def encoded(corpus):
    """hmmlearn's input: every sentence's ids with `</s>` appended, stacked, and their lengths."""
    return corpus.targets().reshape(-1, 1).astype(np.int64), corpus.lengths + 1


@pytest.fixture(scope="module")
def hmmlearn_fitted(toy_train):
    h = hmm.CategoricalHMM(3, n_features=len(toy_train.vocab), n_iter=25, tol=-np.inf,
                           random_state=0, implementation="scaling")
    return h.fit(*encoded(toy_train))


@pytest.fixture(scope="module")
def ours_fitted(toy_train):
    return HMMLanguageModel(n_states=3, n_iter=10, init="random", seed=1, progress=False).fit(toy_train)


def test_hmmlearn_model_scores_the_same_under_our_contract(hmmlearn_fitted, toy_train):
    m = HMMLanguageModel.from_hmmlearn(hmmlearn_fitted, toy_train.vocab, progress=False)
    assert m.n_states == 3 and m.vocab_ is toy_train.vocab
    # <s> and <unk> never occur in hmmlearn's training symbols, so EM gives them exactly 0
    assert (m.emissionprob_[:, [UNK_ID, BOS_ID]] == 0).all()
    X, lengths = encoded(toy_train)
    assert m.log_likelihood(toy_train) == pytest.approx(hmmlearn_fitted.score(X, lengths), abs=1e-9)
    np.testing.assert_array_equal(m.emissionprob_, hmmlearn_fitted.emissionprob_)


def test_ours_to_hmmlearn_and_back_is_the_same_model(ours_fitted):
    h = ours_fitted.to_hmmlearn()
    assert (h.n_components, h.n_features) == (3, len(ours_fitted.vocab_))
    back = HMMLanguageModel.from_hmmlearn(h, ours_fitted.vocab_)
    for name in ("startprob_", "transmat_", "emissionprob_"):
        np.testing.assert_allclose(getattr(back, name), getattr(ours_fitted, name), rtol=0, atol=1e-12)
    assert h.emissionprob_ is not ours_fitted.emissionprob_    # copies, not views


def test_hmmlearn_scores_our_model_as_we_do(ours_fitted, toy_train):
    X, lengths = encoded(toy_train)
    assert ours_fitted.to_hmmlearn().score(X, lengths) == pytest.approx(
        ours_fitted.log_likelihood(toy_train), abs=1e-9)


def test_hmmlearn_training_continues_from_our_parameters(ours_fitted, toy_train):
    h = ours_fitted.to_hmmlearn()
    h.n_iter, h.tol = 1, -np.inf
    h.fit(*encoded(toy_train))
    # the first monitored log-likelihood is that of our parameters: nothing was re-drawn
    assert h.monitor_.history[0] == pytest.approx(ours_fitted.log_likelihood(toy_train), abs=1e-9)


def test_symbol_count_must_equal_the_vocabulary_size(hmmlearn_fitted):
    small = Vocabulary(["<unk>", "<s>", "</s>", "a"])
    n = hmmlearn_fitted.emissionprob_.shape[1]
    with pytest.raises(VocabularyMismatchError, match=f"emits {n} symbols but the vocabulary has 4 tokens"):
        HMMLanguageModel.from_hmmlearn(hmmlearn_fitted, small)


def test_an_unfitted_hmmlearn_model_is_refused(toy_train):
    with pytest.raises(NotFittedError, match="no startprob_, transmat_, emissionprob_: fit it first"):
        HMMLanguageModel.from_hmmlearn(hmm.CategoricalHMM(2), toy_train.vocab)
    with pytest.raises(TypeError, match="needs an hmmlearn.hmm.CategoricalHMM, got GaussianHMM"):
        HMMLanguageModel.from_hmmlearn(hmm.GaussianHMM(2), toy_train.vocab)
    with pytest.raises(NotFittedError):
        HMMLanguageModel(n_states=2).to_hmmlearn()


def test_an_emitted_bos_is_refused():
    v = Vocabulary(["<unk>", "<s>", "</s>", "a"])
    h = hmm.CategoricalHMM(1, n_features=4, init_params="")
    h.startprob_, h.transmat_ = np.array([1.0]), np.array([[1.0]])
    h.emissionprob_ = np.array([[0.1, 0.1, 0.4, 0.4]])
    with pytest.raises(InvalidParameterError, match="<s> is never emitted"):
        HMMLanguageModel.from_hmmlearn(h, v)
