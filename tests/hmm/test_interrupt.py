"""Ctrl-C during EM and the per-iteration log lines."""

import logging

import numpy as np
import pytest

import langmodels as lm
from langmodels import PartialFitWarning
from langmodels.hmm import HMMLanguageModel

PARAMS = {"n_states": 3, "n_iter": 4, "tol": 0.0, "init": "random", "seed": 0, "progress": False}


def interrupt_em_step(monkeypatch, at):
    """Ctrl-C in the `at`-th EM update (1-based), before it changes anything."""
    real, calls = HMMLanguageModel._em_step, []

    def em_step(self, *args):
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(HMMLanguageModel, "_em_step", em_step)


def test_ctrl_c_after_updates_keeps_them_marked_partial(toy_train, toy_test, monkeypatch, tmp_path):
    two = HMMLanguageModel(**{**PARAMS, "n_iter": 2}).fit(toy_train)
    interrupt_em_step(monkeypatch, 3)
    model = HMMLanguageModel(**PARAMS)
    with pytest.warns(PartialFitWarning, match="after 2 update"), pytest.raises(KeyboardInterrupt):
        model.fit(toy_train)
    assert model.is_partial_fit and model.partial_fit_["iterations"] == 2
    np.testing.assert_array_equal(model.emissionprob_, two.emissionprob_)
    assert lm.load(model.save(tmp_path / "hmm")).is_partial_fit
    assert np.isfinite(lm.perplexity(model, toy_test))


def test_ctrl_c_before_the_first_update_leaves_it_unfitted(toy_train, monkeypatch):
    interrupt_em_step(monkeypatch, 1)
    model = HMMLanguageModel(**PARAMS)
    with pytest.warns(PartialFitWarning, match="not fitted"), pytest.raises(KeyboardInterrupt):
        model.fit(toy_train)
    assert not model.is_fitted and not model.is_partial_fit


def test_one_log_line_per_em_iteration(toy_train, toy_test, caplog):
    with caplog.at_level(logging.INFO, logger="langmodels"):
        HMMLanguageModel(**PARAMS).fit(toy_train, toy_test)
    lines = [r.getMessage() for r in caplog.records if r.name == "langmodels.hmm.model"]
    assert len(lines) >= 2
    assert lines[0].startswith("HMM EM iteration 1/4: train ll/token -")
    assert "valid ppl" in lines[0]
