"""hf-causal fine-tuning runs the neural family's loop: valid, early stopping, history, checkpoints."""

import numpy as np
import pytest

import langmodels as lm
from langmodels import make

from ..stubs import FAST_PARAMS

pytest.importorskip("transformers", reason="hf-causal needs the optional package transformers")

HF = FAST_PARAMS["hf-causal"]


@pytest.fixture(scope="module")
def stopped(toy_train, toy_test):
    # lr 3e-2 in batches of 2 overshoots after the first epoch: valid worsens twice, then it stops.
    return make("hf-causal", **HF, epochs=12, lr=3e-2, batch_size=2, patience=2).fit(toy_train, toy_test)


def test_valid_is_scored_every_epoch_and_patience_stops_training(stopped):
    h = stopped.history_
    assert [r["epoch"] for r in h] == [1, 2, 3]                   # 2 epochs without improvement
    v = [r["valid_loss"] for r in h]
    assert v[1] > v[0] and v[2] > v[0]


def test_the_best_weights_are_restored(stopped, toy_test):
    # valid_loss is the model's own scoring (nats per word); the returned model is epoch 1's.
    assert -np.mean(stopped.token_logprobs(toy_test)) == stopped.history_[0]["valid_loss"]


def test_history_records_match_the_neural_family(toy_train, toy_test):
    hf = make("hf-causal", **HF, epochs=2, lr=1e-2, batch_size=4, patience=None).fit(toy_train)
    lstm = make("lstm", **FAST_PARAMS["lstm"]).fit(toy_train)
    assert [r.keys() for r in hf.history_] == [lstm.history_[0].keys()] * 2
    assert "valid_loss" not in hf.history_[0]
    with_valid = make("hf-causal", **HF, epochs=2, lr=1e-2, batch_size=4, patience=None)
    seen = []
    with_valid.fit(toy_train, toy_test, on_epoch_end=seen.append)
    assert seen == with_valid.history_ and all("valid_loss" in r for r in seen)
    # Training from the same seed without valid follows the same steps: valid only watches.
    assert [r["train_loss"] for r in seen] == [r["train_loss"] for r in hf.history_]


def test_history_is_saved_with_the_model(stopped, tmp_path, toy_test):
    again = lm.load(stopped.save(tmp_path / "m"))
    assert again.history_ == stopped.history_
    np.testing.assert_array_equal(again.token_logprobs(toy_test), stopped.token_logprobs(toy_test))


class Interrupted(Exception):
    pass


def stop_after_first_epoch(record):
    if record["epoch"] == 1:
        raise Interrupted


def test_an_interrupted_fine_tuning_resumes_from_its_checkpoint(toy_train, toy_test, tmp_path):
    params = dict(HF, epochs=3, lr=1e-2, batch_size=4, patience=None, checkpoint_dir=str(tmp_path))
    straight = make("hf-causal", **dict(params, checkpoint_dir=None)).fit(toy_train, toy_test)
    with pytest.raises(Interrupted):
        make("hf-causal", **params).fit(toy_train, toy_test, on_epoch_end=stop_after_first_epoch)
    resumed = make("hf-causal", **params).fit(toy_train, toy_test, resume=True)
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3]
    np.testing.assert_array_equal(resumed.token_logprobs(toy_test), straight.token_logprobs(toy_test))
