"""Checkpoints, registry and parameter handling shared by every model."""

import json
import subprocess
import sys

import numpy as np
import pytest

import langmodels as lm
from langmodels import CheckpointError, Corpus, make
from langmodels.baselines import UnigramModel


def test_unknown_model_names_the_closest_match():
    with pytest.raises(lm.UnknownModelError, match="did you mean 'unigram'"):
        make("unigramm")


def test_unknown_parameter_is_named():
    with pytest.raises(TypeError, match="order"):
        make("unigram", order=3)
    with pytest.raises(lm.InvalidParameterError, match="has no parameter 'alpha'"):
        make("unigram").set_params(alpha=1)


def test_register_user_model(toy_train):
    class Half(UnigramModel):
        """A user's own model: the unigram model with k fixed at 0.5."""

        def __init__(self):
            super().__init__(k=0.5)

        def get_params(self, deep=True):
            return {}

    lm.register("half-unigram-test", Half)
    try:
        assert "half-unigram-test" in lm.available_models()
        model = make("half-unigram-test").fit(toy_train)
        assert np.exp(model.next_logprobs([[]])).sum() == pytest.approx(1.0)
        with pytest.raises(ValueError, match="already registered"):
            lm.register("half-unigram-test", Half)
    finally:
        from langmodels import registry
        registry._MODELS.pop("half-unigram-test")


def test_fit_rejects_wrong_inputs(toy_train):
    with pytest.raises(TypeError, match="Corpus"):
        make("unigram").fit(["a list of strings"])
    other = Corpus.from_texts(["x y"])
    with pytest.raises(lm.VocabularyMismatchError):
        make("unigram").fit(toy_train, valid=other)


def test_histories_are_validated(toy_train):
    model = make("unigram").fit(toy_train)
    with pytest.raises(ValueError, match="must not contain <s>"):
        model.next_logprobs([[1, 5]])
    with pytest.raises(ValueError, match="outside"):
        model.next_logprobs([[10_000]])
    with pytest.raises(ValueError, match="wrap a single history"):
        model.next_logprobs(np.array([3, 4]))


def test_checkpoint_errors(toy_train, tmp_path):
    with pytest.raises(CheckpointError, match="no such model directory"):
        lm.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        lm.load(tmp_path / "empty")

    model = make("unigram").fit(toy_train)
    path = model.save(tmp_path / "m")
    (path / "arrays.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        lm.load(path)

    model.save(path)  # overwriting replaces the whole directory
    config = json.loads((path / "config.json").read_text())
    config["model"] = "no-such-model"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(lm.UnknownModelError):
        lm.load(path)

    model.save(path)
    Corpus.from_texts(["other words"]).vocab.save(path / "vocab.json")
    with pytest.raises(lm.VocabularyMismatchError):
        lm.load(path)


def test_failed_save_keeps_the_old_checkpoint(toy_train, tmp_path, monkeypatch):
    model = make("unigram").fit(toy_train)
    path = model.save(tmp_path / "m")
    before = (path / "arrays.safetensors").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(lm.Vocabulary, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        make("unigram", k=1.0).fit(toy_train).save(path)
    assert (path / "arrays.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]   # no temporary left behind


def test_import_is_fast_and_never_imports_torch():
    code = "import sys, langmodels; print('torch' in sys.modules, 'nltk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
