"""The baselines every comparison needs: the uniform and the unigram model.

Both ignore the history. `<s>` is never an outcome, so the uniform model spreads its mass over
the V - 1 other tokens and its perplexity is exactly V - 1 on any corpus.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_float, check_stored_shape
from .base import LanguageModel
from .corpus import Corpus
from .vocabulary import BOS_ID


class _ContextFreeModel(LanguageModel):
    """A model whose next-token distribution `logprobs_` is the same after every history."""

    def _next_logprobs(self, histories):
        return np.broadcast_to(self.logprobs_, (len(histories), len(self.logprobs_))).copy()

    def _token_logprobs(self, corpus: Corpus) -> np.ndarray:
        return self.logprobs_[corpus.targets()]

    def _get_state(self):
        return {"logprobs": self.logprobs_}, {}

    def _set_state(self, arrays, meta):
        self.logprobs_ = np.asarray(check_stored_shape("logprobs", arrays, (len(self.vocab_),)), np.float64)


class UniformModel(_ContextFreeModel):
    """p(w | h) = 1 / (V - 1) for every token but `<s>`. It has no parameters.

    Attributes
    ----------
    logprobs_ : ndarray of shape (V,)
        ln p(w): -ln(V - 1) for every token, -inf for `<s>`.
    vocab_ : Vocabulary
        The training corpus's vocabulary.
    """

    def n_parameters(self) -> int:
        """0: the distribution follows from the vocabulary size alone; nothing is learned."""
        self._check_fitted()
        return 0

    def _fit(self, corpus, valid=None):
        V = len(self.vocab_)
        self.logprobs_ = np.full(V, -np.log(V - 1))
        self.logprobs_[BOS_ID] = -np.inf


class UnigramModel(_ContextFreeModel):
    """p(w) = (c(w) + k) / (N + k (V - 1)): counts of predicted tokens (`</s>` included, `<s>` never).

    `n_parameters()` is V, one stored probability per vocabulary entry.

    With k = 0 (maximum likelihood) a token unseen in training, such as `<unk>` when the
    training text has no OOV, gets probability 0 and an evaluation reports it.

    Parameters
    ----------
    k : float, default 0.0
        Pseudo-count added to every token but `<s>` (additive smoothing; 0 is maximum likelihood).

    Attributes
    ----------
    logprobs_ : ndarray of shape (V,)
        ln p(w) for every vocabulary id (-inf for `<s>`).
    counts_ : ndarray of shape (V,)
        c(w), the raw training counts of the predicted tokens.
    vocab_ : Vocabulary
        The training corpus's vocabulary.
    """

    def __init__(self, k: float = 0.0):
        self.k = k

    def _check_params(self):
        check_float("k", self.k, low=0.0)

    def _fit(self, corpus, valid=None):
        V = len(self.vocab_)
        counts = np.bincount(corpus.targets(), minlength=V).astype(np.float64) + self.k
        counts[BOS_ID] = 0.0
        with np.errstate(divide="ignore"):
            self.logprobs_ = np.log(counts) - np.log(counts.sum())
        self.counts_ = counts - np.where(np.arange(V) == BOS_ID, 0.0, self.k)
