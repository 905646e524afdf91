import pytest

import langmodels as lm
from langmodels import Corpus

pytest.importorskip("rouge_score", reason="ROUGE needs the optional package rouge-score")

from langmodels.metrics.rouge import continuation_rouge, rouge_scores  # noqa: E402


def test_known_answer():
    # hyp "the cat sat" vs ref "the cat sat on the mat":
    #   ROUGE-1: 3 of 3 hyp words match; 3 of 6 ref words -> P 1, R 1/2, F 2/3
    #   ROUGE-2: hyp bigrams {the cat, cat sat} both in ref (5 bigrams) -> P 1, R 2/5, F 4/7
    #   ROUGE-L: LCS = 3 -> P 1, R 1/2, F 2/3
    # Second pair "a dog" vs "the cat": nothing matches -> all 0. Scores are the mean of the pairs.
    s = rouge_scores(["the cat sat", "a dog"], ["the cat sat on the mat", "the cat"])
    assert s["rouge1"] == pytest.approx({"precision": 50, "recall": 25, "f1": 100 / 3})
    assert s["rouge2"] == pytest.approx({"precision": 50, "recall": 20, "f1": 200 / 7})
    assert s["rougeL"] == pytest.approx({"precision": 50, "recall": 25, "f1": 100 / 3})


def test_bad_input():
    with pytest.raises(ValueError, match="pair up"):
        rouge_scores(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="not single strings"):
        rouge_scores("a b", "a b")


def test_continuation_rouge_of_a_model_that_repeats_its_only_word():
    # The unigram gives x 10/11 and </s> 1/11, so greedy continues "x x ..." for len(reference)
    # tokens; prompt "x x", reference 8 x's: hypothesis = reference, every ROUGE is 100.
    train = Corpus.from_texts(["x x x x x x x x x x"] * 3)
    model = lm.make("unigram").fit(train)
    s = continuation_rouge(model, train, k=2, extra_tokens=0)
    for name in ("rouge1", "rouge2", "rougeL"):
        assert s[name] == pytest.approx({"precision": 100, "recall": 100, "f1": 100})
