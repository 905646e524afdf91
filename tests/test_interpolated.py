import json
import math

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, make
from langmodels.interpolated import InterpolatedModel, em_weights

# Train "a a b" and "a": V = 5 (<unk>, <s>, </s>, a, b). The ML unigram gives a 3/6, b 1/6,
# </s> 2/6, <unk> 0; the uniform model gives 1/4 to each of the 4 outcomes.
AB = ["a a b", "a"]


def test_fixed_linear_weights_known_answer():
    train = Corpus.from_texts(AB)
    v = train.vocab
    m = make("interpolated", components=[("unigram", {}), ("uniform", {})], weights=[0.25, 0.75])
    p = np.exp(m.fit(train).next_logprobs([[], [v["a"]]]))
    # p(a) = 0.25 * 3/6 + 0.75 * 1/4 = 0.3125; p(<unk>) = 0.25 * 0 + 0.75 * 1/4 = 0.1875
    assert p[0, v["a"]] == pytest.approx(0.3125)
    assert p[1, v["b"]] == pytest.approx(0.25 / 6 + 0.1875)
    assert p[0, v.unk_id] == pytest.approx(0.1875)
    assert p[0, v.bos_id] == 0.0
    np.testing.assert_array_equal(m.weights_, [0.25, 0.75])


def test_loglinear_known_answer():
    train = Corpus.from_texts(AB)
    v = train.vocab
    # p ∝ p_unigram^2: a 1/4, b 1/36, </s> 1/9 -> Z = 14/36, so p(a) = 9/14, p(b) = 1/14, p(</s>) = 4/14.
    m = make("interpolated", components=["unigram", "uniform"], weights=[2.0, 0.0],
             mixture="loglinear").fit(train)
    p = np.exp(m.next_logprobs([[]])[0])
    assert p[v["a"]] == pytest.approx(9 / 14) and p[v["b"]] == pytest.approx(1 / 14)
    assert p[v.eos_id] == pytest.approx(4 / 14) and p[v.unk_id] == 0.0
    test = Corpus.from_texts(["b a"], vocab=v)
    np.testing.assert_allclose(m.token_logprobs(test), np.log([1 / 14, 9 / 14, 4 / 14]))


def test_em_reaches_the_stationary_point():
    # Two tokens: component A gives (0.8, 0.1), B gives (0.2, 0.4). At the optimum of
    # sum_t ln(l pA + (1-l) pB) the derivative sum_t (pA - pB) / p(t) is zero.
    pA, pB = np.array([0.8, 0.1]), np.array([0.2, 0.4])
    L = np.log(np.stack([pA, pB], axis=1))
    w, hist = em_weights(L, np.array([0.5, 0.5]), max_iter=2000, tol=1e-14)
    p = w[0] * pA + w[1] * pB
    assert np.sum((pA - pB) / p) == pytest.approx(0.0, abs=1e-6)
    # Solved by hand: 0.6/(0.6l+0.2) = 0.3/(0.4-0.3l) -> 0.24 - 0.18l = 0.18l + 0.06 -> l = 0.5
    assert w[0] == pytest.approx(0.5, abs=1e-6)
    assert all(b >= a - 1e-12 for a, b in zip(hist, hist[1:])), "EM must never lower the likelihood"


def test_em_agrees_with_a_grid_search():
    rng = np.random.default_rng(0)
    L = np.log(rng.dirichlet(np.ones(6), size=50)[:, :2])  # two components' token probabilities
    w, _ = em_weights(L, np.array([0.5, 0.5]), max_iter=5000, tol=1e-15)
    grid = np.linspace(0, 1, 100001)
    ll = np.log(np.exp(L[:, :1]) * grid + np.exp(L[:, 1:]) * (1 - grid)).sum(axis=0)
    assert w[0] == pytest.approx(grid[np.argmax(ll)], abs=1e-4)


def test_tuned_mixture_beats_each_component_on_valid(toy_train, toy_test):
    m = make("interpolated", components=[("unigram", {"k": 0.01}), ("uniform", {})])
    m.fit(toy_train, valid=toy_test)
    assert m.weights_.sum() == pytest.approx(1.0) and (m.weights_ > 0).all()
    ppl = lm.perplexity(m, toy_test)
    for comp in m.models_:
        assert ppl <= lm.perplexity(comp, toy_test) + 1e-9


def test_heldout_tuning_when_no_valid_is_given(toy_train):
    m = make("interpolated", components=[("unigram", {}), ("uniform", {})], heldout=0.25).fit(toy_train)
    # The ML unigram gives 0 to held-out words it never saw, so EM must keep some uniform mass.
    assert 0 < m.weights_[1] < 1
    # ...and the components are refitted on the whole corpus afterwards.
    full = make("unigram").fit(toy_train)
    np.testing.assert_array_equal(m.models_[0].logprobs_, full.logprobs_)


def test_from_models_tune_save_and_load(toy_train, toy_test, tmp_path):
    uni, unif = make("unigram", k=0.1).fit(toy_train), make("uniform").fit(toy_train)
    m = InterpolatedModel.from_models([uni, unif], weights=[1.0, 0.0])
    np.testing.assert_array_equal(m.weights_, [1.0, 0.0])
    before = m.token_logprobs(toy_test)
    m.tune_weights(toy_test)
    assert m.token_logprobs(toy_test).sum() >= before.sum()
    m.save(tmp_path / "mix")
    again = lm.load(tmp_path / "mix")
    np.testing.assert_array_equal(again.weights_, m.weights_)
    np.testing.assert_array_equal(again.token_logprobs(toy_test), m.token_logprobs(toy_test))
    assert again.get_params()["components"] == [("unigram", {"k": 0.1}), ("uniform", {})]


def test_tuples_in_parameters_survive_save_and_load(toy_train, toy_test, tmp_path):
    m = make("interpolated", weights=(0.5, 0.5)).fit(toy_train)   # the default components are tuples
    m.save(tmp_path / "mix")
    again = lm.load(tmp_path / "mix")
    assert again.get_params() == m.get_params()
    assert again.components == (("unigram", {"k": 0.5}), ("uniform", {})) and again.weights == (0.5, 0.5)
    assert repr(again) == "InterpolatedModel(weights=(0.5, 0.5))"
    # A config.json written before tuples were marked (plain JSON lists) still loads, as lists.
    config = json.loads((tmp_path / "mix" / "config.json").read_text())
    config["params"] = {"components": [["unigram", {"k": 0.5}], ["uniform", {}]], "weights": [0.5, 0.5]}
    (tmp_path / "mix" / "config.json").write_text(json.dumps(config))
    old = lm.load(tmp_path / "mix")
    assert old.weights == [0.5, 0.5]
    np.testing.assert_array_equal(old.token_logprobs(toy_test), m.token_logprobs(toy_test))


def test_nested_mixture_round_trips(toy_train, toy_test, tmp_path):
    inner = make("interpolated", components=["unigram", "uniform"], weights=[0.5, 0.5]).fit(toy_train)
    outer = InterpolatedModel.from_models([inner, make("unigram", k=1.0).fit(toy_train)],
                                          weights=[0.3, 0.7])
    outer.save(tmp_path / "nested")
    again = lm.load(tmp_path / "nested")
    np.testing.assert_array_equal(again.token_logprobs(toy_test), outer.token_logprobs(toy_test))
    # p = 0.3 (0.5 p_ml + 0.5 p_uniform) + 0.7 p_add1, checked on the first token "the" after <s>
    v = toy_train.vocab
    expected = (0.3 * (0.5 * math.exp(inner.models_[0].logprobs_[v["the"]]) + 0.5 / (len(v) - 1))
                + 0.7 * math.exp(outer.models_[1].logprobs_[v["the"]]))
    assert math.exp(again.next_logprobs([[]])[0, v["the"]]) == pytest.approx(expected)


def test_loglinear_tuning_improves_heldout_likelihood(toy_train, toy_test):
    m = InterpolatedModel.from_models([make("unigram", k=0.1).fit(toy_train), make("uniform").fit(toy_train)],
                                      mixture="loglinear")
    before = m.token_logprobs(toy_test).sum()
    m.tune_weights(toy_test)
    assert m.token_logprobs(toy_test).sum() > before
    np.testing.assert_allclose(np.exp(m.next_logprobs([[], [3, 4]])).sum(axis=1), 1.0, atol=1e-9)


def test_mixing_different_vocabularies_is_an_error(toy_train):
    other = make("unigram").fit(Corpus.from_texts(["completely different words"]))
    with pytest.raises(lm.VocabularyMismatchError, match="different vocabularies"):
        InterpolatedModel.from_models([make("unigram").fit(toy_train), other])
    with pytest.raises(lm.NotFittedError):
        InterpolatedModel.from_models([make("unigram")])


@pytest.mark.parametrize("params, match", [
    ({"components": []}, "components must be"),
    ({"components": [("unigram", 3)]}, "pair"),
    ({"components": ["unigram", "uniform"], "weights": [0.5, 0.6]}, "sum to 1"),
    ({"components": ["unigram", "uniform"], "weights": [1.0]}, "weights must be"),
    ({"components": ["unigram", "uniform"], "weights": [1.5, -0.5]}, "weights must be"),
    ({"mixture": "geometric"}, "mixture must be"),
    ({"heldout": 1.0}, "heldout must be"),
])
def test_bad_parameters_are_named(params, match, toy_train):
    with pytest.raises(lm.InvalidParameterError, match=match):
        make("interpolated", **params).fit(toy_train)


def test_unknown_component_is_named(toy_train):
    with pytest.raises(lm.UnknownModelError, match="unigramm"):
        make("interpolated", components=["unigramm"]).fit(toy_train)


def test_incremental_state_follows_components(toy_train):
    m = make("interpolated", components=["unigram", "uniform"]).fit(toy_train)
    state, lp = m.start_state([[], [3]])
    state = m.reorder_state(state, [1, 0, 0])
    state, lp = m.advance(state, [4, 5, 6])
    np.testing.assert_allclose(lp, m.next_logprobs([[3, 4], [5], [6]]))


def test_the_harness_lists_a_mixture_as_a_model(toy_train, toy_test, tmp_path):
    from types import SimpleNamespace

    from langmodels.bench.harness import run_benchmark

    valid = Corpus.from_texts(["the cat sat on the log", "a dog ran"], vocab=toy_train.vocab)
    spec = {"name": "mix", "corpus": "synthetic", "seeds": [0], "out": str(tmp_path), "progress": False,
            "models": [{"model": "interpolated", "label": "kn+unigram",
                        "params": {"components": [["kneser-ney", {"order": 2}], ["unigram", {"k": 0.5}]]}}],
            "metrics": {"ranking": False, "continuation_bleu": False, "unconditional": False, "human": False}}
    data = SimpleNamespace(train=toy_train, valid=valid, test=toy_test, oracle_logprobs=None)
    records = run_benchmark(spec, data=data, log=lambda line: None)
    [record] = [r for r in records if r["label"] == "kn+unigram"]
    assert record["kind"] == "model"
    # fit(train, valid) tuned the weights on valid; the record's perplexity is the tuned mixture's.
    m = make("interpolated", **spec["models"][0]["params"]).fit(toy_train, valid)
    assert record["metrics"]["perplexity"] == pytest.approx(lm.perplexity(m, toy_test))
