"""The contract every registered masked model obeys (see langmodels.masked)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import langmodels as lm
from langmodels import BOS, Corpus, make
from langmodels.masked import MaskedLanguageModel
from tests.stubs import FAST_PARAMS, tiny_bert_dir

# hf-masked (a BERT, however tiny, built in the test) takes seconds: `-m "not slow"` leaves it out.
SLOW = {"hf-masked"}
MODELS = [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
          for name in lm.available_models("masked")]
ATOL = 1e-6
# The network's float32 sums depend on the batch shape.
BATCH_ATOL = 1e-5


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    """name -> constructor parameters; hf-masked's point at a tiny BERT built here, offline."""
    made = {}

    def get(name):
        if name == "hf-masked" and name not in made:
            pytest.importorskip("transformers", reason="hf-masked needs the optional package transformers")
            made[name] = {"pretrained": str(tiny_bert_dir(tmp_path_factory.mktemp("tiny-bert")))}
        return made.get(name, FAST_PARAMS.get(name, {}))

    return get


@pytest.fixture(scope="module")
def models(toy_train, params):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = make(name, **params(name)).fit(toy_train)
        return cache[name]

    return get


def probes(v):
    """(sequences, positions): the first word, the middle, </s>, <unk> beside it, two at once, and
    a sequence longer than any window."""
    long = [v["the"], v["cat"]] * 20
    return ([[v["the"], v["cat"], v["sat"]], [v["the"], v["cat"], v["sat"]], [v["dog"]],
             [v.unk_id, v["ran"]], [v["a"], v["dog"], v["sat"], v["on"]], long, long],
            [0, 1, 1, 0, [1, 3], 0, 40])


@pytest.mark.parametrize("name", MODELS)
def test_masked_rows_are_distributions(name, models, toy_train):
    model = models(name)
    seqs, pos = probes(toy_train.vocab)
    lp = model.masked_logprobs(seqs, pos)
    assert lp.shape == (8, len(toy_train.vocab))
    assert not np.isnan(lp).any()
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=ATOL)
    assert np.isneginf(lp[:, toy_train.vocab[BOS]]).all(), "<s> must never be predicted"


@pytest.mark.parametrize("name", MODELS)
def test_masked_ids_are_ignored_and_rows_stand_alone(name, models, toy_train):
    model = models(name)
    v = toy_train.vocab
    a = model.masked_logprobs([[v["the"], v["cat"], v["sat"]]], [1])
    b = model.masked_logprobs([[v["the"], v["dog"], v["sat"]]], [1])      # another id under the mask
    np.testing.assert_array_equal(a, b)
    together = model.masked_logprobs([[v["a"]], [v["the"], v["cat"], v["sat"]]], [0, 1])
    np.testing.assert_allclose(together[1:], a, atol=BATCH_ATOL)          # batching changes nothing


@pytest.mark.parametrize("name", MODELS)
def test_pll_is_each_target_masked_alone(name, models, toy_train, toy_test):
    model = models(name)
    pll = model.pseudo_log_likelihood(toy_test)
    assert pll.shape == (toy_test.n_targets,)
    expected = []
    for seq in toy_test.sequences():
        lp = model.masked_logprobs([seq] * (len(seq) + 1), list(range(len(seq) + 1)))
        expected += list(lp[np.arange(len(seq) + 1), np.append(seq, toy_test.vocab.eos_id)])
    np.testing.assert_allclose(pll, expected, atol=BATCH_ATOL)
    assert model.pseudo_perplexity(toy_test) == pytest.approx(np.exp(-np.mean(expected)), rel=1e-7)


@pytest.mark.parametrize("name", MODELS)
def test_fill_mask_lists_the_best_words_of_the_masked_distribution(name, models, toy_train):
    model = models(name)
    v = toy_train.vocab
    out = model.fill_mask(["the <mask> sat on <mask>", "<mask> ran"], top_k=3)
    assert [len(x) for x in out] == [2, 1]
    lp = model.masked_logprobs([[v["the"], 0, v["sat"], v["on"], 0], [0, v["ran"]]], [[1, 4], [0]])
    for row, words in zip(lp, [out[0][0], out[0][1], out[1][0]]):
        best = np.argsort(-row, kind="stable")[:3]
        assert [w for w, _ in words] == [v.tokens[i] for i in best]
        np.testing.assert_allclose([p for _, p in words], np.exp(row[best]), rtol=1e-9)
    with pytest.raises(ValueError, match="<mask>"):
        model.fill_mask(["no mask here"])


@pytest.mark.parametrize("name", MODELS)
def test_bad_positions_and_sequences_are_refused(name, models, toy_train):
    model = models(name)
    v = toy_train.vocab
    with pytest.raises(ValueError, match="0..2"):
        model.masked_logprobs([[v["the"], v["cat"]]], [3])        # 2 is the </s> slot, 3 is past it
    with pytest.raises(ValueError, match="<s>"):
        model.masked_logprobs([[v.bos_id, v["cat"]]], [1])
    with pytest.raises(ValueError, match="2 sequences but 1"):
        model.masked_logprobs([[v["the"]], [v["cat"]]], [0])


@pytest.mark.parametrize("name", MODELS)
def test_fit_returns_self_and_refit_equals_fresh_fit(name, params, toy_train, toy_test):
    model = make(name, **params(name))
    assert model.fit(toy_train) is model
    model.fit(Corpus.from_texts(["x y z", "z y"]))
    model.fit(toy_train)
    np.testing.assert_allclose(model.pseudo_log_likelihood(toy_test),
                               make(name, **params(name)).fit(toy_train).pseudo_log_likelihood(toy_test),
                               atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_save_then_load_gives_back_the_original(name, models, toy_test, tmp_path):
    model = models(name)
    model.save(tmp_path / "m")
    again = lm.load(tmp_path / "m")
    assert type(again) is type(model)
    assert repr(again.get_params()) == repr(model.get_params())
    assert again.n_parameters() == model.n_parameters()
    np.testing.assert_array_equal(again.pseudo_log_likelihood(toy_test),
                                  model.pseudo_log_likelihood(toy_test))
    assert not any(p.suffix in (".pt", ".pkl", ".bin") for p in (tmp_path / "m").iterdir())


@pytest.mark.parametrize("name", MODELS)
def test_unfitted_queries_raise(name, params):
    model = make(name, **params(name))
    for query in (lambda: model.masked_logprobs([[3]], [0]), lambda: model.fill_mask(["<mask>"]),
                  lambda: model.save("/nonexistent/never-written"), model.n_parameters,
                  model.learning_curve):
        with pytest.raises(lm.NotFittedError):
            query()


@pytest.mark.parametrize("name", MODELS)
def test_other_vocabulary_is_rejected(name, models):
    with pytest.raises(lm.VocabularyMismatchError):
        models(name).pseudo_log_likelihood(Corpus.from_texts(["completely different words"]))


@pytest.mark.parametrize("name", MODELS)
def test_a_masked_model_does_not_pose_as_a_causal_one(name, models):
    model = models(name)
    assert isinstance(model, MaskedLanguageModel) and not isinstance(model, lm.LanguageModel)
    for causal in ("next_logprobs", "token_logprobs", "generate", "start_state"):
        assert not hasattr(model, causal)
    assert name not in lm.available_models() and name in lm.available_models("masked")


@pytest.mark.parametrize("name", MODELS)
def test_constructor_stores_parameters_unchanged(name, params):
    given = params(name)
    model = make(name, **given)
    defaults = {p.name: p.default for p in inspect.signature(type(model).__init__).parameters.values()
                if p.name != "self"}
    assert list(model.get_params()) == list(defaults)
    for key, value in model.get_params().items():
        assert value is given.get(key, defaults[key]), key


def test_registering_a_masked_class_lists_it_as_masked():
    from langmodels import registry
    from langmodels.neural.bert import BertModel

    class MyBert(BertModel):
        pass

    lm.register("my-bert-test", MyBert)
    try:
        assert "my-bert-test" in lm.available_models("masked")
        assert "my-bert-test" not in lm.available_models()
        assert isinstance(make("my-bert-test"), MyBert)
    finally:
        registry._MASKED.pop("my-bert-test")
    with pytest.raises(ValueError, match="kind"):
        lm.available_models("bidirectional")
