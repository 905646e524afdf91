"""Generation against a stub bigram model whose distributions are written out by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, InvalidParameterError
from tests.stubs import BOS, EOS, A, B, C, TableModel


@pytest.fixture()
def model():
    m = TableModel().fit(Corpus.from_texts(["a b c"]))
    assert m.vocab_.tokens == ["<unk>", "<s>", "</s>", "a", "b", "c"]
    return m


def test_greedy_follows_the_argmax_and_stops_at_eos(model):
    (g,) = lm.generate(model, [""], max_new_tokens=10)
    # a (.55), then b (.36 after a), then </s> (.90 after b)
    assert g.tokens == [A, B, EOS]
    assert g.text == "a b"
    assert g.stop_reason == "eos"
    np.testing.assert_allclose(g.logprobs, np.log([0.55, 0.36, 0.90]))
    assert g.score == pytest.approx(math.log(0.55 * 0.36 * 0.90))
    assert model.calls_["next"] == 0 and model.calls_["advance"] == 2  # incremental state used


def test_max_new_tokens_and_prompts_as_strings_or_ids(model):
    g1, g2 = lm.generate(model, ["a", [B]], max_new_tokens=1)
    assert (g1.tokens, g1.stop_reason, g1.prompt) == ([B], "max_new_tokens", [A])
    assert (g2.tokens, g2.stop_reason, g2.text) == ([EOS], "eos", "")
    assert lm.generate(model, "a", max_new_tokens=0)[0].tokens == []


def test_repetition_penalty_multiplies_seen_logprobs(model):
    # prompt "b a": after a, b scores 1.5 ln .36 = -1.532 < ln .30 = -1.204 < ln .34 = -1.079: c wins
    (g,) = lm.generate(model, ["b a"], repetition_penalty=1.5)
    assert g.tokens == [C, EOS]
    np.testing.assert_allclose(g.logprobs, np.log([0.34, 1.0]))  # the model's own ln p
    assert lm.generate(model, ["b a"])[0].tokens == [B, EOS]


def first_tokens(model, n=4000, **kw):
    gens = lm.generate(model, [""], max_new_tokens=1, do_sample=True, num_return_sequences=n, seed=0, **kw)
    return np.bincount([g.tokens[0] for g in gens], minlength=6) / n


def assert_close_to(freq, p, n=4000):
    sd = np.sqrt(np.asarray(p) * (1 - np.asarray(p)) / n)
    assert (np.abs(freq - p) <= 5 * sd + 1e-12).all(), (freq, p)


def test_sampling_matches_the_distribution(model):
    assert_close_to(first_tokens(model), [0, 0, 0.01, 0.55, 0.40, 0.04])


def test_temperature_sharpens(model):
    # T = 0.5 squares the probabilities: .3025, .16, .0016, .0001 over their sum .4642
    p = np.array([0, 0, 0.0001, 0.3025, 0.16, 0.0016]) / 0.4642
    assert_close_to(first_tokens(model, temperature=0.5), p)


def test_top_k_keeps_the_k_best(model):
    assert_close_to(first_tokens(model, top_k=2), [0, 0, 0, 0.55 / 0.95, 0.40 / 0.95, 0])
    assert first_tokens(model, top_k=1)[A] == 1.0


def test_top_p_keeps_the_smallest_set_reaching_p(model):
    # sorted .55, .40, .04, .01: mass above each is 0, .55, .95, .99
    assert first_tokens(model, top_p=0.5)[A] == 1.0
    assert_close_to(first_tokens(model, top_p=0.9), [0, 0, 0, 0.55 / 0.95, 0.40 / 0.95, 0])
    assert_close_to(first_tokens(model, top_p=0.96), [0, 0, 0, 0.55 / 0.99, 0.40 / 0.99, 0.04 / 0.99])


def test_beam_search_finds_the_likelier_sequence(model):
    # Step 1: beams a (.55), b (.40). Step 2: b</s> .36 finishes; a b .198, a c .187 live.
    # Step 3: a c </s> .187 and a b </s> .1782 finish; the kept two are b</s> (.36) and a c</s> (.187);
    # the best live beam (a b a, .0099) cannot beat .187, so the search stops.
    g1, g2 = lm.generate(model, [""], num_beams=2, num_return_sequences=2, length_penalty=0.0)
    assert (g1.tokens, g2.tokens) == ([B, EOS], [A, C, EOS])
    assert g1.score == pytest.approx(math.log(0.36)) and g2.score == pytest.approx(math.log(0.187))
    np.testing.assert_allclose(g2.logprobs, np.log([0.55, 0.34, 1.0]))
    # transformers' default length_penalty=1 divides by the length: ln .36 / 2 = -0.511 beats
    # ln .187 / 3 = -0.559 and ln .1782 / 3 = -0.575
    g1, g2 = lm.generate(model, [""], num_beams=2, num_return_sequences=2)
    assert (g1.tokens, g2.tokens) == ([B, EOS], [A, C, EOS])
    assert g2.score == pytest.approx(math.log(0.187) / 3)


def test_beam_search_is_batched_over_prompts(model):
    gens = lm.generate(model, ["", "a", "c"], num_beams=2, length_penalty=0.0)
    assert [g.tokens for g in gens] == [[B, EOS], [C, EOS], [EOS]]  # after a: b</s> .324 < c</s> .34


def test_beam_of_one_is_greedy(model):
    assert lm.generate(model, [""], num_beams=1)[0].tokens == lm.generate(model, [""])[0].tokens


def test_seed_reproduces_and_batches_do_not_matter_for_greedy(toy_train):
    m = lm.make("unigram", k=0.1).fit(toy_train)
    kw = dict(max_new_tokens=8, do_sample=True, num_return_sequences=3)
    a = [g.tokens for g in lm.generate(m, ["the", "a"], seed=7, **kw)]
    b = [g.tokens for g in lm.generate(m, ["the", "a"], seed=7, **kw)]
    c = [g.tokens for g in lm.generate(m, ["the", "a"], seed=8, **kw)]
    assert a == b and a != c
    assert all(m.vocab_.bos_id not in t for t in a)
    greedy = [g.tokens for g in lm.generate(m, ["the"] * 5, batch_size=2)]
    assert greedy == [lm.generate(m, ["the"])[0].tokens] * 5


def test_model_generate_delegates(model):
    assert model.generate(["a"])[0].tokens == [B, EOS]


@pytest.mark.parametrize("kw, name", [
    ({"max_new_tokens": -1}, "max_new_tokens"),
    ({"do_sample": True, "temperature": 0}, "temperature"),
    ({"do_sample": True, "top_p": 0}, "top_p"),
    ({"num_beams": 0}, "num_beams"),
    ({"num_return_sequences": 2}, "greedy"),
    ({"num_beams": 2, "num_return_sequences": 3}, "num_return_sequences"),
    ({"num_beams": 2, "do_sample": True}, "beam sampling"),
])
def test_bad_options_name_the_problem(model, kw, name):
    with pytest.raises(InvalidParameterError, match=name):
        lm.generate(model, ["a"], **kw)


def test_prompts_must_not_hold_bos(model):
    with pytest.raises(ValueError, match="<s>"):
        lm.generate(model, [[BOS, A]])
    with pytest.raises(ValueError, match="wrap"):
        lm.generate(model, [A, B])


def test_max_new_tokens_per_prompt(model):
    gens = lm.generate(model, ["", "", "b"], max_new_tokens=[1, 0, 5])
    assert [g.tokens for g in gens] == [[A], [], [EOS]]
    gens = lm.generate(model, ["", ""], max_new_tokens=[1, 3], num_beams=2, length_penalty=0.0)
    assert [g.tokens for g in gens] == [[A], [B, EOS]]
    with pytest.raises(InvalidParameterError, match="one per prompt"):
        lm.generate(model, ["", ""], max_new_tokens=[1])


def test_sampled_sequences_have_their_model_probabilities(model):
    # Rows finish at different steps and leave the batch; whole sequences must still be drawn with
    # their exact probabilities, e.g. p(a b </s>) = .55 * .36 * .90 = .1782, p(b </s>) = .40 * .90 = .36
    n = 4000
    gens = lm.generate(model, [""], max_new_tokens=6, do_sample=True, num_return_sequences=n, seed=3,
                       batch_size=1)
    freq = {}
    for g in gens:
        freq[tuple(g.tokens)] = freq.get(tuple(g.tokens), 0) + 1
        assert g.score == pytest.approx(g.logprobs.sum())
    exact = {(A, B, EOS): 0.55 * 0.36 * 0.90, (B, EOS): 0.40 * 0.90, (A, C, EOS): 0.55 * 0.34,
             (A, EOS): 0.55 * 0.30, (C, EOS): 0.04, (EOS,): 0.01}
    for seq, p in exact.items():
        assert_close_to(np.array([freq.get(seq, 0) / n]), np.array([p]))


def test_bos_is_never_emitted_even_by_a_model_that_predicts_it(model):
    # a contract-breaking row: <s> .9, </s> .05, a .05
    model.rows_[None] = np.array([-np.inf, math.log(0.9), math.log(0.05), math.log(0.05), -np.inf, -np.inf])
    (g,) = lm.generate(model, [""], max_new_tokens=1)
    assert g.tokens == [EOS]   # the best token but <s>; ties (.05) go to the lower id
    (g,) = lm.generate(model, [""], max_new_tokens=1, num_beams=2)
    assert BOS not in g.tokens


def test_min_new_tokens_holds_back_eos(model):
    # after b: </s> .90, a .05, c .05: with </s> masked, a (the lower id of the tie), then a b </s>
    (g,) = lm.generate(model, ["b"], min_new_tokens=1)
    assert g.tokens == [A, B, EOS]
    np.testing.assert_allclose(g.logprobs, np.log([0.05, 0.36, 0.90]))   # the model's own ln p
    assert lm.generate(model, ["b"])[0].tokens == [EOS]
    # after c only </s> is possible: it ends the sequence rather than emitting an impossible token
    assert lm.generate(model, ["c"], min_new_tokens=3)[0].tokens == [EOS]
    # beam search: a and c (.05 each) live; c </s> (.05) then beats a b </s> (.0162) and a c </s> (.017)
    (g,) = lm.generate(model, ["b"], num_beams=2, min_new_tokens=1, length_penalty=0.0)
    assert g.tokens == [C, EOS] and g.score == pytest.approx(math.log(0.05))
    assert_close_to(first_tokens(model, min_new_tokens=1), [0, 0, 0, 0.55 / 0.99, 0.40 / 0.99, 0.04 / 0.99])
    with pytest.raises(InvalidParameterError, match="min_new_tokens"):
        lm.generate(model, ["b"], min_new_tokens=-1)


def test_sampling_options_without_do_sample_warn(model):
    with pytest.warns(UserWarning, match=r"^temperature=0.7, top_k=5: sampling options, ignored because "
                      "do_sample is False"):
        (g,) = lm.generate(model, [""], temperature=0.7, top_k=5)
    assert g.tokens == [A, B, EOS]   # greedy, as without them
    with pytest.warns(UserWarning, match=r"^top_p=0.9: sampling options"):
        lm.generate(model, [""], top_p=0.9, num_beams=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lm.generate(model, [""], do_sample=True, temperature=0.7, top_k=5, top_p=0.9, seed=0)
        lm.generate(model, [""])


@pytest.fixture()
def treebank_model():
    corpus = Corpus.from_texts(["what, my lord?", "my lord, what news?"], tokenizer="treebank")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Kneser-Ney's discount warning on so small a corpus
        return lm.make("kneser-ney", order=3).fit(corpus)


def test_string_prompts_use_the_models_tokenizer(treebank_model):
    m = treebank_model
    assert m.tokenizer_name_ == "treebank"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = lm.generate(m, "what,", max_new_tokens=10)
    assert m.vocab_.decode(g.prompt) == ["what", ","]
    assert m.vocab_.decode(g.tokens[:-1]) == ["my", "lord", ",", "what", "news", "?"]
    assert g.text == "my lord, what news?"   # detokenised by the treebank rules, not joined by spaces
    with pytest.warns(UserWarning, match=r"prompt 'what, my lord\?': 2 of its 3 tokens \(whitespace "
                      r"tokenizer\) are not in the model's vocabulary and read as <unk>: 'what,', 'lord\?'"):
        (g,) = lm.generate(m, "what, my lord?", tokenizer="whitespace", max_new_tokens=0)
    assert g.prompt == [m.vocab_.unk_id, m.vocab_["my"], m.vocab_.unk_id]


def test_a_prompt_half_unknown_does_not_warn(treebank_model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = lm.generate(treebank_model, "my horse", max_new_tokens=0)   # 1 of 2 unknown: no warning
    assert g.prompt == [treebank_model.vocab_["my"], treebank_model.vocab_.unk_id]
