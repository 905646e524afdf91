"""Text classification with one language model per class and Bayes' rule.

    p(c | x) = p(c) p(x | c) / sum_c' p(c') p(x | c')      p(x | c) = the class-c model's probability of
                                                            the whole sequence x, </s> included

Every class model is fitted on the same vocabulary (built from all training texts), so their
probabilities of a text are comparable: a word seen only in another class is a real word of low
probability here, not an `<unk>` that different models would score by different rules.

    clf = LMClassifier(model="kneser-ney", order=3).fit(texts, labels)
    clf.predict(["the cat sat"]), clf.predict_proba(["the cat sat"])

Any registered family works; its hyper-parameters are passed as keywords beside `model` and are
seen by scikit-learn (`get_params`, `set_params`, `GridSearchCV(clf, {"order": [2, 3]})`).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .._checks import check_int
from ..corpus import Corpus
from ..errors import EmptyCorpusError, InvalidParameterError
from ..registry import get_class, make
from ..tokenize import get_tokenizer
from ..vocabulary import EOS_ID, Vocabulary
from ._params import FamilyKeywords
from .data import TextInput, check_known_labels, check_labels, check_texts

_OWN_PARAMS = ("model", "tokenizer", "min_count", "max_size", "priors")


class LMClassifier(FamilyKeywords, TextInput, ClassifierMixin, BaseEstimator):
    """One language model per class; predicts argmax_c  ln p(c) + ln p(x | c).

    Parameters
    ----------
    model : str, default "modified-kneser-ney"
        Registry name of the family every class model is made from.
    tokenizer : str, default "whitespace"
        How texts are split into words (a name `langmodels.tokenize.get_tokenizer` knows).
    min_count : int, default 2
        Words seen fewer times in all training texts become `<unk>` in the shared vocabulary.
        2 turns words seen once into `<unk>`, so every class model learns how often its class
        meets unknown words; with 1, a class whose training text has no `<unk>` gives test OOVs
        almost no probability and loses them.
    max_size : int or None, default None
        Keep at most this many vocabulary entries, specials included, the most frequent words
        first (None: no limit).
    priors : list of float or None, default None
        p(c), one probability per class in `classes_` order (None: the class frequencies of
        the training labels).
    **params
        Any other keyword is a hyper-parameter of the family (e.g. `order=3`).

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The class labels, sorted.
    models_ : list of LanguageModel
        The fitted class models, in `classes_` order.
    class_log_prior_ : ndarray of shape (C,)
        ln p(c) for each class.
    vocab_ : Vocabulary
        The vocabulary every class model shares.
    """

    def __init__(self, model: str = "modified-kneser-ney", tokenizer: str = "whitespace",
                 min_count: int = 2, max_size: int | None = None, priors=None, **params):
        self.model = model
        self.tokenizer = tokenizer
        self.min_count = min_count
        self.max_size = max_size
        self.priors = priors
        self.params = params  # kept apart so scikit-learn can clone the estimator

    own_params = tuple(_OWN_PARAMS)   # the rest of get_params() is the family's keywords

    def _check_params(self) -> type:
        cls = get_class(self.model)
        allowed = cls.param_names()
        bad = sorted(set(self.params) - set(allowed))
        if bad:
            raise InvalidParameterError(
                f"{self.model} has no parameter {bad[0]!r}; its parameters are {allowed}")
        check_int("min_count", self.min_count, low=1)
        if self.max_size is not None:
            check_int("max_size", self.max_size, low=3)
        get_tokenizer(self.tokenizer)
        return cls

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, X, y) -> LMClassifier:
        """Fit one `model` per class on the texts of that class (labels `y`, one per text)."""
        self._check_params()
        texts = check_texts(X)
        y = check_labels(texts, y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        split = get_tokenizer(self.tokenizer)
        tokens = [split(t) for t in texts]
        try:
            self.vocab_ = Vocabulary.from_corpus(tokens, self.min_count, self.max_size)
        except EmptyCorpusError:
            raise EmptyCorpusError("every training text is blank; nothing to learn from") from None
        self.models_ = []
        for c, label in enumerate(self.classes_):
            seqs = [t for t, k in zip(tokens, y_idx) if k == c and t]
            if not seqs:
                raise EmptyCorpusError(f"class {label.item()!r} has no training text with a token in it")
            corpus = Corpus.from_tokens(seqs, self.vocab_, tokenizer=self.tokenizer, name=f"class {label}")
            self.models_.append(make(self.model, **self.params).fit(corpus))
        self.class_log_prior_ = np.log(self._priors(np.bincount(y_idx, minlength=len(self.classes_))))
        return self

    def _priors(self, counts: np.ndarray) -> np.ndarray:
        if self.priors is None:
            return counts / counts.sum()
        p = np.asarray(self.priors, np.float64)
        if p.shape != counts.shape or (p < 0).any() or abs(p.sum() - 1) > 1e-6:
            raise InvalidParameterError(f"priors must be None or {len(counts)} probabilities summing "
                                        f"to 1 (one per class, in classes_ order), got {self.priors!r}")
        return p

    # --- prediction ----------------------------------------------------------------------------
    def sequence_logprobs(self, X) -> np.ndarray:
        """(n_texts, n_classes): ln p(x | c) under each class model, `</s>` included."""
        check_is_fitted(self, "models_")
        tokens = [get_tokenizer(self.tokenizer)(t) for t in check_texts(X)]
        nonempty = [k for k, t in enumerate(tokens) if t]
        out = np.empty((len(tokens), len(self.models_)))
        if len(nonempty) < len(tokens):  # a blank text is just </s> after <s>
            out[:] = [m.next_logprobs([[]])[0, EOS_ID] for m in self.models_]
        if nonempty:
            corpus = Corpus.from_tokens([tokens[k] for k in nonempty], self.vocab_, tokenizer=self.tokenizer)
            starts = corpus.offsets[:-1] + np.arange(len(corpus))  # first target of each sequence
            for c, m in enumerate(self.models_):
                out[nonempty, c] = np.add.reduceat(m.token_logprobs(corpus), starts)
        return out

    def predict_joint_log_proba(self, X) -> np.ndarray:
        """(n_texts, n_classes): ln p(c) + ln p(x | c)."""
        return self.sequence_logprobs(X) + self.class_log_prior_

    def predict_log_proba(self, X) -> np.ndarray:
        joint = self.predict_joint_log_proba(X)
        top = joint.max(axis=1, keepdims=True)
        # A text every class model gives probability 0 is left to the priors.
        dead = np.isneginf(top[:, 0])
        joint[dead] = self.class_log_prior_
        top[dead, 0] = self.class_log_prior_.max()
        return joint - (np.log(np.exp(joint - top).sum(axis=1, keepdims=True)) + top)

    def predict_proba(self, X) -> np.ndarray:
        """(n_texts, n_classes): the posterior p(c | x), columns in `classes_` order."""
        return np.exp(self.predict_log_proba(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on (X, y); a label the classifier was not trained on is an error."""
        check_is_fitted(self, "models_")
        check_known_labels(self.classes_, y)
        return super().score(X, y, sample_weight)

    def predict(self, X) -> np.ndarray:
        best = np.argmax(self.predict_log_proba(X), axis=1)
        return self.classes_[best]
