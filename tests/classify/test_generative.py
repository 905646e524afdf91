
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import langmodels as lm
from langmodels.classify import LMClassifier, classification_scores

# Class x: "a a", "a b"; class y: "b b". Add-one unigrams over the 4 outcomes <unk>, </s>, a, b:
#   x: targets a a </s> a b </s> -> (a 3+1, b 1+1, </s> 2+1, <unk> 0+1) / 10
#   y: targets b b </s>          -> (a 0+1, b 2+1, </s> 1+1, <unk> 0+1) / 7
TEXTS, LABELS = ["a a", "a b", "b b"], ["x", "x", "y"]


def test_bayes_rule_known_answer():
    clf = LMClassifier(model="unigram", k=1.0).fit(TEXTS, LABELS)
    assert list(clf.classes_) == ["x", "y"]
    # "b": x: 2/3 * 2/10 * 3/10 = 1/25; y: 1/3 * 3/7 * 2/7 = 2/49 -> p(y | b) = (2/49) / (1/25 + 2/49) = 50/99
    np.testing.assert_allclose(clf.predict_proba(["b"]), [[49 / 99, 50 / 99]])
    np.testing.assert_allclose(clf.sequence_logprobs(["b"]), [[np.log(0.06), np.log(6 / 49)]])
    # "a": x: 2/3 * 4/10 * 3/10 = 2/25; y: 1/3 * 1/7 * 2/7 = 2/147
    p_x = (2 / 25) / (2 / 25 + 2 / 147)
    np.testing.assert_allclose(clf.predict_proba(["a"])[0, 0], p_x)
    assert list(clf.predict(["a", "b"])) == ["x", "y"]
    # An unseen word is <unk> in both models (1/10 vs 1/7); a blank text is just </s> (3/10 vs 2/7).
    np.testing.assert_allclose(clf.sequence_logprobs(["zzz", ""]),
                               np.log([[0.1 * 0.3, 1 / 7 * 2 / 7], [0.3, 2 / 7]]))


def test_priors_change_the_decision():
    # Uniform priors: "b a" -> x: 2/10 * 4/10 * 3/10 = 0.024, y: 3/7 * 1/7 * 2/7 = 6/343 ~ 0.0175 -> x,
    # but with priors (0.1, 0.9): 0.0024 vs 0.0157 -> y.
    even = LMClassifier(model="unigram", k=1.0, priors=[0.5, 0.5]).fit(TEXTS, LABELS)
    assert even.predict(["b a"])[0] == "x"
    assert even.set_params(priors=[0.1, 0.9]).fit(TEXTS, LABELS).predict(["b a"])[0] == "y"
    with pytest.raises(lm.InvalidParameterError, match="priors"):
        LMClassifier(model="unigram", k=1.0, priors=[0.5, 0.6]).fit(TEXTS, LABELS)


def _two_languages(n=40, seed=0):
    rng = np.random.default_rng(seed)
    a, b = ["the", "cat", "sat", "on", "mat"], ["le", "chat", "est", "sur", "tapis"]
    texts, y = [], []
    for k in range(n):
        words = a if k % 2 == 0 else b
        texts.append(" ".join(rng.choice(words, size=rng.integers(2, 7))))
        y.append(k % 2)
    return texts, np.array(y)


def test_scikit_learn_clone_cross_validation_and_grid_search():
    texts, y = _two_languages()
    clf = LMClassifier(model="unigram", k=0.5)
    twin = clone(clf)
    assert twin.get_params() == {"model": "unigram", "tokenizer": "whitespace", "min_count": 2,
                                 "max_size": None, "priors": None, "k": 0.5}
    assert "k=0.5" in repr(clf)
    assert cross_val_score(clf, texts, y, cv=3).min() == 1.0
    pipe = make_pipeline(FunctionTransformer(lambda xs: [t.upper() for t in xs]), clf)
    assert pipe.fit(texts, y).score(texts, y) == 1.0
    grid = GridSearchCV(clf, {"k": [0.1, 1.0]}, cv=2).fit(texts, y)
    assert grid.best_params_["k"] in (0.1, 1.0) and grid.best_estimator_.k == grid.best_params_["k"]


def test_with_an_ngram_family():
    # Same words, different order: only a model that sees history can tell the classes apart.
    texts = ["a b a b", "b a b a"] * 4 + ["a a b b", "b b a a"] * 4
    y = [0] * 8 + [1] * 8
    for name in ("kneser-ney", "witten-bell"):
        clf = LMClassifier(model=name, order=2).fit(texts, y)
        assert list(clf.predict(["a b a b a", "b b a a b b"])) == [0, 1]
    # A unigram sees the same counts in both classes, so it cannot.
    uni = LMClassifier(model="unigram", k=1.0).fit(texts, y)
    p = uni.predict_proba(["a b a b a", "b b a a b b"])
    np.testing.assert_allclose(p, 0.5, atol=1e-12)


def test_classification_scores_known_answer():
    # precision a 1, b 1/2; recall a 1/2, b 1; F1 both 2/3.
    s = classification_scores(["a", "a", "b"], ["a", "b", "b"])
    assert s == pytest.approx({"accuracy": 2 / 3, "precision": 0.75, "recall": 0.75, "f1": 2 / 3})


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="one label per text"):
        LMClassifier(model="unigram").fit(TEXTS, ["x", "y"])
    with pytest.raises(lm.EmptyCorpusError, match="class 'z' has no training text"):
        LMClassifier(model="unigram").fit(TEXTS + ["  "], LABELS + ["z"])
    with pytest.raises(TypeError, match="single string"):
        LMClassifier(model="unigram").fit("a b", ["x"])
    with pytest.raises(lm.InvalidParameterError, match="unigram has no parameter 'order'"):
        LMClassifier(model="unigram", order=3).fit(TEXTS, LABELS)
    with pytest.raises(lm.UnknownModelError):
        LMClassifier(model="nope").fit(TEXTS, LABELS)
    with pytest.raises(Exception, match="not fitted"):
        LMClassifier(model="unigram").predict(["a"])
