"""Weight drop (`weight_drop`): DropConnect on the recurrent families' hidden-to-hidden matrices."""

import json

import numpy as np
import pytest
import torch

import langmodels as lm
from langmodels import Corpus, make
from langmodels.errors import InvalidParameterError
from langmodels.neural.rnn import RNNModule
from langmodels.vocabulary import BOS_ID

RNG = np.random.default_rng(0)
WORDS = [f"w{i}" for i in range(12)]
TEXTS = [" ".join(RNG.choice(WORDS, size=RNG.integers(2, 9))) for _ in range(40)]
TINY = {"embed_dim": 8, "hidden_size": 8, "n_layers": 2, "epochs": 2, "batch_size": 4, "seed": 0,
        "device": "cpu", "progress": False, "patience": None, "dropout": 0.3}
CELLS = ["rnn", "lstm", "gru"]


def tiny(name, **params):
    return make(name, **{**TINY, **params})


@pytest.fixture(scope="module")
def train():
    return Corpus.from_texts(TEXTS)


# Summed ln p of the training corpus after fitting with these TINY settings, computed with the code of
# commit 45b50a6, before `weight_drop` existed: the default must train exactly as it did.
BEFORE = {("rnn", "sentence"): -627.7729470729828, ("rnn", "stream"): -641.2343139648438,
          ("lstm", "sentence"): -628.7432324886322, ("lstm", "stream"): -641.124267578125,
          ("gru", "sentence"): -626.9010412693024, ("gru", "stream"): -641.4012451171875}


@pytest.mark.parametrize("name, context", list(BEFORE))
def test_the_default_trains_exactly_as_before_the_parameter(name, context, train):
    model = tiny(name, context=context).fit(train)
    assert model.weight_drop == 0.0
    np.testing.assert_allclose(model.token_logprobs(train).sum(), BEFORE[name, context], rtol=1e-6)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("context", ["sentence", "stream"])
def test_distributions_stay_normalised_with_weight_drop(name, context, train):
    model = tiny(name, context=context, weight_drop=0.5).fit(train)
    lp = model.next_logprobs([[], [train.vocab["w0"]], [train.vocab["w3"]] * 9])
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-6)
    assert np.isneginf(lp[:, BOS_ID]).all()


@pytest.mark.parametrize("name", CELLS)
def test_weight_drop_changes_training_and_is_reproducible_from_the_seed(name, train):
    plain = tiny(name).fit(train).token_logprobs(train)
    dropped = tiny(name, weight_drop=0.4).fit(train).token_logprobs(train)
    again = tiny(name, weight_drop=0.4).fit(train).token_logprobs(train)
    other_seed = tiny(name, weight_drop=0.4, seed=1).fit(train).token_logprobs(train)
    assert np.abs(dropped - plain).max() > 1e-3
    np.testing.assert_array_equal(dropped, again)
    assert np.abs(dropped - other_seed).max() > 1e-3


def test_one_mask_per_batch_on_the_recurrent_matrix_only_in_training():
    """An Elman layer by hand: h_t = tanh(W_ih x_t + b_ih + D h_{t-1} + b_hh), the same dropped
    matrix D at every step, D's entries 0 or W_hh / (1 - p)."""
    torch.manual_seed(0)
    p = 0.5
    module = RNNModule("rnn", 20, 6, 6, 1, 0.0, False, weight_drop=p).train()
    rnn = module.rnn
    e = torch.randn(7, 2, 6)                                        # (T, B, E)
    torch.manual_seed(5)
    with torch.no_grad():
        out, _ = module.recur(e, None)
    torch.manual_seed(5)                                            # the same draw: the mask
    kept = torch.nn.functional.dropout(torch.ones(6, 6), p) != 0
    D = torch.where(kept, rnn.weight_hh_l0 / (1 - p), torch.zeros(()))
    assert 0 < kept.sum() < 36
    h, expected = torch.zeros(2, 6), []
    with torch.no_grad():
        for t in range(7):
            h = torch.tanh(e[t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ D.T + rnn.bias_hh_l0)
            expected.append(h)
    torch.testing.assert_close(out, torch.stack(expected))
    module.eval()                                                   # scoring: the weights as they are
    with torch.no_grad():
        torch.testing.assert_close(module.recur(e, None)[0], rnn(e)[0])
    assert (rnn.weight_hh_l0 != 0).all()                            # the module's own weights untouched


@pytest.mark.parametrize("value", [1.0, -0.1])
def test_a_bad_weight_drop_is_named(value, train):
    with pytest.raises(InvalidParameterError, match="weight_drop"):
        tiny("lstm", weight_drop=value).fit(train)


def test_a_model_saved_before_the_parameter_still_loads(train, tmp_path):
    model = tiny("lstm").fit(train)
    model.save(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    del config["params"]["weight_drop"]
    config_path.write_text(json.dumps(config))
    again = lm.load(tmp_path / "m")
    assert again.weight_drop == 0.0
    np.testing.assert_array_equal(again.token_logprobs(train), model.token_logprobs(train))
