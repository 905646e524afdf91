"""The training loop: overfitting, determinism, resume == straight run, DDP == one process."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, make

from .ddp_train import MODELS, TEXTS

# 3 sentences x 9 tokens + 3 </s> = 30 targets; only the first word is uncertain (1 in 3), so
# the best possible perplexity is exp(3 ln 3 / 30) = 1.116.
OVERFIT = ["the cat sat on the mat and then slept", "a dog ran to the park in the rain",
           "my bird sang all day long by the window"]
FIT = {"embed_dim": 16, "n_layers": 1, "dropout": 0.0, "lr": 0.05, "epochs": 80, "batch_size": 3,
       "warmup": 0, "patience": None, "seed": 0, "device": "cpu", "progress": False}


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "transformer"])
def test_overfits_thirty_tokens(name):
    train = Corpus.from_texts(OVERFIT)
    assert train.n_targets == 30
    extra = ({"n_heads": 2, "block_size": 16, "weight_decay": 0.0} if name == "transformer"
             else {"hidden_size": 16})
    model = make(name, **FIT, **extra).fit(train)
    assert lm.perplexity(model, train) < 2.0


def weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.module_.state_dict().items()}


def assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=atol, rtol=0, err_msg=k)


SMALL = {"embed_dim": 8, "n_layers": 2, "dropout": 0.2, "epochs": 3, "batch_size": 2, "seed": 3,
         "device": "cpu", "progress": False, "patience": None}
CASES = {"lstm": {"hidden_size": 8, "schedule": "plateau", "optimizer": "sgd", "lr": 0.5},
         "transformer": {"n_heads": 2, "block_size": 6, "context": "stream", "warmup": 2}}


@pytest.fixture(scope="module")
def corpora():
    train = Corpus.from_texts(TEXTS)
    return train, Corpus.from_texts(["a b c f", "d d e"], vocab=train.vocab)


@pytest.mark.parametrize("name", list(CASES))
def test_same_seed_same_weights(name, corpora):
    train, valid = corpora
    a = make(name, **SMALL, **CASES[name]).fit(train, valid)
    b = make(name, **SMALL, **CASES[name]).fit(train, valid)
    c = make(name, **{**SMALL, "seed": 4}, **CASES[name]).fit(train, valid)
    assert_same_weights(weights(a), weights(b))
    assert not np.allclose(weights(a)["embed.weight"], weights(c)["embed.weight"])


class Interrupted(Exception):
    pass


def stop_after_first_epoch(record):
    if record["epoch"] == 1:
        raise Interrupted


@pytest.mark.parametrize("name", list(CASES))
def test_resume_equals_straight_run(name, corpora, tmp_path):
    train, valid = corpora
    params = {**SMALL, **CASES[name], "checkpoint_dir": str(tmp_path / "ckpt")}
    straight = make(name, **{**params, "checkpoint_dir": None}).fit(train, valid)
    with pytest.raises(Interrupted):
        make(name, **params).fit(train, valid, on_epoch_end=stop_after_first_epoch)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["state.json", "tensors.safetensors"]
    resumed = make(name, **params).fit(train, valid, resume=True)
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3]
    assert_same_weights(weights(resumed), weights(straight))
    np.testing.assert_array_equal(resumed.token_logprobs(valid), straight.token_logprobs(valid))
    with pytest.raises(lm.InvalidParameterError, match="lr"):   # resuming another recipe
        make(name, **{**params, "lr": 0.3}).fit(train, valid, resume=True)


def test_early_stopping_restores_best_weights(corpora):
    train, valid = corpora
    # lr far too high: validation loss gets worse after the first epoch
    model = make("lstm", **{**SMALL, "epochs": 6, "patience": 2, "dropout": 0.0},
                 hidden_size=8, optimizer="sgd", lr=200.0, clip=0.0, schedule="constant").fit(train, valid)
    losses = [r["valid_loss"] for r in model.history_]
    assert len(losses) < 6                                    # stopped early
    best = min(losses)
    np.testing.assert_allclose(-model.token_logprobs(valid).mean(), best, rtol=1e-6)


@pytest.mark.slow
def test_two_process_ddp_equals_one_process(corpora, tmp_path):
    train = Corpus.from_texts(TEXTS)
    valid = Corpus.from_texts(TEXTS[:2], vocab=train.vocab)
    script = Path(__file__).with_name("ddp_train.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                          os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", str(script), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name, params in MODELS.items():
        single = make(name, **params).fit(train, valid)
        ddp = lm.load(tmp_path / name)
        assert_same_weights(weights(ddp), weights(single), atol=1e-5)
        assert not np.allclose(weights(ddp)["embed.weight"],
                               weights(make(name, **params).fit(valid))["embed.weight"])


def test_bad_parameters_are_named(corpora):
    train, _ = corpora
    for name, bad, word in [("lstm", {"tie_weights": True, "embed_dim": 4, "hidden_size": 8}, "tie_weights"),
                            ("gru", {"optimizer": "adam"}, "optimizer"),
                            ("transformer", {"embed_dim": 10, "n_heads": 3}, "n_heads"),
                            ("transformer", {"block_size": 8, "bptt": 9}, "bptt"),
                            ("rnn", {"context": "document"}, "context"),
                            ("lstm", {"betas": (0.9,)}, "betas"),
                            ("gru", {"precision": "fp16"}, "precision"),
                            ("transformer", {"betas": (0.9, 1.0)}, r"betas\[1\]")]:
        with pytest.raises(lm.InvalidParameterError, match=word):
            make(name, **{**SMALL, **bad}).fit(train)
    with pytest.raises(lm.InvalidParameterError, match="checkpoint_dir"):
        make("lstm", **SMALL).fit(train, resume=True)


def test_adam_betas_reach_the_optimizer(corpora, tmp_path):
    train, valid = corpora
    params = {**SMALL, "hidden_size": 8, "optimizer": "adamw", "lr": 0.01}
    default = make("lstm", **params).fit(train, valid)
    explicit = make("lstm", **params, betas=[0.9, 0.999]).fit(train, valid)
    nanogpt = make("lstm", **params, betas=(0.9, 0.99)).fit(train, valid)
    assert_same_weights(weights(explicit), weights(default))
    assert not np.allclose(weights(nanogpt)["embed.weight"], weights(default)["embed.weight"])
    nanogpt.save(tmp_path / "m")
    assert tuple(lm.load(tmp_path / "m").betas) == (0.9, 0.99)


def test_transformer_without_biases(corpora, tmp_path):
    train, valid = corpora
    model = make("transformer", **SMALL, **CASES["transformer"], bias=False).fit(train, valid)
    names = [k for k, _ in model.module_.named_parameters()]
    assert names and not [k for k in names if k.endswith("bias")]
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(lm.load(tmp_path / "m").token_logprobs(valid), model.token_logprobs(valid))


def test_precision_fp32_is_the_cpu_default_and_bf16_trains_in_bfloat16(corpora, monkeypatch):
    """On the CPU "auto" is float32 (the same weights as "fp32"); "bf16" runs the training forward
    pass under bfloat16 autocast, so its weights differ, while scoring stays float32 and normalised."""
    import torch

    train, valid = corpora
    params = {**SMALL, "hidden_size": 8}
    auto = make("lstm", **params).fit(train, valid)
    fp32 = make("lstm", **params, precision="fp32").fit(train, valid)
    assert_same_weights(weights(auto), weights(fp32))

    seen = []
    linear = torch.nn.Linear.forward
    monkeypatch.setattr(torch.nn.Linear, "forward",
                        lambda self, x: seen.append(linear(self, x).dtype) or linear(self, x))
    bf16 = make("lstm", **params, precision="bf16").fit(train, valid)
    assert torch.bfloat16 in seen                  # the training forward pass
    assert seen[-1] == torch.float32               # the last validation pass: scoring is float32
    assert not np.allclose(weights(bf16)["embed.weight"], weights(fp32)["embed.weight"])
    assert all(v.dtype == np.float32 for v in weights(bf16).values())
    probs = np.exp(bf16.next_logprobs([[], list(valid.sequences())[0][:2]]))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)
