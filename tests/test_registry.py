"""make and get_class: names and parameters are checked when the model is made, before any data."""

import pytest

import langmodels as lm
from langmodels import InvalidParameterError, UnknownModelError, get_class, make


@pytest.mark.parametrize("name, right", [("LSTM", "lstm"), ("Kneser-Ney", "kneser-ney"), ("HMM", "hmm"),
                                         ("kneser_ney", "kneser-ney")])
def test_a_miscased_or_misspelt_name_gets_a_suggestion(name, right):
    for call in (make, get_class):
        with pytest.raises(UnknownModelError, match=f"unknown model '{name}'; did you mean '{right}'\\?"):
            call(name)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownModelError, match="unknown model 'zzzz' Known models: uniform, unigram"):
        make("zzzz")


@pytest.mark.parametrize("name, bad, right", [("lstm", "hiden_size", "hidden_size"),
                                              ("kneser-ney", "Order", "order"),
                                              ("transformer", "n_head", "n_heads"),
                                              ("hmm", "n_state", "n_states")])
def test_an_unknown_parameter_is_a_library_error_with_a_suggestion(name, bad, right):
    with pytest.raises(InvalidParameterError,
                       match=f"{name} has no parameter '{bad}'; did you mean '{right}'\\?"):
        make(name, **{bad: 1})


@pytest.mark.parametrize("name, bad", [
    ("kneser-ney", {"order": 0}),
    ("modified-kneser-ney", {"discount": [0.5]}),
    ("unigram", {"k": -1}),
    ("hmm", {"n_states": 0}),
    ("lstm", {"lr": 0}),
    ("gru", {"tie_weights": True, "embed_dim": 10, "hidden_size": 20}),
    ("transformer", {"embed_dim": 10, "n_heads": 3}),
    ("lstm", {"device": "gpu"}),
    ("interpolated", {"components": [("kneser-ney", {}), ("no-such-model", {})]}),
])
def test_make_rejects_invalid_values_before_any_data(name, bad):
    with pytest.raises(lm.LangModelsError):
        make(name, **bad)


def test_every_registered_model_but_hf_causal_is_made_with_its_defaults():
    for name in lm.available_models():
        if name == "hf-causal":   # needs pretrained= or config=: said at make, not at fit
            with pytest.raises(InvalidParameterError, match="give exactly one of pretrained"):
                make(name)
        else:
            assert make(name).get_params() == get_class(name)().get_params()
