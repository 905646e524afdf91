"""`NBLogisticRegression`: Wang and Manning's (2012) NBSVM with a logistic loss, a scikit-learn pipeline.

    texts -> binarised word n-gram counts f (CountVectorizer, binary=True)
          -> f * r, r = log (p / |p|_1) / (q / |q|_1)       p = alpha + sum of f over the class's texts,
                                                            q = alpha + sum of f over the other texts
          -> LogisticRegression(C)                          (one against the rest for 3+ classes)

r is the log-ratio of two add-alpha smoothed bag-of-n-gram models, one per side (a unigram-over-n-grams
language model per class, the generative half); the discriminative half reweights it. Wang and
Manning fit a linear SVM on f * r and interpolate its weights towards their mean (beta = 0.25):
MR 79.4 with uni- and bigrams (NBSVM-bi). A logistic loss in place of the SVM, as Mesnil et al.
(2014) run NBSVM, gives probabilities and needs no interpolation. scikit-learn does every step;
`NBScaler` only computes and applies r.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._checks import check_float, check_int
from .data import TextInput, check_known_labels, check_labels, check_texts


class NBScaler(TransformerMixin, BaseEstimator):
    """Scale the columns of a count matrix by the Naive Bayes log-count ratio of a two-class problem.

    Parameters
    ----------
    alpha : float, default 1.0
        Add-alpha smoothing of each feature's count on each side (Wang and Manning: 1).
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y):
        """Learn r from the (n, d) non-negative matrix X and two-class labels y (positive: the larger).

        Parameters
        ----------
        X : sparse matrix of shape (n, d)
            Feature counts (binarised for NBSVM).
        y : array-like of shape (n,)
            Two class labels; the sorted second one is the positive side.
        """
        check_float("alpha", self.alpha, low=0.0, low_open=True)
        self.classes_, y = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"NBScaler needs two classes, got {len(self.classes_)}")
        X = sp.csr_matrix(X)
        p = self.alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
        self.r_ = np.log(p / p.sum()) - np.log(q / q.sum())
        return self

    def transform(self, X):
        """X with column j multiplied by r_j (sparse).

        Parameters
        ----------
        X : sparse matrix of shape (n, d)
            Feature counts over the columns `fit` saw.
        """
        check_is_fitted(self, "r_")
        return sp.csr_matrix(X).multiply(self.r_).tocsr()


class NBLogisticRegression(TextInput, ClassifierMixin, BaseEstimator):
    """NB-weighted logistic regression over binarised word n-grams (NBSVM, Wang and Manning 2012).

    Parameters
    ----------
    ngram_max : int, default 2
        Word n-grams of 1 to `ngram_max` words are the features (NBSVM-bi: 2).
    alpha : float, default 1.0
        Add-alpha smoothing of the per-class n-gram counts behind the log-count ratio.
    C : float, default 1.0
        Inverse L2 regularisation strength of the logistic regression (chosen on SST-2's
        development set and TREC's held-out tenth, benchmarks/RESULTS.md).
    lowercase : bool, default False
        Lower-case texts first (the corpora here are already as their papers used them).
    max_iter : int, default 1000
        Iterations of the logistic regression's solver.

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The class labels, sorted.
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted CountVectorizer -> (one-vs-rest) NBScaler + LogisticRegression.
    """

    def __init__(self, ngram_max: int = 2, alpha: float = 1.0, C: float = 1.0, lowercase: bool = False,
                 max_iter: int = 1000):
        self.ngram_max = ngram_max
        self.alpha = alpha
        self.C = C
        self.lowercase = lowercase
        self.max_iter = max_iter

    def _check_params(self) -> None:
        check_int("ngram_max", self.ngram_max, low=1)
        check_float("alpha", self.alpha, low=0.0, low_open=True)
        check_float("C", self.C, low=0.0, low_open=True)
        check_int("max_iter", self.max_iter, low=1)

    def fit(self, X, y) -> NBLogisticRegression:
        """Fit on texts X (whitespace-separated tokens) with one label per text.

        Parameters
        ----------
        X : list of str
            The training texts.
        y : array-like of shape (n,)
            Their labels (at least two classes).
        """
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline

        self._check_params()
        texts = check_texts(X)
        y = check_labels(texts, y)
        # r is per binary problem, so 3+ classes are one NB-weighted model against the rest each
        per_class = make_pipeline(NBScaler(self.alpha), LogisticRegression(C=self.C, max_iter=self.max_iter))
        self.pipeline_ = make_pipeline(
            CountVectorizer(binary=True, ngram_range=(1, self.ngram_max), lowercase=self.lowercase,
                            token_pattern=None, tokenizer=str.split),
            OneVsRestClassifier(per_class)).fit(texts, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def decision_function(self, X) -> np.ndarray:
        """Scores: (n,) for two classes (positive: `classes_[1]`), else (n, C).

        Parameters
        ----------
        X : list of str
            Texts to score.
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(check_texts(X))

    def predict_proba(self, X) -> np.ndarray:
        """(n, C) class probabilities, columns in `classes_` order (one-vs-rest normalised for 3+).

        Parameters
        ----------
        X : list of str
            Texts to score.
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(check_texts(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each text.

        Parameters
        ----------
        X : list of str
            Texts to classify.
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(check_texts(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on (X, y); a label the classifier was not trained on is an error.

        Parameters
        ----------
        X : list of str
            Texts.
        y : array-like of shape (n,)
            Their true labels.
        sample_weight : array-like of shape (n,) or None, default None
            Weights of the texts.
        """
        check_is_fitted(self, "pipeline_")
        check_known_labels(self.classes_, y)
        return super().score(X, y, sample_weight)
