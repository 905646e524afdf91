"""ARPA files: exact round trips, readable by KenLM, malformed files named by line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, make
from langmodels.ngram.arpa import ArpaError

BACKOFF_FORM = ["mle", "witten-bell", "absolute-discount", "kneser-ney", "modified-kneser-ney", "katz"]


def fit(name, corpus, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # discount fallbacks on the toy corpus
        return make(name, **params).fit(corpus)


@pytest.mark.parametrize("name", BACKOFF_FORM)
@pytest.mark.parametrize("order", [1, 3])
def test_round_trip_is_exact(name, order, toy_train, toy_test, tmp_path):
    model = fit(name, toy_train, order=order)
    model.save_arpa(tmp_path / "a.arpa")
    again = lm.load_arpa(tmp_path / "a.arpa", vocab=toy_train.vocab)
    np.testing.assert_allclose(again.token_logprobs(toy_test), model.token_logprobs(toy_test),
                               rtol=1e-13, atol=1e-13)
    again.save_arpa(tmp_path / "b.arpa")
    assert (tmp_path / "a.arpa").read_bytes() == (tmp_path / "b.arpa").read_bytes()


def test_loaded_arpa_is_a_language_model(toy_train, toy_test, tmp_path):
    model = fit("kneser-ney", toy_train, order=3)
    model.save_arpa(tmp_path / "a.arpa.gz")
    loaded = lm.load_arpa(tmp_path / "a.arpa.gz")           # its own vocabulary, from the file
    assert set(loaded.vocab_.tokens) == set(toy_train.vocab.tokens)
    test = Corpus.from_texts(["the cat sat on the log"], vocab=loaded.vocab_)
    ours = Corpus.from_texts(["the cat sat on the log"], vocab=toy_train.vocab)
    np.testing.assert_allclose(loaded.token_logprobs(test), model.token_logprobs(ours), atol=1e-12)
    np.testing.assert_allclose(np.exp(loaded.next_logprobs([[], [5, 6]])).sum(axis=1), 1.0)
    loaded.save(tmp_path / "ckpt")
    again = lm.load(tmp_path / "ckpt")
    np.testing.assert_array_equal(again.token_logprobs(test), loaded.token_logprobs(test))


def test_interpolated_model_in_backoff_form_by_hand(tmp_path):
    # Kneser-Ney bigram of "a b" / "a a" with D = .5 (see test_known_answers): p(b | a) =
    # .5/3 + .5 * .175, bow(a) = gamma(a) = .5 * 3/3; p(<unk> | a) = bow(a) * p(<unk>) = .5 * .075
    corpus = Corpus.from_texts(["a b", "a a"])
    fit("kneser-ney", corpus, order=2, discount=0.5).save_arpa(tmp_path / "m.arpa")
    lines = (tmp_path / "m.arpa").read_text().splitlines()
    entry = {tuple(ln.split("\t")[1].split()): ln.split("\t") for ln in lines if "\t" in ln}
    assert float(entry["a", "b"][0]) == pytest.approx(np.log10(0.5 / 3 + 0.5 * 0.175))
    assert float(entry["a",][2]) == pytest.approx(np.log10(0.5))
    assert float(entry["<unk>",][0]) == pytest.approx(np.log10(0.075))
    assert float(entry["<s>",][0]) == -99          # never predicted


def test_kenlm_reads_our_files_the_same(toy_train, toy_test, tmp_path):
    kenlm = pytest.importorskip("kenlm")
    model = fit("modified-kneser-ney", toy_train, order=3)
    model.save_arpa(tmp_path / "m.arpa")
    k = kenlm.Model(str(tmp_path / "m.arpa"))
    theirs = sum(k.score(" ".join(toy_test.vocab.decode(s)), bos=True, eos=True)
                 for s in toy_test.sequences())
    assert theirs == pytest.approx(model.token_logprobs(toy_test).sum() / np.log(10), abs=1e-4)


def test_add_k_refuses_arpa_but_saves_exactly(toy_train, tmp_path):
    model = fit("add-k", toy_train, order=2, k=0.5)
    with pytest.raises(ValueError, match="cannot be written as ARPA"):
        model.save_arpa(tmp_path / "m.arpa")
    assert not (tmp_path / "m.arpa").exists()


GOOD = """\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.3
-0.5\t</s>\t0
-0.4\tx\t-0.2

\\2-grams:
-0.1\t<s> x
-0.2\tx </s>

\\end\\
"""


def test_a_hand_written_file(tmp_path):
    (tmp_path / "m.arpa").write_text(GOOD)
    m = lm.load_arpa(tmp_path / "m.arpa")
    v = m.vocab_
    lp = m.next_logprobs([[], [v["x"]]]) / np.log(10)
    assert lp[0, v["x"]] == pytest.approx(-0.1)                     # stored bigram <s> x
    assert lp[0, v["</s>"]] == pytest.approx(-0.3 - 0.5)            # bow(<s>) + p(</s>)
    assert lp[1, v["x"]] == pytest.approx(-0.2 - 0.4)               # bow(x) + p(x)
    assert np.isneginf(lp[:, v["<s>"]]).all()


@pytest.mark.parametrize("bad, line, message", [
    (GOOD.replace("ngram 2=2", "ngram 2=3"), 11, "announces 3"),
    (GOOD.replace("-0.4\tx\t-0.2", "-0.4x"), 9, "1-gram line"),
    (GOOD.replace("-0.2\tx </s>", "abc\tx </s>"), 13, "not a number"),
    (GOOD.replace("-0.2\tx </s>", "-0.2\ty </s>"), 13, "no unigram"),
    (GOOD.replace("\\end\\\n", ""), None, "missing"),
    (GOOD.replace("\\2-grams:", "\\7-grams:"), 11, "section"),
    ("hello\n" + GOOD, 1, "data"),
])
def test_malformed_files_name_the_line(bad, line, message, tmp_path):
    (tmp_path / "bad.arpa").write_text(bad)
    with pytest.raises(ArpaError, match=message) as info:
        lm.load_arpa(tmp_path / "bad.arpa")
    if line is not None:
        assert f"line {line}:" in str(info.value)


def test_context_missing_from_lower_order(tmp_path):
    bad = GOOD.replace("ngram 2=2", "ngram 2=2\nngram 3=1") .replace(
        "\\end\\", "\\3-grams:\n-0.1\tx x </s>\n\n\\end\\")
    (tmp_path / "bad.arpa").write_text(bad)
    with pytest.raises(ArpaError, match=r"line 17: .*'x x' is not listed"):
        lm.load_arpa(tmp_path / "bad.arpa")


def test_arpa_model_fits_from_a_file_or_as_lmplz_would(toy_train, toy_test, tmp_path):
    mkn = fit("modified-kneser-ney", toy_train, order=3)
    mkn.save_arpa(tmp_path / "m.arpa")
    from_file = make("arpa", path=str(tmp_path / "m.arpa")).fit(toy_train)
    np.testing.assert_allclose(from_file.token_logprobs(toy_test), mkn.token_logprobs(toy_test), atol=1e-12)
    estimated = fit("arpa", toy_train, order=3)            # no path: lmplz's estimate
    np.testing.assert_array_equal(estimated.token_logprobs(toy_test), mkn.token_logprobs(toy_test))
    other = Corpus.from_texts(["the cat"])                 # a vocabulary lacking the file's words
    with pytest.raises(lm.VocabularyMismatchError, match="not in the vocabulary"):
        make("arpa", path=str(tmp_path / "m.arpa")).fit(other)
