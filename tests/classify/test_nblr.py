"""NBLogisticRegression (NBSVM's NB-weighted logistic regression) and its NBScaler, against the
log-count ratio worked out by hand and a pipeline assembled from scikit-learn parts."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score

import langmodels as lm
from langmodels.classify.nblr import NBLogisticRegression, NBScaler
from langmodels.errors import InvalidParameterError

from .test_neural import keyword_task


def test_nb_scaler_is_the_log_count_ratio_worked_by_hand():
    X = sp.csr_matrix(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]]))
    scaler = NBScaler(alpha=1.0).fit(X, ["b", "b", "a"])        # "b" sorts second: the positive side
    # p = 1 + (2, 1, 1) = (3, 2, 2), |p| = 7; q = 1 + (0, 1, 1) = (1, 2, 2), |q| = 5
    assert np.allclose(scaler.r_, np.log([15 / 7, 5 / 7, 5 / 7]))
    assert np.allclose(scaler.transform(X).toarray(), X.toarray() * np.log([15 / 7, 5 / 7, 5 / 7]))
    with pytest.raises(ValueError, match="two classes"):
        NBScaler().fit(X, [0, 1, 2])


def _reference_scores(texts, y, test, C):
    """One-vs-rest logistic regressions on binarised uni+bigrams times each class's log-count ratio."""
    vec = CountVectorizer(binary=True, ngram_range=(1, 2), lowercase=False, token_pattern=None,
                          tokenizer=str.split).fit(texts)
    F, Ft = vec.transform(texts).toarray(), vec.transform(test).toarray()
    scores = []
    for c in np.unique(y):
        pos = np.asarray(y) == c
        p, q = 1 + F[pos].sum(0), 1 + F[~pos].sum(0)
        r = np.log(p / p.sum()) - np.log(q / q.sum())
        scores.append(LogisticRegression(C=C, max_iter=1000).fit(F * r, pos).decision_function(Ft * r))
    return np.array(scores).T


def test_two_classes_match_logistic_regression_on_nb_weighted_ngrams():
    texts, y = keyword_task(60, seed=1)
    test, _ = keyword_task(20, seed=2)
    clf = NBLogisticRegression(C=0.5).fit(texts, y)
    ref = _reference_scores(texts, y, test, 0.5)
    # two classes: one model, "pos" against "neg"
    assert np.allclose(clf.decision_function(test), ref[:, 1], atol=1e-6)
    assert list(clf.classes_) == ["neg", "pos"]


def test_three_classes_are_one_against_the_rest_each():
    classes = ("neg", "pos", "mid")
    texts, y = keyword_task(90, seed=3, classes=classes)
    test, y_test = keyword_task(30, seed=4, classes=classes)
    clf = NBLogisticRegression().fit(texts, y)
    assert np.allclose(clf.decision_function(test), _reference_scores(texts, y, test, 1.0), atol=1e-6)
    proba = clf.predict_proba(test)
    assert proba.shape == (30, 3) and np.allclose(proba.sum(1), 1.0)
    assert clf.score(test, y_test) == 1.0           # each class has its own keywords
    assert list(clf.predict(test)) == list(clf.classes_[proba.argmax(1)])


def test_is_a_scikit_learn_estimator():
    texts, y = keyword_task(60)
    assert lm.NBLogisticRegression is NBLogisticRegression
    assert clone(NBLogisticRegression(C=3.0)).get_params()["C"] == 3.0
    assert cross_val_score(NBLogisticRegression(), texts, y, cv=3).tolist() == [1.0, 1.0, 1.0]
    search = GridSearchCV(NBLogisticRegression(), {"ngram_max": [1, 2]}, cv=2).fit(texts, y)
    assert search.best_params_["ngram_max"] in (1, 2)


def test_bad_input_gets_a_clear_error():
    texts, y = keyword_task(20)
    with pytest.raises(InvalidParameterError, match="C must be a number"):
        NBLogisticRegression(C=0).fit(texts, y)
    with pytest.raises(InvalidParameterError, match="ngram_max must be"):
        NBLogisticRegression(ngram_max=0).fit(texts, y)
    with pytest.raises(ValueError, match="one label per text"):
        NBLogisticRegression().fit(texts, y[:-1])
    with pytest.raises(ValueError, match="class"):
        NBLogisticRegression().fit(texts, ["pos"] * len(texts))
    clf = NBLogisticRegression().fit(texts, y)
    with pytest.raises(ValueError, match=r"label\(s\) \['meh'\]"):
        clf.score(texts[:2], ["pos", "meh"])
    with pytest.raises(TypeError, match="not a single string"):
        clf.predict("good film")


def test_a_soft_vote_with_a_neural_classifier_is_scikit_learns_voting_classifier():
    from sklearn.ensemble import VotingClassifier

    from langmodels.classify import TextClassifier

    from .test_neural import TEST, TINY_CNN, TRAIN, Y

    members = [("nb", NBLogisticRegression()), ("cnn", TextClassifier(**TINY_CNN))]
    vote = VotingClassifier(members, voting="soft").fit(TRAIN, Y)
    alone = [clone(m).fit(TRAIN, Y).predict_proba(TEST) for _, m in members]
    np.testing.assert_allclose(vote.predict_proba(TEST), (alone[0] + alone[1]) / 2, atol=1e-6)
