"""Scoring agrees with a direct computation through the module; causality; windows; generation."""

import copy

import numpy as np
import pytest
import torch

import langmodels as lm
from langmodels import Corpus, make
from langmodels.base import LanguageModel
from langmodels.neural import rnn as rnn_module

TEXTS = ["a b c d e f a b", "b c a", "d e f a b c d e f a", "c c"]
TINY = {"embed_dim": 8, "n_layers": 2, "epochs": 1, "batch_size": 2, "seed": 0, "device": "cpu",
        "progress": False, "patience": None}


@pytest.fixture(scope="module")
def train():
    return Corpus.from_texts(TEXTS)


def direct_logprobs(module, x):
    """ln p of every next token after the inputs x (1-D), <s> masked and renormalised."""
    with torch.no_grad():
        logits = module(torch.tensor(x)[None])[0][0].double()
    logits[:, lm.Vocabulary.bos_id] = -torch.inf
    return torch.log_softmax(logits, -1).numpy()


def direct_transformer_window(module, x):
    """ln p of the next token after exactly the inputs x (the model's last position)."""
    return direct_logprobs(module, x)[-1]


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_recurrent_sentence_and_stream_scores_equal_direct(name, train, monkeypatch):
    from langmodels.neural import estimator

    model = make(name, hidden_size=8, **TINY).fit(train)
    monkeypatch.setattr(estimator, "HEAD_ROWS", 3)       # the output layer in several blocks
    expected = []
    for seq in train.sequences():                   # sentence: each sequence from <s>, fresh state
        x = np.concatenate([[1], seq])
        y = np.concatenate([seq, [2]])
        expected.append(direct_logprobs(model.module_, x)[np.arange(len(y)), y])
    np.testing.assert_allclose(model.token_logprobs(train), np.concatenate(expected), atol=1e-5)

    model.set_params(context="stream")
    monkeypatch.setattr(rnn_module, "STREAM_CHUNK", 5)   # several chunks, state carried across
    stream = np.concatenate([[1], train.targets()])
    direct = direct_logprobs(model.module_, stream[:-1])[np.arange(len(stream) - 1), stream[1:]]
    np.testing.assert_allclose(model.token_logprobs(train), direct, atol=1e-5)


@pytest.fixture(scope="module")
def transformer(train):
    return make("transformer", n_heads=2, block_size=4, warmup=0, positions="learned", **TINY).fit(train)


def test_transformer_sentence_windows_equal_direct(transformer, train):
    # block_size 4: target t sees <s> + the last 3 tokens of its history
    W, expected = 4, []
    for seq in train.sequences():
        x = np.concatenate([[1], seq])
        y = np.concatenate([seq, [2]])
        for t in range(len(y)):
            ctx = x[:t + 1] if t < W else np.concatenate([[1], x[t - W + 2:t + 1]])
            expected.append(direct_transformer_window(transformer.module_, ctx)[y[t]])
    np.testing.assert_allclose(transformer.token_logprobs(train), expected, atol=1e-5)
    # the generic next_logprobs path (KV cache start) follows the same convention
    np.testing.assert_allclose(LanguageModel._token_logprobs(transformer, train), expected, atol=1e-5)


def test_transformer_stream_windows_equal_direct(transformer, train):
    model = copy.copy(transformer).set_params(context="stream", stride=3)
    stream = np.concatenate([[1], train.targets()])
    x, y = stream[:-1], stream[1:]
    # window 4, stride 3: inputs [0..3] score targets 0-3, then [3..6] scores 4-6, [6..9] 7-9, ...
    expected, begin, scored = [], 0, 0
    while scored < len(x):
        end = min(begin + 4, len(x))
        lp = direct_logprobs(model.module_, x[begin:end])
        expected += [lp[i - begin, y[i]] for i in range(scored, end)]
        scored, begin = end, end - 1
    np.testing.assert_allclose(model.token_logprobs(train), expected, atol=1e-5)


def test_transformer_is_causal(train):
    model = make("transformer", n_heads=2, block_size=16, **TINY).fit(train)
    a = Corpus.from_texts(["a b c d e f"], vocab=train.vocab)
    b = Corpus.from_texts(["a b c f f f"], vocab=train.vocab)    # differs from token 3 (0-based) on
    la, lb = model.token_logprobs(a), model.token_logprobs(b)
    np.testing.assert_array_equal(la[:3], lb[:3])             # targets a b c: same histories
    assert not np.allclose(la[4:], lb[4:])                    # later positions do see the change
    x = torch.tensor([[1, 3, 4, 5, 6, 7]])
    x2 = x.clone()
    x2[0, 3] = 8
    with torch.no_grad():
        out, out2 = model.module_(x)[0], model.module_(x2)[0]
    torch.testing.assert_close(out[0, :3], out2[0, :3], rtol=0, atol=0)


# Generation through the base class's re-scoring state instead of the model's cache.
_NO_CACHE = {"_start_state": LanguageModel._start_state, "_advance": LanguageModel._advance,
             "_reorder_state": LanguageModel._reorder_state}


@pytest.mark.parametrize("name", ["lstm", "transformer", "rotary"])
def test_generation_with_cache_equals_without(name, train):
    extra = {"n_heads": 2, "block_size": 4} if name != "lstm" else {"hidden_size": 8}
    if name == "rotary":     # the rolling cache, one position per step, against a full re-run
        name, extra["positions"] = "transformer", "rotary"
    model = make(name, **extra, **TINY).fit(train)
    plain = copy.copy(model)
    fresh = {"_next_logprobs": lambda self, hs: type(model)._start_state(self, hs)[1]}   # full re-run
    plain.__class__ = type("Plain", (type(model),), {**_NO_CACHE, **fresh})
    v = train.vocab
    prompts = [[v["a"], v["b"]], [], [v["f"], v["a"], v["b"], v["c"], v["d"]]]   # the last one > window
    for kwargs in [{"max_new_tokens": 7}, {"max_new_tokens": 6, "num_beams": 3},
                   {"max_new_tokens": 6, "do_sample": True, "seed": 3}]:
        got = lm.generate(model, prompts, **kwargs)
        want = lm.generate(plain, prompts, **kwargs)
        for g, w in zip(got, want):
            assert g.tokens == w.tokens
            np.testing.assert_allclose(g.logprobs, w.logprobs, atol=1e-5)


def test_save_load_stream_transformer(transformer, train, tmp_path):
    model = copy.copy(transformer).set_params(context="stream")
    model.save(tmp_path / "m")
    again = lm.load(tmp_path / "m")
    assert again.context == "stream" and again.positions == "learned"
    np.testing.assert_array_equal(again.token_logprobs(train), model.token_logprobs(train))


# --- rotary positions: band attention, exact at any length ------------------------------------------
def naive_rotary_logprobs(module, x):
    """ln p after every input of x (1-D) under rotary band attention, written out position by position
    in float64 (no attention masks, no cache): query i of each layer sees keys i - W < j <= i."""
    m = copy.deepcopy(module).double()
    W, D = m.block_size, m.rotary_dim
    inv = 10000.0 ** (-np.arange(0, D, 2) / D)

    def rot(v, p):                      # v (D,): pairs (i, i + D/2) turned by p * inv_i
        a, b = v[:D // 2], v[D // 2:]
        c, s = torch.from_numpy(np.cos(p * inv)), torch.from_numpy(np.sin(p * inv))
        return torch.cat([a * c - b * s, b * c + a * s])

    with torch.no_grad():
        h = m.embed.weight[torch.tensor(x)]                                     # (T, d)
        T, d = h.shape
        for block in m.blocks:
            q, k, v = block.attn.qkv(block.ln1(h)).split(d, dim=1)
            y = torch.zeros(T, d, dtype=torch.float64)
            for head in range(d // D):
                sl = slice(head * D, (head + 1) * D)
                for i in range(T):
                    keys = range(max(0, i - W + 1), i + 1)
                    score = torch.stack([rot(q[i, sl], i) @ rot(k[j, sl], j) for j in keys]) / np.sqrt(D)
                    y[i, sl] = torch.softmax(score, 0) @ v[list(keys), sl]
            h = h + block.attn.proj(y)
            h = h + block.mlp(block.ln2(h))
        logits = m.head(m.ln_f(h))
    logits[:, lm.Vocabulary.bos_id] = -torch.inf
    return torch.log_softmax(logits, -1).numpy()


@pytest.fixture(scope="module")
def rotary(train):
    return make("transformer", n_heads=2, block_size=4, warmup=0, positions="rotary",
                **{**TINY, "epochs": 3}).fit(train)


def test_rotary_sentence_scores_equal_naive_band_attention(rotary, train, monkeypatch):
    from langmodels.neural import estimator

    monkeypatch.setattr(estimator, "HEAD_ROWS", 3)     # the output layer in several blocks
    expected = []
    for seq in train.sequences():                      # up to 11 inputs: past the window of 4
        x = np.concatenate([[1], seq])
        y = np.concatenate([seq, [2]])
        expected.append(naive_rotary_logprobs(rotary.module_, x)[np.arange(len(y)), y])
    np.testing.assert_allclose(rotary.token_logprobs(train), np.concatenate(expected), atol=1e-5)
    # the generic next_logprobs path (rolling cache from each history) agrees
    np.testing.assert_allclose(LanguageModel._token_logprobs(rotary, train), np.concatenate(expected),
                               atol=1e-5)


def test_rotary_stream_stretches_equal_naive_band_attention(rotary, train, monkeypatch):
    from langmodels.neural import transformer as transformer_module

    model = copy.copy(rotary).set_params(context="stream")
    stream = np.concatenate([[1], train.targets()])                 # 28 inputs
    expected = naive_rotary_logprobs(model.module_, stream[:-1])[np.arange(len(stream) - 1), stream[1:]]
    # warm-up 2 layers x 3 = 6 inputs; stretches of 6 targets: 5 stretches, each from 6 inputs before
    monkeypatch.setattr(transformer_module, "STRETCH", 1)
    np.testing.assert_allclose(model.token_logprobs(train), expected, atol=1e-5)
    monkeypatch.setattr(transformer_module, "STRETCH", 100)          # one stretch, no warm-up
    np.testing.assert_allclose(model.token_logprobs(train), expected, atol=1e-5)


def test_rotary_rolling_cache_equals_full_recompute(rotary):
    module = copy.deepcopy(rotary.module_)
    with torch.no_grad():                          # sharper attention than the tiny fit's
        for block in module.blocks:
            block.attn.qkv.weight.mul_(8)
        x = torch.from_numpy(np.random.default_rng(0).integers(3, 9, (3, 23)))   # 23 > 5 windows of 4
        full = module.features(x)                  # one pass, band mask over 23 x 23
        rolled, cache = module.extend_rolling(x)   # 4 columns at a time, 3 cached
    torch.testing.assert_close(rolled, full, rtol=0, atol=1e-5)
    assert all(k.shape[2] == 3 and v.shape[2] == 3 for k, v in cache)


def test_rotary_rows_are_distributions_past_the_window(rotary, train):
    v = train.vocab
    histories = [np.array([], np.int64), np.array([v["a"]] * 9), np.array([v["b"], v["c"]] * 6)]
    lp = rotary.next_logprobs(histories)
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-6)
    assert np.isneginf(lp[:, 1]).all()
    # the history beyond the receptive field (n_layers x 3 = 6 inputs back) does not matter
    long = np.concatenate([[v["f"]] * 5, histories[2]])
    np.testing.assert_allclose(rotary.next_logprobs([long])[0], lp[2], atol=1e-5)


def test_rotary_needs_an_even_head_width(train):
    with pytest.raises(lm.errors.InvalidParameterError, match="even"):
        make("transformer", positions="rotary", n_heads=2, **{**TINY, "embed_dim": 6}).fit(train)


def test_save_load_rotary(rotary, train, tmp_path):
    rotary.save(tmp_path / "m")
    again = lm.load(tmp_path / "m")
    assert again.positions == "rotary"
    np.testing.assert_array_equal(again.token_logprobs(train), rotary.token_logprobs(train))


@pytest.mark.parametrize("name", ["lstm", "transformer-sinusoidal"])
def test_models_saved_before_issue_13_load_and_score_as_then(name):
    # saved, and scored, by the code before the batched scoring and rotary positions (tests/neural/data)
    import json
    from pathlib import Path

    data = Path(__file__).parent / "data"
    before = json.loads((data / "scores_before_13.json").read_text())
    model = lm.load(data / name)
    train = Corpus.from_texts(before["texts"], vocab=model.vocab_)
    for context, expected in before["token_logprobs"][name].items():
        np.testing.assert_allclose(model.set_params(context=context).token_logprobs(train), expected,
                                   atol=1e-5)
