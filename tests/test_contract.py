"""The contract every registered model obeys (see langmodels.base)."""

from __future__ import annotations

import numpy as np
import pytest

import langmodels as lm
from langmodels import BOS, Corpus, make
from tests.stubs import FAST_PARAMS, histories_for

MODELS = lm.available_models()
ATOL = 1e-6
# Models whose family needs an optional extra: skipped, with the reason, where it is not installed.
OPTIONAL = {"hf-causal": "transformers"}


@pytest.fixture(autouse=True)
def _skip_without_optional_dependency(request):
    name = request.node.callspec.params.get("name") if hasattr(request.node, "callspec") else None
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name], reason=f"{name} needs the optional package {OPTIONAL[name]}")


def fitted(name, corpus):
    return make(name, **FAST_PARAMS.get(name, {})).fit(corpus)


@pytest.fixture(scope="module")
def models(toy_train):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = fitted(name, toy_train)
        return cache[name]

    return get


@pytest.mark.parametrize("name", MODELS)
def test_rows_are_distributions(name, models, toy_train):
    model = models(name)
    lp = model.next_logprobs(histories_for(toy_train.vocab))
    assert lp.shape == (8, len(toy_train.vocab))
    assert not np.isnan(lp).any()
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=ATOL)
    assert np.isneginf(lp[:, toy_train.vocab[BOS]]).all(), "<s> must never be predicted"


@pytest.mark.parametrize("name", MODELS)
def test_token_logprobs_agree_with_next_logprobs(name, models, toy_train, toy_test):
    model = models(name)
    fast = model.token_logprobs(toy_test)
    slow = lm.LanguageModel._token_logprobs(model, toy_test)
    assert fast.shape == (toy_test.n_targets,)
    np.testing.assert_allclose(fast, slow, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_fit_returns_self_and_refit_equals_fresh_fit(name, toy_train, toy_test):
    model = make(name, **FAST_PARAMS.get(name, {}))
    assert model.fit(toy_train) is model
    other = Corpus.from_texts(["x y z", "z y"])
    model.fit(other)                  # a different corpus in between
    model.fit(toy_train)
    fresh = fitted(name, toy_train)   # same seed, same results
    np.testing.assert_allclose(model.token_logprobs(toy_test), fresh.token_logprobs(toy_test),
                               atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_save_load_identical(name, models, toy_test, tmp_path):
    model = models(name)
    model.save(tmp_path / "m")
    again = lm.load(tmp_path / "m")
    assert type(again) is type(model)
    assert again.get_params() == lm.load(tmp_path / "m").get_params()
    np.testing.assert_array_equal(again.token_logprobs(toy_test), model.token_logprobs(toy_test))


@pytest.mark.parametrize("name", MODELS)
def test_unfitted_queries_raise(name):
    model = make(name, **FAST_PARAMS.get(name, {}))
    with pytest.raises(lm.NotFittedError):
        model.next_logprobs([[]])
    with pytest.raises(lm.NotFittedError):
        model.save("/nonexistent/never-written")


@pytest.mark.parametrize("name", MODELS)
def test_other_vocabulary_is_rejected(name, models):
    other = Corpus.from_texts(["completely different words"])
    with pytest.raises(lm.VocabularyMismatchError):
        models(name).token_logprobs(other)


@pytest.mark.parametrize("name", MODELS)
def test_incremental_state_matches_full_rescoring(name, models, toy_train):
    model = models(name)
    v = toy_train.vocab
    prefixes = [[], [v["the"], v["cat"]]]
    state, lp = model.start_state(prefixes)
    np.testing.assert_allclose(lp, model.next_logprobs(prefixes), atol=1e-5)
    steps = [[v["the"], v["dog"]], [v["sat"], v.unk_id], [v["on"], v["on"]]]
    for tokens in steps:
        state, lp = model.advance(state, tokens)
        prefixes = [p + [t] for p, t in zip(prefixes, tokens)]
        np.testing.assert_allclose(lp, model.next_logprobs(prefixes), atol=1e-5)
    state = model.reorder_state(state, [1, 1, 0])
    state, lp = model.advance(state, [v["the"]] * 3)
    prefixes = [prefixes[1], prefixes[1], prefixes[0]]
    np.testing.assert_allclose(lp, model.next_logprobs([p + [v["the"]] for p in prefixes]), atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_params_round_trip(name):
    model = make(name, **FAST_PARAMS.get(name, {}))
    twin = lm.clone(model)
    assert twin.get_params() == model.get_params()
    assert repr(model).startswith(type(model).__name__)
