"""The contract every registered model obeys (see langmodels.base)."""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest

import langmodels as lm
from langmodels import BOS, Corpus, make
from tests.stubs import FAST_PARAMS, histories_for

# hf-causal (a GPT-2, however tiny) takes seconds per test: `-m "not slow"` leaves it out.
SLOW = {"hf-causal"}
MODELS = [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
          for name in lm.available_models()]
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
def test_save_then_load_gives_back_the_original(name, models, toy_train, toy_test, tmp_path):
    model = models(name)
    model.save(tmp_path / "m")
    again = lm.load(tmp_path / "m")
    assert type(again) is type(model)
    # repr of the values as well: JSON alone turns a tuple into a list and 1.0 into 1 unnoticed by ==
    assert again.get_params() == model.get_params()
    assert repr(again.get_params()) == repr(model.get_params())
    assert repr(again) == repr(model)
    hs = histories_for(toy_train.vocab)
    np.testing.assert_array_equal(again.next_logprobs(hs), model.next_logprobs(hs))
    np.testing.assert_array_equal(again.token_logprobs(toy_test), model.token_logprobs(toy_test))


@pytest.mark.parametrize("name", MODELS)
def test_unfitted_queries_raise(name):
    model = make(name, **FAST_PARAMS.get(name, {}))
    with pytest.raises(lm.NotFittedError):
        model.next_logprobs([[]])
    with pytest.raises(lm.NotFittedError):
        model.save("/nonexistent/never-written")
    with pytest.raises(lm.NotFittedError):
        model.n_parameters()
    with pytest.raises(lm.NotFittedError):
        model.learning_curve()
    with pytest.raises(lm.NotFittedError):
        model.scoring_context  # noqa: B018  (a property: reading it is the query)


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


def signature_defaults(cls) -> dict:
    """The constructor's keyword parameters and their defaults, in signature order."""
    return {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


@pytest.mark.parametrize("name", MODELS)
def test_constructor_stores_parameters_unchanged(name):
    given = FAST_PARAMS.get(name, {})
    model = make(name, **given)
    defaults = signature_defaults(type(model))
    params = model.get_params()
    assert list(params) == list(defaults)
    for key, value in params.items():   # the very objects passed (or the defaults): no normalising
        assert value is given.get(key, defaults[key]), key
    shown = ", ".join(f"{k}={given[k]!r}" for k in defaults if k in given and given[k] != defaults[k])
    assert repr(model) == f"{type(model).__name__}({shown})"
    assert repr(type(model)()) == f"{type(model).__name__}()"


@pytest.mark.parametrize("name", MODELS)
def test_set_params_with_get_params_changes_nothing(name):
    model = make(name, **FAST_PARAMS.get(name, {}))
    before = model.get_params()
    assert model.set_params(**before) is model
    after = model.get_params()
    assert list(after) == list(before)
    assert all(after[k] is before[k] for k in before)


@pytest.mark.parametrize("name", MODELS)
def test_clone_is_a_new_unfitted_model_with_the_same_parameters(name, models):
    model = models(name)
    twin = lm.clone(model)
    assert type(twin) is type(model) and twin is not model
    assert model.is_fitted and not twin.is_fitted
    params, twin_params = model.get_params(), twin.get_params()
    assert list(twin_params) == list(params)
    for key, value in params.items():
        if copy.deepcopy(value) is value:     # immutable: scikit-learn's clone passes the object itself
            assert twin_params[key] is value, key
        else:                                 # mutable: an equal copy the twin does not share
            assert twin_params[key] == value and twin_params[key] is not value, key


@pytest.mark.parametrize("name", MODELS)
def test_descriptive_queries_answer_and_survive_save_load(name, models, tmp_path):
    model = models(name)
    assert model.scoring_context == "sentence"          # every family's default
    n = model.n_parameters()
    assert isinstance(n, int) and (n == 0) == (name == "uniform")
    curve = model.learning_curve()
    assert isinstance(curve, list)
    for entry in curve:
        assert {"train_nll", "valid_nll"} <= set(entry)
        assert entry["train_nll"] is None or entry["train_nll"] > 0
    trained_in_epochs = name in ("hmm", "rnn", "lstm", "gru", "transformer")
    assert bool(curve) == trained_in_epochs
    again = lm.load(model.save(tmp_path / "m"))
    assert again.n_parameters() == n
    assert again.learning_curve() == curve
