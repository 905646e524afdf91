"""The adaptive softmax output layer (`softmax="adaptive"`) and word-level embedding dropout."""

import json

import numpy as np
import pytest
import torch
from torch import nn

import langmodels as lm
from langmodels import Corpus
from langmodels.errors import InvalidParameterError
from langmodels.neural.adaptive import AdaptiveSoftmax, TiedAdaptiveSoftmax, frequency_cutoffs
from langmodels.vocabulary import BOS_ID

from ._zipf import FAMILIES, TEXTS, WORDS, histories, tiny_adaptive


def tiny(name, **params):
    return tiny_adaptive(name, **{"tie_weights": False, **params})


@pytest.fixture(scope="module", params=[(f, c, t) for f in FAMILIES for c in ("sentence", "stream")
                                        for t in (False, True)],
                ids=lambda p: f"{p[0]}-{p[1]}-{'tied' if p[2] else 'untied'}")
def fitted(request, zipf_train):
    """Every family and context, with the adaptive softmax untied and tied to the embedding."""
    name, context, tied = request.param
    return tiny(name, context=context, tie_weights=tied).fit(zipf_train)


def test_every_distribution_sums_to_one_with_bos_at_zero(fitted, zipf_train):
    lp = fitted.next_logprobs(histories(zipf_train.vocab))
    assert lp.shape == (6, len(zipf_train.vocab))
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-6)
    assert np.isneginf(lp[:, BOS_ID]).all()
    assert np.isfinite(np.delete(lp, BOS_ID, axis=1)).all()


def test_token_logprobs_agree_with_next_logprobs(fitted, zipf_test):
    """Batched sentence scoring equals one `next_logprobs` per target. A stream-trained network is
    scored in sentence context here: its stream scores carry the state across sequences, where
    `next_logprobs` starts each history at `<s>` (stream scoring: test_tied_adaptive.py)."""
    context, fitted.context = fitted.context, "sentence"
    try:
        fast = fitted.token_logprobs(zipf_test)
        slow = lm.LanguageModel._token_logprobs(fitted, zipf_test)
    finally:
        fitted.context = context
    np.testing.assert_allclose(fast, slow, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("name", FAMILIES)
def test_training_loss_equals_the_scored_logprobs(name, tied, zipf_train, zipf_test):
    """The loss the training loop minimises (the module's clustered `nll`) is -sum of the scores."""
    window = {"block_size": 16} if name == "transformer" else {}
    model = tiny(name, tie_weights=tied, **window).fit(zipf_train)
    module = model.module_.eval()
    total = 0.0
    with torch.no_grad():
        for seq in zipf_test.sequences():
            x = torch.tensor(np.concatenate([[BOS_ID], seq]), dtype=torch.int64)[None]
            y = torch.tensor(np.concatenate([seq, [zipf_test.vocab.eos_id]]), dtype=torch.int64)[None]
            loss, _ = module(x, None, y)
            total += float(loss)
    np.testing.assert_allclose(total, -model.token_logprobs(zipf_test).sum(), rtol=1e-5)


def test_output_layer_matches_a_direct_computation():
    """Head softmax over c_0 words and one entry per tail, <s> excluded; each tail's own softmax
    through its projection; p(tail word) = p_head(tail) p_tail(word), computed here in float64."""
    torch.manual_seed(0)
    layer = AdaptiveSoftmax(16, 20, [5, 12]).eval()
    x = torch.randn(7, 16)
    with torch.no_grad():
        got = layer(x).double().numpy()
        X = x.double().numpy()
        W = {k: v.double().numpy() for k, v in layer.state_dict().items()}

    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    head_z = X @ W["head.weight"].T
    head_z[:, BOS_ID] = -np.inf
    head = log_softmax(head_z)                                               # (7, 5 + 2)
    tail0 = log_softmax(X @ W["tail.0.0.weight"].T @ W["tail.0.1.weight"].T) + head[:, 5:6]
    tail1 = log_softmax(X @ W["tail.1.0.weight"].T @ W["tail.1.1.weight"].T) + head[:, 6:7]
    expected = np.concatenate([head[:, :5], tail0, tail1], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("make_layer", [lambda: AdaptiveSoftmax(16, 30, [6, 15]),
                                        lambda: TiedAdaptiveSoftmax(nn.Embedding(30, 16), [6, 15])],
                         ids=["untied", "tied"])
def test_nll_reads_each_targets_cluster_and_skips_ignored_rows(make_layer):
    torch.manual_seed(1)
    layer = make_layer().eval()
    x = torch.randn(9, 16)
    y = torch.tensor([0, 2, 5, 6, 14, 15, 29, -100, 3])
    with torch.no_grad():
        full = layer(x)
        keep = y != -100
        expected = -full[keep].gather(1, y[keep][:, None]).sum()
        np.testing.assert_allclose(float(layer.nll(x, y)), float(expected), rtol=1e-6)


def test_save_and_load_give_the_same_scores(zipf_train, zipf_test, tmp_path):
    model = tiny("lstm", cutoffs=[5, 12]).fit(zipf_train)
    model.save(tmp_path / "m")
    again = lm.load(tmp_path / "m")
    assert again.cutoffs_ == [5, 12] and again.softmax == "adaptive"
    np.testing.assert_array_equal(again.token_logprobs(zipf_test), model.token_logprobs(zipf_test))
    np.testing.assert_array_equal(again.next_logprobs(histories(zipf_train.vocab)),
                                  model.next_logprobs(histories(zipf_train.vocab)))


def test_a_full_softmax_saved_before_the_option_still_loads(zipf_train, zipf_test, tmp_path):
    model = tiny("gru", softmax="full").fit(zipf_train)
    model.save(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    for key in ("softmax", "cutoffs", "embed_dropout"):
        del config["params"][key]
    del config["state"]["cutoffs"]
    config_path.write_text(json.dumps(config))
    again = lm.load(tmp_path / "m")
    assert again.cutoffs_ is None and again.softmax == "full"
    np.testing.assert_array_equal(again.token_logprobs(zipf_test), model.token_logprobs(zipf_test))


def test_fewer_parameters_than_the_full_softmax(zipf_train):
    full = tiny("lstm", softmax="full").fit(zipf_train)
    adaptive = tiny("lstm").fit(zipf_train)
    V, H = len(zipf_train.vocab), 16
    c = adaptive.cutoffs_
    tails = sum((H // 4 ** (i + 1)) * (H + end - start)
                for i, (start, end) in enumerate(zip(c, [*c[1:], V])))
    assert adaptive.n_parameters() == full.n_parameters() - (V * H + V) + H * (c[0] + len(c)) + tails


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_init_carries_rows_over_to_a_new_vocabulary(name, zipf_train):
    base = tiny(name, cutoffs=[8, 16]).fit(zipf_train)
    # w0's count drops to 1: in the new vocabulary it moves from the head to the last tail.
    texts = [t.replace("w0", "w1") for t in TEXTS] + ["w0 newword newword"]
    new_train = Corpus.from_texts(texts)
    model = tiny(name, cutoffs=[8, 16], epochs=0).fit(new_train, init=base)
    old, new = base.vocab_, model.vocab_
    b, n = base.module_.state_dict(), model.module_.state_dict()
    for word in ("w2", "w3", "w4", "<unk>", "</s>"):   # in the head of both: the same row
        assert old[word] < 8 and new[word] < 8
        torch.testing.assert_close(n["head.head.weight"][new[word]], b["head.head.weight"][old[word]])
    torch.testing.assert_close(n["head.head.weight"][8:], b["head.head.weight"][8:])   # the tail entries
    torch.testing.assert_close(n["head.tail.0.0.weight"], b["head.tail.0.0.weight"])   # projections
    assert new["w0"] >= 16 and old["w0"] < 8        # moved to another cluster: the tail's mean row
    torch.testing.assert_close(n["head.tail.1.1.weight"][new["w0"] - 16], b["head.tail.1.1.weight"].mean(0))
    # A word the base never saw: in the head it would take <unk>'s row; in a tail, the tail's mean.
    assert new["newword"] >= 16
    torch.testing.assert_close(n["head.tail.1.1.weight"][new["newword"] - 16],
                               b["head.tail.1.1.weight"].mean(0))
    stayed = [w for w in WORDS if 8 <= old[w] < 16 and 8 <= new[w] < 16]   # first tail in both
    assert stayed
    for word in stayed:
        torch.testing.assert_close(n["head.tail.0.1.weight"][new[word] - 8],
                                   b["head.tail.0.1.weight"][old[word] - 8])


def test_init_needs_as_many_clusters(zipf_train):
    base = tiny("gru", cutoffs=[8, 16]).fit(zipf_train)
    with pytest.raises(InvalidParameterError, match="tail clusters"):
        tiny("gru", cutoffs=[8], epochs=0).fit(zipf_train, init=base)


def test_default_cutoffs_cover_80_and_95_percent_of_the_training_tokens():
    counts = np.array([5, 0, 0, 40, 20, 10, 10, 5, 5, 3, 1, 1])   # 100 tokens
    # cumulative: 5, 5, 5, 45, 65, 75, 85, 90, 95, 98, 99, 100 -> 80% at rank 7, 95% at rank 9
    assert frequency_cutoffs(counts) == [7, 9]
    assert frequency_cutoffs(np.zeros(100, np.int64)) == [80, 95]   # no counts: by rank
    assert frequency_cutoffs(np.array([0, 0, 0, 9, 1])) == [4]       # 95% is the last id: one tail


@pytest.mark.parametrize("params, message", [
    ({"softmax": "hierarchical"}, "softmax"),
    ({"cutoffs": [10, 5]}, "strictly increasing"),
    ({"cutoffs": [2, 10]}, r"cutoffs\[0\] must be at least 3"),
    ({"cutoffs": []}, "non-empty list"),
    ({"cutoffs": [4.5]}, "list of integers"),
    ({"cutoffs": [5], "softmax": "full"}, "only apply to softmax='adaptive'"),
    ({"tie_weights": "yes"}, "tie_weights"),
    ({"embed_dropout": 1.0}, "embed_dropout"),
])
@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_bad_parameters_are_named(name, params, message, zipf_train):
    with pytest.raises(InvalidParameterError, match=message):
        tiny(name, **params).fit(zipf_train)


@pytest.mark.parametrize("name, params, tied", [
    ("lstm", {"softmax": "full"}, True),                     # embed_dim == hidden_size
    ("lstm", {"softmax": "full", "hidden_size": 12}, False),
    ("lstm", {}, False),                                     # the adaptive softmax
    ("transformer", {"softmax": "full"}, True),
    ("transformer", {}, False),
])
def test_tie_weights_auto_ties_a_full_softmax_of_the_embeddings_width(name, params, tied, zipf_train):
    model = tiny(name, tie_weights="auto", **params).fit(zipf_train)
    head = model.module_.head
    assert (getattr(head, "weight", None) is model.module_.embed.weight) == tied


def test_cutoffs_past_the_vocabulary_are_an_error_at_fit(zipf_train):
    V = len(zipf_train.vocab)
    with pytest.raises(InvalidParameterError, match=f"below the vocabulary size {V}"):
        tiny("rnn", cutoffs=[5, V]).fit(zipf_train)


@pytest.mark.parametrize("name, positions", [("lstm", None), ("transformer", "sinusoidal"),
                                             ("transformer", "rotary")])
def test_embed_dropout_drops_whole_words_in_training_only(name, positions, zipf_train):
    extra = {"positions": positions} if positions else {}
    model = tiny(name, softmax="full", embed_dropout=0.5, **extra).fit(zipf_train)
    module = model.module_
    x = torch.tensor([[3, 4, 3, 5, 3, 4, 5, 6] * 4])
    embed = (module.embed_words if name == "lstm"
             else lambda ids: module.embed_tokens(ids, torch.zeros_like(ids)))
    added = positions == "sinusoidal"                    # rotary positions are not added to embeddings
    module.train()
    torch.manual_seed(3)
    module.drop.p = 0.0                                  # element dropout off: see only the word mask
    with torch.no_grad():
        e = embed(x)[0]
        plain = module.embed(x)[0] * (module.scale if added else 1.0)
        if added:
            e = e - module.positions(torch.zeros(32, dtype=torch.int64))
        ratio = (e / plain).mean(1)                      # 0 (dropped) or 2 (kept), per position
    for word in (3, 4, 5, 6):                            # one draw per word for the whole batch
        r = ratio[x[0] == word]
        torch.testing.assert_close(r, r[:1].expand_as(r))
    assert sorted(set(np.round(ratio.numpy(), 4))) == [0.0, 2.0]
    module.eval()
    with torch.no_grad():
        e = embed(x)[0]
        if added:
            e = e - module.positions(torch.zeros(32, dtype=torch.int64))
        torch.testing.assert_close(e, plain)             # nothing dropped outside training
