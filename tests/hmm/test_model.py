"""The HMM language model: hand-worked probabilities, hmmlearn as the reference, EM properties."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, Vocabulary
from langmodels.errors import InvalidParameterError
from langmodels.hmm import HMMLanguageModel
from langmodels.hmm.initialisation import random_init
from langmodels.vocabulary import EOS_ID, UNK_ID

# 2 states, 3 emitted symbols (a, b, </s>); ids: <unk>=0 <s>=1 </s>=2 a=3 b=4
VOCAB2 = Vocabulary(["<unk>", "<s>", "</s>", "a", "b"])
PI2 = np.array([0.6, 0.4])
A2 = np.array([[0.7, 0.3], [0.4, 0.6]])
B2 = np.array([[0, 0, 0.2, 0.5, 0.3],
               [0, 0, 0.1, 0.2, 0.7]])


def small_model(**params):
    return HMMLanguageModel.from_parameters(PI2, A2, B2, VOCAB2, progress=False, **params)


def test_forward_probabilities_worked_by_hand():
    m = small_model()
    c = Corpus.from_texts(["a b"], vocab=VOCAB2)
    # p(a)        = .6*.5 + .4*.2 = .38;   filter [.30, .08]/.38, pushed: [12.1, 6.9]/19
    # p(b | a)    = (12.1*.3 + 6.9*.7)/19 = 8.46/19;  filter [3.63, 4.83]/8.46, pushed: [4.473, 3.987]/8.46
    # p(</s)|a b) = (4.473*.2 + 3.987*.1)/8.46 = 1.2933/8.46
    expected = np.log([0.38, 8.46 / 19, 1.2933 / 8.46])
    np.testing.assert_allclose(m.token_logprobs(c), expected, rtol=1e-12)
    # the joint, summed over all 2^3 state paths, is .38 * 1.2933/19 = .025866
    joint = sum(PI2[z[0]] * B2[z[0], 3] * A2[z[0], z[1]] * B2[z[1], 4] * A2[z[1], z[2]] * B2[z[2], 2]
                for z in itertools.product(range(2), repeat=3))
    assert joint == pytest.approx(0.025866, rel=1e-12)
    assert m.log_likelihood(c) == pytest.approx(np.log(joint), rel=1e-12)
    # first token from pi: pi @ B = [0, 0, .16, .38, .46]
    np.testing.assert_allclose(np.exp(m.next_logprobs([[]])[0]), [0, 0, 0.16, 0.38, 0.46], atol=1e-15)


def test_viterbi_known_example():
    # Wikipedia's healthy/fever example: path Healthy Healthy Fever, p = .6*.5 * .7*.4 * .3*.6 = .01512
    v = Vocabulary(["<unk>", "<s>", "</s>", "normal", "cold", "dizzy"])
    m = HMMLanguageModel.from_parameters(
        [0.6, 0.4], [[0.7, 0.3], [0.4, 0.6]],
        [[0, 0, 0, 0.5, 0.4, 0.1], [0, 0, 0, 0.1, 0.3, 0.6]], v)
    logp, path = m.viterbi(v.encode(["normal", "cold", "dizzy"]), eos=False)
    assert path.tolist() == [0, 0, 1]
    assert logp == pytest.approx(np.log(0.01512), rel=1e-12)


def _fever_model():
    v = Vocabulary(["<unk>", "<s>", "</s>", "normal", "cold", "dizzy"])
    return HMMLanguageModel.from_parameters(
        [0.6, 0.4], [[0.7, 0.3], [0.4, 0.6]],
        [[0.1, 0, 0, 0.4, 0.4, 0.1], [0.1, 0, 0, 0.1, 0.2, 0.6]], v)


def test_viterbi_and_posteriors_take_words_as_well_as_ids():
    m = _fever_model()
    words = ["normal", "cold", "dizzy", "hungry"]          # "hungry" is outside the vocabulary: <unk>
    ids = [3, 4, 5, 0]
    logp, path = m.viterbi(words, eos=False)
    ref_logp, ref_path = m.viterbi(ids, eos=False)
    assert path.tolist() == ref_path.tolist() == [0, 0, 1, 1]
    # .6*.4 * .7*.4 * .3*.6 * .6*.1
    assert logp == ref_logp == pytest.approx(np.log(0.6 * 0.4 * 0.7 * 0.4 * 0.3 * 0.6 * 0.6 * 0.1), rel=1e-12)
    np.testing.assert_array_equal(m.posteriors(words, eos=False), m.posteriors(ids, eos=False))


@pytest.mark.parametrize("tokens, message", [
    ("normal cold", "not one string; split it first, e.g. 'normal cold'.split()"),
    (["normal", 4], "all words or all ids, not a mix"),
])
def test_viterbi_and_posteriors_name_a_bad_token_sequence(tokens, message):
    m = _fever_model()
    for query in (m.viterbi, m.posteriors):
        with pytest.raises(InvalidParameterError, match=message.replace("(", "\\(").replace(")", "\\)")):
            query(tokens)


# --- hmmlearn as the reference -------------------------------------------------------------------
def _reference(model, **kw):
    hmmlearn = pytest.importorskip("hmmlearn.hmm")
    h = hmmlearn.CategoricalHMM(model.n_states, n_features=len(model.vocab_), init_params="",
                                params="ste", tol=-np.inf, n_iter=1, implementation="scaling", **kw)
    h.startprob_ = model.startprob_.copy()
    h.transmat_ = model.transmat_.copy()
    h.emissionprob_ = model.emissionprob_.copy()
    return h


def _as_hmmlearn(corpus):
    # hmmlearn has no </s>: give it each sentence with </s> as an ordinary last symbol
    return corpus.targets().reshape(-1, 1).astype(np.int64), corpus.lengths + 1


@pytest.fixture(scope="module")
def random_model(toy_train):
    pi, A, B = random_init(5, len(toy_train.vocab), np.random.default_rng(3))
    return lambda **kw: HMMLanguageModel.from_parameters(pi, A, B, toy_train.vocab, progress=False, **kw)


def test_log_likelihood_equals_hmmlearn(random_model, toy_train):
    m = random_model()
    X, lengths = _as_hmmlearn(toy_train)
    assert m.log_likelihood(toy_train) == pytest.approx(_reference(m).score(X, lengths), rel=1e-9)


def test_one_em_step_equals_hmmlearn(random_model, toy_train):
    m = random_model(emission_prior=0.0, transition_prior=0.0)
    h = _reference(m)
    X, lengths = _as_hmmlearn(toy_train)
    before = m.em_step(toy_train)
    h.fit(X, lengths)
    assert before == pytest.approx(h.monitor_.history[0], rel=1e-9)
    np.testing.assert_allclose(m.startprob_, h.startprob_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.transmat_, h.transmat_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.emissionprob_, h.emissionprob_, rtol=1e-9, atol=1e-12)


def test_transition_prior_is_a_pseudo_count(random_model, toy_train):
    # hmmlearn's Dirichlet prior alpha adds alpha - 1 to the counts, so ours 0.5 is its 1.5
    m = random_model(emission_prior=0.0, transition_prior=0.5)
    h = _reference(m, startprob_prior=1.5, transmat_prior=1.5)
    m.em_step(toy_train)
    h.fit(*_as_hmmlearn(toy_train))
    np.testing.assert_allclose(m.startprob_, h.startprob_, rtol=1e-9)
    np.testing.assert_allclose(m.transmat_, h.transmat_, rtol=1e-9)


def test_viterbi_and_posteriors_equal_hmmlearn(random_model, toy_train):
    m = random_model()
    h = _reference(m)
    for seq in toy_train.sequences():
        X = np.append(seq, EOS_ID).reshape(-1, 1).astype(np.int64)
        ref_logp, ref_path = h.decode(X, algorithm="viterbi")
        logp, path = m.viterbi(seq)
        assert path.tolist() == ref_path.tolist()
        assert logp == pytest.approx(ref_logp, rel=1e-9)
        post = m.posteriors(seq)
        np.testing.assert_allclose(post, h.predict_proba(X), atol=1e-10)
        np.testing.assert_allclose(post.sum(1), 1.0, atol=1e-12)


# --- EM ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("priors", [(0.0, 0.0), (0.1, 0.1)])
@pytest.mark.parametrize("init", ["random", "clusters"])
def test_em_never_lowers_its_objective(toy_train, priors, init):
    m = HMMLanguageModel(n_states=4, n_iter=15, tol=-np.inf, init=init, emission_prior=priors[0],
                         transition_prior=priors[1], progress=False).fit(toy_train)
    h = np.array(m.history_)
    assert len(h) == 15
    assert (np.diff(h) >= -1e-9 * np.abs(h[1:])).all()
    if priors == (0.0, 0.0):
        np.testing.assert_array_equal(h, m.loglik_history_)   # the objective is the log-likelihood
    else:
        assert (h < np.array(m.loglik_history_)).all()         # ln prior < 0 for probabilities < 1


def test_training_is_batched_consistently(toy_train):
    # batches of 1 sentence and of all sentences give the same EM path
    one = HMMLanguageModel(n_states=3, n_iter=4, batch_size=1, progress=False).fit(toy_train)
    alls = HMMLanguageModel(n_states=3, n_iter=4, batch_size=64, progress=False).fit(toy_train)
    np.testing.assert_allclose(one.history_, alls.history_, rtol=1e-12)
    np.testing.assert_allclose(one.emissionprob_, alls.emissionprob_, rtol=1e-9, atol=1e-15)


def test_float32_is_close_to_float64(toy_train, toy_test):
    a = HMMLanguageModel(n_states=3, n_iter=3, progress=False).fit(toy_train)
    b = HMMLanguageModel(n_states=3, n_iter=3, dtype="float32", progress=False).fit(toy_train)
    np.testing.assert_allclose(a.token_logprobs(toy_test), b.token_logprobs(toy_test), atol=1e-4)


def test_early_stopping_keeps_the_best_validation_parameters(toy_train, toy_test):
    m = HMMLanguageModel(n_states=6, n_iter=50, tol=-np.inf, emission_prior=0.01,
                         progress=False).fit(toy_train, toy_test)
    v = m.valid_history_
    assert 1 <= len(v) <= 50 and len(m.history_) == len(v)
    assert m.log_likelihood(toy_test) == pytest.approx(max(v), rel=1e-9)
    assert m.n_iter_ == int(np.argmax(v)) + 1
    if len(v) < 50:
        assert v[-1] <= v[-2]                                    # it stopped because valid got worse


def test_zero_probability_guard(toy_train, toy_test):
    # "bird" is <unk>, never seen in training: impossible without an emission prior
    unsmoothed = HMMLanguageModel(n_states=3, n_iter=5, emission_prior=0.0, progress=False).fit(toy_train)
    lp = unsmoothed.token_logprobs(toy_test)
    assert np.isneginf(lp).sum() == 1
    assert np.isfinite(lp[~np.isneginf(lp)]).all()         # the filter recovers after the impossible token
    np.testing.assert_allclose(np.exp(unsmoothed.next_logprobs([[UNK_ID]])).sum(), 1.0, atol=1e-12)
    smoothed = HMMLanguageModel(n_states=3, n_iter=5, progress=False).fit(toy_train)
    assert np.isfinite(smoothed.token_logprobs(toy_test)).all()


# --- inspection, generation, persistence, parameters -------------------------------------------
def test_top_words_and_generation(toy_train):
    m = HMMLanguageModel(n_states=4, n_iter=10, progress=False).fit(toy_train)
    words = m.top_words(0, n=3)
    assert len(words) == 3 and words[0][1] >= words[1][1] >= words[2][1]
    assert all(w != "<s>" for s in range(4) for w, _ in m.top_words(s, n=len(toy_train.vocab) - 1))
    out = m.generate(["the cat"], max_new_tokens=5, do_sample=True, seed=0)
    again = m.generate(["the cat"], max_new_tokens=5, do_sample=True, seed=0)
    assert out[0].tokens == again[0].tokens and 1 <= len(out[0].tokens) <= 5
    # the generated log-probabilities are the model's own
    prompt = toy_train.vocab.encode(["the", "cat"]).tolist()
    hist = [prompt + out[0].tokens[:i] for i in range(len(out[0].tokens))]
    lp = m.next_logprobs(hist)[np.arange(len(hist)), out[0].tokens]
    np.testing.assert_allclose(out[0].logprobs, lp, atol=1e-9)


def test_save_load_identical(tmp_path, toy_train, toy_test):
    m = HMMLanguageModel(n_states=3, n_iter=4, init="clusters", progress=False).fit(toy_train)
    again = lm.load(m.save(tmp_path / "hmm"))
    np.testing.assert_array_equal(again.emissionprob_, m.emissionprob_)
    np.testing.assert_array_equal(again.token_logprobs(toy_test), m.token_logprobs(toy_test))
    assert again.history_ == m.history_ and again.get_params() == m.get_params()


@pytest.mark.parametrize("bad", [dict(n_states=0), dict(init="kmeans"), dict(emission_prior=-1.0),
                                 dict(dtype="float16"), dict(device="tpu"), dict(threads=0)])
def test_bad_parameters_are_named(bad, toy_train):
    with pytest.raises(InvalidParameterError, match=next(iter(bad))):
        HMMLanguageModel(**bad).fit(toy_train)


def test_n_threads_is_the_deprecated_name_of_threads():
    with pytest.warns(DeprecationWarning, match="n_threads parameter is now called threads"):
        m = HMMLanguageModel(n_threads=2)
    assert m.threads == 2 and "n_threads" not in m.get_params()
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidParameterError, match="disagree"):
        HMMLanguageModel(threads=3, n_threads=2)
    with pytest.raises(InvalidParameterError, match="no parameter 'nthreads'; did you mean 'threads'"):
        HMMLanguageModel(nthreads=2)


def test_a_model_saved_with_n_threads_still_loads(tmp_path):
    import json

    m = small_model(threads=2)
    path = m.save(tmp_path / "hmm")
    config = json.loads((path / "config.json").read_text())
    assert config["params"]["threads"] == 2 and "n_threads" not in config["params"]
    config["params"]["n_threads"] = config["params"].pop("threads")   # as saved before the rename
    (path / "config.json").write_text(json.dumps(config))
    with pytest.warns(DeprecationWarning, match="n_threads"):
        again = lm.load(path)
    assert again.threads == 2
    assert again.get_params() == m.get_params()


def test_from_parameters_checks_its_arrays():
    with pytest.raises(InvalidParameterError, match="<s>"):
        HMMLanguageModel.from_parameters(PI2, A2, B2[:, [0, 2, 1, 3, 4]], VOCAB2)
    with pytest.raises(InvalidParameterError, match="transmat"):
        HMMLanguageModel.from_parameters(PI2, A2 * 2, B2, VOCAB2)
    with pytest.raises(InvalidParameterError, match="emissionprob has shape"):
        HMMLanguageModel.from_parameters(PI2, A2, B2[:, :4], VOCAB2)


def test_import_does_not_load_torch():
    code = "import sys, langmodels.hmm; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cuda_without_a_gpu_is_a_clear_error(toy_train):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(InvalidParameterError, match="cuda"):
        HMMLanguageModel(n_states=2, n_iter=1, device="cuda").fit(toy_train)
