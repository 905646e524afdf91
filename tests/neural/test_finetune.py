"""Pre-training then fine-tuning the neural models: fit(corpus, init=model_or_dir)."""

from __future__ import annotations

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus
from langmodels.errors import InvalidParameterError, NotFittedError

pytest.importorskip("torch")

QUIET = {"progress": False, "device": "cpu", "threads": 1, "seed": 0, "batch_size": 4}
RNN = {"embed_dim": 8, "hidden_size": 8, "n_layers": 1, "dropout": 0.0, "epochs": 2, **QUIET}
GPT = {"embed_dim": 8, "n_heads": 2, "n_layers": 1, "block_size": 16, "epochs": 2, **QUIET}
GENERAL = ["the cat sat", "the dog sat on the mat", "a cat ran", "the mat sat"] * 3


def _rows(model, ids):
    return model.module_.embed.weight.detach().numpy()[ids]


@pytest.mark.parametrize("name,params", [("lstm", RNN), ("gru", RNN), ("rnn", RNN), ("transformer", GPT)])
def test_rows_carried_over_from_fitted_and_saved(name, params, tmp_path):
    base = lm.make(name, **params).fit(Corpus.from_texts(GENERAL))
    before = {k: v.clone() for k, v in base.module_.state_dict().items()}
    new = Corpus.from_texts(["the bird sat", "a bird flew"])
    start = lm.make(name, **{**params, "epochs": 0}).fit(new, init=base)
    # new -> base ids: "the", "sat", "a" shared; "bird", "flew" absent -> base <unk> (id 0)
    idx = new.vocab.index_in(base.vocab_)
    assert sorted(new.vocab.tokens[i] for i in np.flatnonzero(idx == 0)) == ["<unk>", "bird", "flew"]
    for tok in ["the", "sat", "a", "bird", "flew"]:
        want = base.vocab_.encode([tok])[0] if tok in base.vocab_ else 0
        np.testing.assert_array_equal(_rows(start, new.vocab.encode([tok])), _rows(base, [want]))
    head, base_head = start.module_.head, base.module_.head
    np.testing.assert_array_equal(head.weight.detach().numpy(), base_head.weight.detach().numpy()[idx])
    if head.bias is not None:
        np.testing.assert_array_equal(head.bias.detach().numpy(), base_head.bias.detach().numpy()[idx])
    # fine-tuning from the fitted model and from its saved directory give the same model
    tuned = lm.make(name, **params).fit(new, init=base)
    base.save(tmp_path / "base")
    from_dir = lm.make(name, **params).fit(new, init=tmp_path / "base")
    from_str = lm.make(name, **params).fit(new, init=str(tmp_path / "base"))
    for m in (from_dir, from_str):
        np.testing.assert_array_equal(m.token_logprobs(new), tuned.token_logprobs(new))
    assert len(tuned.history_) == 2 and start.history_ == []
    for k, v in base.module_.state_dict().items():          # the base model is not modified
        assert (v == before[k]).all(), k
    probs = np.exp(tuned.next_logprobs([[], new.vocab.encode(["the", "bird"])]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("name,params", [("lstm", RNN), ("transformer", GPT)])
def test_same_vocabulary_and_no_epochs_equals_the_base(name, params):
    corpus = Corpus.from_texts(GENERAL)
    base = lm.make(name, **params).fit(corpus)
    start = lm.make(name, **{**params, "epochs": 0, "lr": 0.5}).fit(corpus, init=base)
    np.testing.assert_array_equal(start.token_logprobs(corpus), base.token_logprobs(corpus))
    hist = [[], corpus.vocab.encode(["the", "cat"])]
    np.testing.assert_array_equal(start.next_logprobs(hist), base.next_logprobs(hist))


def test_refuses_other_models_architectures_and_resume(tmp_path):
    corpus = Corpus.from_texts(GENERAL)
    base = lm.make("lstm", **RNN).fit(corpus)
    for change, name, was in [({"hidden_size": 16}, "hidden_size", 8), ({"embed_dim": 16}, "embed_dim", 8),
                              ({"n_layers": 2}, "n_layers", 1)]:
        with pytest.raises(InvalidParameterError, match=rf"init has {name}={was} but this model has {name}="):
            lm.make("lstm", **{**RNN, **change}).fit(corpus, init=base)
    with pytest.raises(InvalidParameterError, match=r"init is a GRUModel \('gru'\), not a LSTMModel"):
        lm.make("lstm", **RNN).fit(corpus, init=lm.make("gru", **RNN).fit(corpus))
    gpt = lm.make("transformer", **GPT).fit(corpus)
    with pytest.raises(InvalidParameterError, match="init has n_heads=2 but this model has n_heads=4"):
        lm.make("transformer", **{**GPT, "n_heads": 4}).fit(corpus, init=gpt)
    with pytest.raises(InvalidParameterError, match="init has positions='rotary'"):
        lm.make("transformer", **{**GPT, "positions": "learned"}).fit(corpus, init=gpt)
    unigram = lm.make("unigram").fit(corpus)
    unigram.save(tmp_path / "uni")
    with pytest.raises(InvalidParameterError, match="init is a"):
        lm.make("lstm", **RNN).fit(corpus, init=tmp_path / "uni")
    with pytest.raises(NotFittedError):
        lm.make("lstm", **RNN).fit(corpus, init=lm.make("lstm", **RNN))
    with pytest.raises(TypeError, match="init must be"):
        lm.make("lstm", **RNN).fit(corpus, init=42)
    with pytest.raises(lm.CheckpointError):
        lm.make("lstm", **RNN).fit(corpus, init=tmp_path / "missing")
    with pytest.raises(InvalidParameterError, match="resume=True and init are exclusive"):
        lm.make("lstm", **{**RNN, "checkpoint_dir": str(tmp_path / "ck")}).fit(corpus, init=base, resume=True)


def test_finetuning_scores_the_new_domain_better():
    rng = np.random.default_rng(0)
    nouns, verbs, adjs = ["n1", "n2", "n3"], ["v1", "v2", "v3"], ["j1", "j2"]
    def texts(a, b, n):
        return [" ".join(rng.choice(a if t % 2 == 0 else b) for t in range(rng.integers(2, 7)))
                for _ in range(n)]
    general, domain = texts(nouns, verbs, 300), texts(adjs, nouns, 120)
    params = {**RNN, "embed_dim": 16, "hidden_size": 16, "lr": 0.02, "batch_size": 16}
    pre = lm.make("lstm", **{**params, "epochs": 4}).fit(Corpus.from_texts(general))
    # the domain's own vocabulary: j1, j2 are new words, mapped from the base's <unk>
    train = Corpus.from_texts(domain[:100])
    test = Corpus.from_texts(domain[100:], vocab=train.vocab)
    tuned = lm.make("lstm", **{**params, "epochs": 2}).fit(train, init=pre)
    test_base = Corpus.from_texts(domain[100:], vocab=pre.vocab_)
    assert lm.perplexity(tuned, test) < 0.8 * lm.perplexity(pre, test_base)
