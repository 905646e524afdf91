"""The adaptive softmax tied to the input embedding (`softmax="adaptive"`, `tie_weights=True`)."""

import numpy as np
import pytest
import torch
from torch import nn

import langmodels as lm
from langmodels import Corpus
from langmodels.errors import InvalidParameterError
from langmodels.neural.adaptive import TiedAdaptiveSoftmax
from langmodels.vocabulary import BOS_ID

from ._zipf import FAMILIES, TEXTS, histories, tiny_adaptive


def tiny(name, **params):
    return tiny_adaptive(name, **{"tie_weights": True, **params})


@pytest.fixture(scope="module", params=[(f, c) for f in FAMILIES for c in ("sentence", "stream")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def fitted(request, zipf_train):
    name, context = request.param
    return tiny(name, context=context).fit(zipf_train)


def log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def test_the_output_layer_is_the_tied_adaptive_one(fitted):
    head = fitted.module_.head
    assert isinstance(head, TiedAdaptiveSoftmax)
    assert head.weight is fitted.module_.embed.weight


def test_generation_runs_on_the_tied_layer(fitted):
    out = fitted.generate(["w1 w2"], max_new_tokens=6, do_sample=True, seed=0)[0]
    assert 1 <= len(out.tokens) <= 6 and BOS_ID not in out.tokens


def test_output_layer_matches_a_direct_computation():
    """Head: softmax over [E[:c_0]; C] x + b, <s> excluded; tail i: softmax over E[c_i:c_i+1] (P_i^T x)
    + b_i, times the head's entry for tail i; computed here in float64 from the weights."""
    torch.manual_seed(0)
    embed = nn.Embedding(20, 8)
    layer = TiedAdaptiveSoftmax(embed, [5, 12]).eval()
    with torch.no_grad():   # move every weight off its start (identity projections, zero biases)
        for p in layer.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    x = torch.randn(7, 8)
    with torch.no_grad():
        got = layer(x).double().numpy()
    X = x.double().numpy()
    E = embed.weight.detach().double().numpy()
    C, P, b = (t.detach().double().numpy() for t in (layer.cluster, layer.proj, layer.bias))
    head_z = X @ np.concatenate([E[:5], C]).T + np.concatenate([b[:5], b[20:]])
    head_z[:, BOS_ID] = -np.inf
    head = log_softmax(head_z)                                                 # (7, 5 + 2)
    tail0 = log_softmax(X @ P[0] @ E[5:12].T + b[5:12]) + head[:, 5:6]
    tail1 = log_softmax(X @ P[1] @ E[12:].T + b[12:20]) + head[:, 6:7]
    expected = np.concatenate([head[:, :5], tail0, tail1], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.isneginf(got[:, BOS_ID]).all()


def test_projections_start_as_the_identity_so_tails_start_as_the_tied_full_softmax():
    torch.manual_seed(2)
    embed = nn.Embedding(30, 16)
    layer = TiedAdaptiveSoftmax(embed, [6, 15])
    x = torch.randn(4, 16)
    with torch.no_grad():
        within = layer(x)[:, 15:] - torch.logsumexp(layer(x)[:, 15:], 1, keepdim=True)
        full = torch.log_softmax(x @ embed.weight[15:].T, 1)
    torch.testing.assert_close(within, full)


def test_a_gradient_step_moves_the_embedding_and_the_output_together(zipf_train):
    """A word that is only ever a target (never an input) gets an embedding gradient through the
    output layer, and one step changes its input embedding and its output row alike."""
    model = tiny("lstm", epochs=0, cutoffs=[8, 16]).fit(zipf_train)
    module = model.module_.train()
    word = len(zipf_train.vocab) - 1                     # in the last tail cluster
    x = torch.tensor([[BOS_ID, zipf_train.vocab["w0"]]])
    y = torch.tensor([[zipf_train.vocab["w0"], word]])
    loss, _ = module(x, None, y)
    loss.backward()
    grad = module.embed.weight.grad
    assert grad[word].abs().sum() > 0               # from the output side only
    before = module.embed.weight[word].detach().clone()
    with torch.no_grad():
        for p in module.parameters():
            if p.grad is not None:
                p.sub_(0.5 * p.grad)
    assert not torch.equal(module.embed.weight[word], before)
    assert module.head.weight is module.embed.weight


def test_parameter_count_adds_only_the_cluster_rows_projections_and_cluster_biases(zipf_train):
    full = tiny("lstm", softmax="full").fit(zipf_train)
    tied = tiny("lstm").fit(zipf_train)
    k, d = len(tied.cutoffs_), 16
    # The tied full softmax: embedding (shared) + bias V; the tied adaptive one: the same
    # embedding and bias V, plus per tail a cluster row, a d x d projection and a cluster bias.
    assert tied.n_parameters() == full.n_parameters() + k * (d + d * d + 1)
    untied = tiny("lstm", tie_weights=False).fit(zipf_train)
    assert tied.n_parameters() < untied.n_parameters() + k * d * d


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_save_and_load_give_the_same_scores(name, zipf_train, zipf_test, tmp_path):
    model = tiny(name, cutoffs=[5, 12], context="stream").fit(zipf_train)
    model.save(tmp_path / "m")
    again = lm.load(tmp_path / "m")
    assert again.cutoffs_ == [5, 12] and again.softmax == "adaptive" and again.tie_weights is True
    assert again.module_.head.weight is again.module_.embed.weight
    np.testing.assert_array_equal(again.token_logprobs(zipf_test), model.token_logprobs(zipf_test))
    np.testing.assert_array_equal(again.next_logprobs(histories(zipf_train.vocab)),
                                  model.next_logprobs(histories(zipf_train.vocab)))


def test_the_same_seed_gives_the_same_model(zipf_train, zipf_test):
    a = tiny("gru", seed=3).fit(zipf_train).token_logprobs(zipf_test)
    b = tiny("gru", seed=3).fit(zipf_train).token_logprobs(zipf_test)
    c = tiny("gru", seed=4).fit(zipf_train).token_logprobs(zipf_test)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_init_carries_the_embedding_rows_and_copies_the_cluster_weights(name, zipf_train):
    base = tiny(name, cutoffs=[8, 16]).fit(zipf_train)
    texts = [t.replace("w0", "w1") for t in TEXTS] + ["w0 newword newword"]
    model = tiny(name, cutoffs=[8, 16], epochs=0).fit(Corpus.from_texts(texts), init=base)
    old, new = base.vocab_, model.vocab_
    b, n = base.module_.state_dict(), model.module_.state_dict()
    # w0 moves from the head to the last tail: it keeps its row (input and output alike).
    assert old["w0"] < 8 and new["w0"] >= 16
    for word in ("w0", "w2", "w29", "</s>"):
        torch.testing.assert_close(n["embed.weight"][new[word]], b["embed.weight"][old[word]])
        torch.testing.assert_close(n["head.bias"][new[word]], b["head.bias"][old[word]])
    torch.testing.assert_close(n["embed.weight"][new["newword"]], b["embed.weight"][old["<unk>"]])
    torch.testing.assert_close(n["head.bias"][len(new):], b["head.bias"][len(old):])   # the clusters'
    torch.testing.assert_close(n["head.cluster"], b["head.cluster"])
    torch.testing.assert_close(n["head.proj"], b["head.proj"])
    assert model.module_.head.weight is model.module_.embed.weight


def test_init_needs_as_many_clusters(zipf_train):
    base = tiny("gru", cutoffs=[8, 16]).fit(zipf_train)
    with pytest.raises(InvalidParameterError, match="tied adaptive softmax with 2 tail clusters"):
        tiny("gru", cutoffs=[8], epochs=0).fit(zipf_train, init=base)


def test_init_from_an_untied_adaptive_model_is_an_architecture_error(zipf_train):
    base = tiny("lstm", tie_weights=False).fit(zipf_train)
    with pytest.raises(InvalidParameterError, match="tie_weights=False"):
        tiny("lstm", epochs=0).fit(zipf_train, init=base)


def test_tying_needs_the_embedding_as_wide_as_the_state(zipf_train):
    with pytest.raises(InvalidParameterError, match="embed_dim == hidden_size"):
        tiny("lstm", hidden_size=12).fit(zipf_train)


def test_auto_leaves_the_adaptive_softmax_untied(zipf_train):
    for name in ("lstm", "transformer"):
        head = tiny(name, tie_weights="auto").fit(zipf_train).module_.head
        assert not isinstance(head, TiedAdaptiveSoftmax) and not hasattr(head, "weight")


@pytest.mark.parametrize("tie_weights", [True, False])
def test_stream_scores_equal_the_full_distributions_at_the_targets(tie_weights, zipf_train, zipf_test):
    """Scoring reads only each target's cluster; the (n, V) distributions of `forward` agree."""
    from langmodels.neural.batching import stream_of

    model = tiny("lstm", context="stream", tie_weights=tie_weights).fit(zipf_train)
    stream = stream_of(zipf_test)
    x, y = torch.from_numpy(stream[:-1][None]), torch.from_numpy(stream[1:])
    with torch.no_grad():
        h, _ = model.module_.features(x)                     # (T, 1, H)
        full = model.module_.head(h[:, 0])                   # (T, V)
    expected = full.gather(1, y[:, None])[:, 0].numpy()
    np.testing.assert_allclose(model.token_logprobs(zipf_test), expected, atol=1e-5)
