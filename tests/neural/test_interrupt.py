"""Interrupted training: mid-epoch checkpoints resume exactly, Ctrl-C never leaves a model that
looks fitted but is not, and every epoch leaves one line in the log."""

import json
import logging

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, PartialFitWarning, make
from langmodels.neural import training

from .ddp_train import TEXTS
from .test_training import SMALL, assert_same_weights, weights

CASES = {
    "lstm-sentence": ("lstm", {"hidden_size": 8, "schedule": "plateau", "optimizer": "sgd", "lr": 0.5}),
    # stream mode carries the hidden state from batch to batch: the checkpoint must hold it
    "lstm-stream": ("lstm", {"hidden_size": 8, "context": "stream", "bptt": 3}),
    "transformer-stream": ("transformer", {"n_heads": 2, "block_size": 6, "context": "stream", "warmup": 2}),
}


@pytest.fixture(scope="module")
def corpora():
    train = Corpus.from_texts(TEXTS)
    return train, Corpus.from_texts(["a b c f", "d d e"], vocab=train.vocab)


class Crash(Exception):
    """Stands for SIGKILL: nothing after it runs in the loop."""


def fail_at_step(monkeypatch, step, error):
    """Make the loop's loss raise `error` in training step `step` (1-based), before that step's update."""
    real, calls = training.summed_cross_entropy, []

    def loss(*args):
        calls.append(1)
        if len(calls) == step:
            raise error
        return real(*args)

    monkeypatch.setattr(training, "summed_cross_entropy", loss)


def read_state(ckpt):
    return json.loads((ckpt / training.STATE_FILE).read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_mid_epoch_checkpoint_resumes_exactly(case, corpora, tmp_path, monkeypatch):
    name, extra = CASES[case]
    train, valid = corpora
    params = {**SMALL, **extra, "checkpoint_seconds": None}
    straight = make(name, **params).fit(train, valid)
    per_epoch = straight.history_[0]["step"]
    assert per_epoch >= 3

    ckpt = tmp_path / "ckpt"
    model = make(name, **params, checkpoint_dir=str(ckpt), checkpoint_every=1)
    fail_at_step(monkeypatch, per_epoch + 3, Crash())   # steps 1 and 2 of epoch 2 are done
    with pytest.raises(Crash):
        model.fit(train, valid)
    loop = read_state(ckpt)["loop"]
    assert (loop["epoch"], loop["batch"], loop["step"]) == (1, 2, per_epoch + 2)
    assert not model.is_fitted                          # not a KeyboardInterrupt: nothing kept
    monkeypatch.undo()

    resumed = make(name, **params, checkpoint_dir=str(ckpt), checkpoint_every=1)
    resumed.fit(train, valid, resume=True)
    assert_same_weights(weights(straight), weights(resumed))
    assert resumed.history_ == [{**r, "train_tokens_per_s": s["train_tokens_per_s"]}
                                for r, s in zip(straight.history_, resumed.history_)]


def test_checkpoint_every_counts_steps(corpora, tmp_path, monkeypatch):
    train, valid = corpora
    name, extra = CASES["lstm-stream"]
    params = {**SMALL, **extra, "checkpoint_seconds": None}
    per_epoch = make(name, **params).fit(train).history_[0]["step"]
    ckpt = tmp_path / "ckpt"
    fail_at_step(monkeypatch, per_epoch + 4, Crash())   # three steps of epoch 2 done
    with pytest.raises(Crash):
        make(name, **params, checkpoint_dir=str(ckpt), checkpoint_every=2).fit(train, valid)
    step = read_state(ckpt)["loop"]["step"]
    assert step == max(per_epoch, (per_epoch + 3) // 2 * 2)   # the last even step, or epoch 1's end
    assert read_state(ckpt)["hidden"] == ("tuple" if step != per_epoch else None)


def test_ctrl_c_in_first_epoch_leaves_the_model_unfitted(corpora, monkeypatch):
    train, valid = corpora
    model = make("lstm", **SMALL, hidden_size=8)
    fail_at_step(monkeypatch, 2, KeyboardInterrupt())
    with pytest.warns(PartialFitWarning, match="not fitted"), pytest.raises(KeyboardInterrupt):
        model.fit(train, valid)
    assert not model.is_fitted and not model.is_partial_fit
    with pytest.raises(lm.NotFittedError):
        lm.perplexity(model, valid)


def test_ctrl_c_checkpoints_where_it_stopped(corpora, tmp_path, monkeypatch):
    train, valid = corpora
    name, extra = CASES["lstm-stream"]
    params = {**SMALL, **extra, "checkpoint_seconds": None, "checkpoint_dir": str(tmp_path / "ckpt")}
    straight = make(name, **params).fit(train, valid)
    fail_at_step(monkeypatch, 3, KeyboardInterrupt())   # no periodic checkpoint: only Ctrl-C's
    with pytest.warns(PartialFitWarning), pytest.raises(KeyboardInterrupt):
        make(name, **params).fit(train, valid)
    assert read_state(tmp_path / "ckpt")["loop"]["step"] == 2
    monkeypatch.undo()
    resumed = make(name, **params).fit(train, valid, resume=True)
    assert_same_weights(weights(straight), weights(resumed))


@pytest.mark.parametrize("with_valid", [True, False])
def test_ctrl_c_after_an_epoch_keeps_the_best_weights_marked_partial(corpora, tmp_path, monkeypatch,
                                                                    with_valid):
    train, valid = corpora
    params = {**SMALL, "hidden_size": 8, "epochs": 2}
    v = valid if with_valid else None
    one_epoch = make("lstm", **{**params, "epochs": 1}).fit(train, v)
    fail_at_step(monkeypatch, one_epoch.history_[0]["step"] + 2, KeyboardInterrupt())
    model = make("lstm", **params)
    with pytest.warns(PartialFitWarning, match="after 1 epoch"), pytest.raises(KeyboardInterrupt):
        model.fit(train, v)
    assert model.is_fitted and model.is_partial_fit
    assert model.partial_fit_["epochs"] == 1
    assert len(model.history_) == 1
    if not with_valid:
        assert np.isfinite(lm.perplexity(model, valid))
    loaded = lm.load(model.save(tmp_path / "partial"))
    assert loaded.is_partial_fit and loaded.partial_fit_ == model.partial_fit_
    assert_same_weights(weights(model), weights(loaded), atol=0)
    monkeypatch.undo()
    assert not loaded.fit(train, v).is_partial_fit      # a refit starts clean


def test_ctrl_c_keeps_exactly_the_epoch_weights(corpora, monkeypatch):
    train, valid = corpora
    params = {**SMALL, "hidden_size": 8, "epochs": 2, "schedule": "constant"}
    one_epoch = make("lstm", **{**params, "epochs": 1}).fit(train, valid)
    fail_at_step(monkeypatch, one_epoch.history_[0]["step"] + 1, KeyboardInterrupt())
    model = make("lstm", **params)
    with pytest.warns(PartialFitWarning), pytest.raises(KeyboardInterrupt):
        model.fit(train, valid)
    assert_same_weights(weights(one_epoch), weights(model))


def test_one_log_line_per_epoch(corpora, caplog):
    train, valid = corpora
    with caplog.at_level(logging.INFO, logger="langmodels"):
        make("lstm", **SMALL, hidden_size=8).fit(train, valid)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("langmodels")]
    assert len(lines) == SMALL["epochs"]
    assert lines[0].startswith("LSTMModel epoch 1/3: train loss ")
    assert "valid ppl " in lines[0] and "tokens/s" in lines[0]


def test_bad_checkpoint_intervals_are_named(corpora):
    train, _ = corpora
    with pytest.raises(lm.InvalidParameterError, match="checkpoint_every"):
        make("lstm", **SMALL, checkpoint_every=0).fit(train)
    with pytest.raises(lm.InvalidParameterError, match="checkpoint_seconds"):
        make("lstm", **SMALL, checkpoint_seconds=-1).fit(train)


# A real SIGKILL: the child process dies inside a training step, with no exception handler, finally
# block or atexit hook run, exactly as under `kill -9` or the OOM killer.
KILLED_CHILD = """
import os, signal, sys
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads(1)
from langmodels import Corpus, make
from langmodels.neural import training
from tests.neural.ddp_train import TEXTS

real, calls = training.summed_cross_entropy, []
def loss(*args):
    calls.append(1)
    if len(calls) == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args)
training.summed_cross_entropy = loss
train = Corpus.from_texts(TEXTS)
valid = Corpus.from_texts(["a b c f", "d d e"], vocab=train.vocab)
make("lstm", **{params!r}).fit(train, valid)
"""


def test_sigkill_mid_epoch_then_resume_gives_the_straight_run(corpora, tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    train, valid = corpora
    name, extra = CASES["lstm-stream"]
    params = {**SMALL, **extra, "checkpoint_seconds": None}
    straight = make(name, **params).fit(train, valid)
    per_epoch = straight.history_[0]["step"]
    ckpt = tmp_path / "ckpt"
    child = {**params, "checkpoint_dir": str(ckpt), "checkpoint_every": 2}
    root = str(Path(__file__).resolve().parents[2])
    code = KILLED_CHILD.format(root=root, kill_at=per_epoch + 4, params=child)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "PYTHONPATH": root})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    loop = read_state(ckpt)["loop"]
    assert loop["epoch"] == 1 and loop["step"] == max(per_epoch, (per_epoch + 3) // 2 * 2)

    resumed = make(name, **child).fit(train, valid, resume=True)
    assert_same_weights(weights(straight), weights(resumed))
