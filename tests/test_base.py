"""Checkpoints, registry and parameter handling shared by every model."""

import json
import subprocess
import sys

import numpy as np
import pytest

import langmodels as lm
from langmodels import CheckpointError, Corpus, make
from langmodels.baselines import UnigramModel
from langmodels.interpolated import InterpolatedModel
from langmodels.vocabulary import BOS_ID


def test_unknown_model_names_the_closest_match():
    with pytest.raises(lm.UnknownModelError, match="did you mean 'unigram'"):
        make("unigramm")


def test_unknown_parameter_is_named():
    with pytest.raises(lm.InvalidParameterError,
                       match="unigram has no parameter 'order' \\(its parameters: k\\)"):
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


def test_a_model_carries_its_corpus_tokenizer_through_save_and_load(tmp_path):
    corpus = Corpus.from_texts(["what, my lord?", "my lord!"], tokenizer="treebank")
    model = make("unigram").fit(corpus)
    assert model.tokenizer_name_ == "treebank"
    path = model.save(tmp_path / "m")
    assert json.loads((path / "config.json").read_text())["tokenizer"] == "treebank"
    assert lm.load(path).tokenizer_name_ == "treebank"
    assert make("unigram").fit(Corpus.from_texts(["a b"])).tokenizer_name_ == "whitespace"   # a refit
    mixture = InterpolatedModel.from_models([model, make("uniform").fit(corpus)])
    assert mixture.tokenizer_name_ == "treebank"
    mixture = make("interpolated", components=[("unigram", {}), ("uniform", {})]).fit(corpus)
    assert lm.load(mixture.save(tmp_path / "mix")).models_[1].tokenizer_name_ == "treebank"

    config = json.loads((path / "config.json").read_text())
    del config["tokenizer"]   # as langmodels 0.1.0 saved it
    (path / "config.json").write_text(json.dumps(config))
    assert lm.load(path).tokenizer_name_ == "whitespace"
    config["tokenizer"] = "sentencepiece"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="unknown tokenizer 'sentencepiece'"):
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


# --- the descriptive queries: exact values ------------------------------------------------------
def test_ngram_counts_the_numbers_its_arpa_file_lists(tmp_path):
    corpus = Corpus.from_texts(["a b", "b"])                # V = 5: <unk> <s> </s> a b
    model = make("kneser-ney", order=2).fit(corpus)
    # 5 unigram probabilities + 5 unigram backoffs + 4 bigrams (<s> a, a b, b </s>, <s> b)
    assert model.n_parameters() == 14
    model.save_arpa(tmp_path / "m.arpa")
    lines = (tmp_path / "m.arpa").read_text().split("\\1-grams:")[1].split("\\end\\")[0].splitlines()
    # each n-gram line: log10 p <tab> words [<tab> log10 backoff]
    numbers = sum(len(line.split("\t")) - 1 for line in lines if "\t" in line)
    assert numbers == 14
    assert model.learning_curve() == [] and model.scoring_context == "sentence"


def test_hmm_counts_and_curve_from_hand_built_parameters():
    from langmodels.hmm import HMMLanguageModel

    corpus = Corpus.from_texts(["a b a", "b b"])            # V = 5, 7 counted tokens
    pi = [0.6, 0.4]
    A = [[0.7, 0.3], [0.2, 0.8]]
    B = [[0.1, 0.0, 0.3, 0.4, 0.2], [0.2, 0.0, 0.2, 0.1, 0.5]]
    model = HMMLanguageModel.from_parameters(pi, A, B, corpus.vocab, progress=False)
    assert model.n_parameters() == 2 + 2 * 2 + 2 * 5
    assert model.learning_curve() == []
    before = -model.token_logprobs(corpus).sum() / 7       # mean NLL of the hand-built parameters
    model.em_step(corpus)
    after = -model.token_logprobs(corpus).sum() / 7
    model.em_step(corpus)
    curve = model.learning_curve()
    assert [c["iteration"] for c in curve] == [1, 2]
    # each entry is measured on the parameters entering its iteration
    assert curve[0]["train_nll"] == pytest.approx(before, abs=1e-12)
    assert curve[1]["train_nll"] == pytest.approx(after, abs=1e-12)
    assert after < before and curve[0]["valid_nll"] is None


def test_hmm_curve_has_validation_nll_per_validation_token(toy_train, toy_test):
    model = make("hmm", n_states=3, n_iter=4, progress=False).fit(toy_train, toy_test)
    curve = model.learning_curve()
    assert curve and all(c["valid_nll"] is not None for c in curve)
    # entry i holds the validation NLL after update i; the model keeps n_iter_ updates
    kept = curve[model.n_iter_ - 1]
    assert kept["valid_nll"] == pytest.approx(-model.token_logprobs(toy_test).mean(), rel=1e-9)


def test_neural_counts_its_network_and_reports_its_context(toy_train):
    V = len(toy_train.vocab)
    small = {"embed_dim": 8, "hidden_size": 8, "n_layers": 1, "epochs": 2, "batch_size": 4,
             "device": "cpu", "progress": False}
    lstm = 4 * 8 * (8 + 8) + 2 * 4 * 8                     # four gates: input and hidden weights, two biases
    untied = make("lstm", tie_weights=False, **small).fit(toy_train)
    assert untied.n_parameters() == V * 8 + lstm + 8 * V + V
    tied = make("lstm", tie_weights=True, context="stream", **small).fit(toy_train, toy_train)
    assert tied.n_parameters() == V * 8 + lstm + V          # the shared matrix counts once
    assert tied.scoring_context == "stream"
    curve = tied.learning_curve()
    assert [c["epoch"] for c in curve] == [1, 2]
    # training keeps the weights of the best validation epoch
    best = min(c["valid_nll"] for c in curve)
    assert best == pytest.approx(-tied.token_logprobs(toy_train).mean(), rel=1e-5)
    mixture = InterpolatedModel.from_models([tied, make("unigram").fit(toy_train)])
    assert mixture.n_parameters() == tied.n_parameters() + V + 2
    assert mixture.scoring_context == "mixed"


# --- the public helpers code outside a family uses ----------------------------------------------
def test_fit_refuses_an_option_the_family_lacks_and_keeps_the_earlier_fit(toy_train):
    model = make("unigram", k=1.0).fit(toy_train)
    before = model.logprobs_.copy()
    with pytest.raises(TypeError, match="no option 'resume'; the options it supports: none"):
        model.fit(toy_train, resume=True)
    np.testing.assert_array_equal(model.logprobs_, before)   # refused before anything was cleared


def test_fit_options_declare_what_each_family_accepts():
    assert lm.get_class("kneser-ney").fit_options == {"memory", "tmp_dir"}
    assert lm.get_class("hmm").fit_options == {"init"}
    for name in ("rnn", "lstm", "gru", "transformer"):
        assert lm.get_class(name).fit_options == {"init", "resume", "on_epoch_end"}
    assert lm.get_class("hf-causal").fit_options == {"resume", "on_epoch_end"}
    # A mixture passes options to every component: those all accept, never one base model (init).
    assert make("interpolated", components=["lstm", "gru"]).fit_options == {"resume", "on_epoch_end"}
    assert make("interpolated", components=["lstm", "unigram"]).fit_options == frozenset()
    assert make("interpolated", components=["kneser-ney", "katz"]).fit_options == {"memory", "tmp_dir"}


def test_public_checks_for_code_that_takes_a_model(toy_train):
    model = make("kneser-ney", order=2)
    with pytest.raises(lm.NotFittedError, match="not fitted yet"):
        model.check_is_fitted()
    assert lm.get_class("kneser-ney").param_names() == ["order", "discount", "min_counts"]
    assert model.check_params() is model
    with pytest.raises(lm.InvalidParameterError, match="order"):
        make("kneser-ney", order=0).check_params()
    model.fit(toy_train)
    model.check_is_fitted()
    histories = model.check_histories([[], (3, 4)])
    assert [h.dtype for h in histories] == [np.int64, np.int64]
    assert [h.tolist() for h in histories] == [[], [3, 4]]
    with pytest.raises(ValueError, match="must not contain <s>"):
        model.check_histories([[BOS_ID]])
