"""The n-gram models: counting, one smoothing each, and queries in backoff form.

    model = make("modified-kneser-ney", order=3).fit(train)    # lmplz's estimates, exactly
    model.save_arpa("model.arpa")

Every model counts the windows of `<s> w1 ... wn </s>` (`<s>` is context only), runs its
smoothing through the recursion of `smoothing.py`, and stores the result in backoff form
(`BackoffTables`): stored n-grams with their probabilities, contexts with their backoff
weights. Queries look the whole corpus up with one `searchsorted` per order.

MLE gives a seen context all its mass (unseen words get 0) and, on a history never seen as a
context, uses the longest suffix of it that was: p(w | h) = c(h* w) / c(h*).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .._checks import check_float, check_int, check_stored_shape
from ..base import LanguageModel
from ..corpus import Corpus
from ..errors import CheckpointError, InvalidParameterError
from ..vocabulary import Vocabulary
from . import smoothing as sm
from .arpa import read_arpa_tables, save_arpa
from .backoff import BackoffTables, context_matrix
from .counts import NGramCounts, window_stream

MAX_ORDER = 20


class NGramModel(LanguageModel):
    """Base of the n-gram family: p(w | h) looks at the last order - 1 words of h.

    The parameters every n-gram model shares are documented here once.

    Parameters
    ----------
    order : int, default 3
        n, the n-gram length: 1 to 20 words of context including the predicted one
        (order - 1 words of history).
    min_counts : list of int or None, default None
        Pruning thresholds, one per order, e.g. (1, 1, 2): n-grams seen fewer times are dropped
        and backoff weights renormalised, so each history's distribution still sums to 1.
        Must start with 1 and never decrease. None keeps every n-gram.

    Attributes
    ----------
    tables_ : BackoffTables
        The model in backoff form: each order's sorted n-gram keys with their log10
        probabilities and backoff weights (what `save_arpa` writes).
    vocab_ : Vocabulary
        The training corpus's vocabulary.

    Notes
    -----
    `fit(corpus, memory="4G", tmp_dir=None)`: `memory` (bytes or a size as lmplz's `-S`,
    default 1G) bounds the working memory of counting, which then runs in shards of the corpus
    and, for a corpus too long for the budget, keeps its per-position arrays in memory-mapped
    files in `tmp_dir` (default: the system's temporary folder). The model is the same for any
    budget; the n-gram tables themselves must fit in memory.
    """

    has_incremental_state = True
    fit_options = frozenset({"memory", "tmp_dir"})

    def __init__(self, order: int = 3, min_counts: Sequence[int] | None = None):
        self.order = order
        self.min_counts = min_counts

    def _check_params(self):
        check_int("order", self.order, low=1, high=MAX_ORDER)
        if self.min_counts is not None:
            mc = list(self.min_counts) if isinstance(self.min_counts, (list, tuple)) else None
            if mc is None or len(mc) != self.order:
                raise InvalidParameterError(
                    f"min_counts must be None or a list of {self.order} integers (one per order), "
                    f"got {self.min_counts!r}")
            for i, m in enumerate(mc):
                check_int(f"min_counts[{i}]", m, low=1)
            if mc[0] != 1 or any(b < a for a, b in zip(mc, mc[1:])):
                raise InvalidParameterError(
                    "min_counts must start with 1 (every word keeps its unigram) and never decrease "
                    f"(so an n-gram's prefix and suffix survive with it), got {mc}")

    # --- estimation ------------------------------------------------------------------------
    def _estimate(self, counts: NGramCounts) -> sm.Estimate:
        """Each smoothing's (alpha, gamma) for the interpolation recursion, from the counts.

        Every smoothing below fills this in; ArpaModel, whose tables come from a file, overrides
        `_fit` instead, which is why this is not an abstract method.
        """
        raise NotImplementedError(f"{type(self).__name__} does not estimate from counts")

    def _fit(self, corpus: Corpus, valid=None, memory=None, tmp_dir=None):
        counts = NGramCounts(corpus, self.order, memory=memory, tmp_dir=tmp_dir)
        prune = self.min_counts is not None and max(self.min_counts) > 1
        counts.keep_raw = prune     # else estimation may free each order's counts once used
        est = self._estimate(counts)
        if not prune:               # what is left needs only keys and suffixes: free the rest early
            counts.counts = counts.bos = None
        p = sm.probabilities(counts, est)
        bows = sm.backoff_weights(counts, est, p)
        keys, V, kind = counts.keys, counts.V, est.kind
        if prune:
            keys, p, bows = _prune(counts, est, p, list(self.min_counts))
        del counts, est
        with np.errstate(divide="ignore"):          # logs in place: no second copy of the tables
            for x in p + bows:
                np.log(x, out=x)
        self.tables_ = BackoffTables(keys, p, bows, V, uniform_backoff=kind == "uniform")

    # --- queries ---------------------------------------------------------------------------
    def _next_logprobs(self, histories):
        return self.tables_.next_logprobs(context_matrix(histories, self.tables_.order))

    def _token_logprobs(self, corpus: Corpus) -> np.ndarray:
        tokens, starts = window_stream(corpus)
        keep = np.ones(len(tokens), bool)
        keep[starts] = False                       # <s> is never a target
        return self.tables_.score_stream(tokens)[keep]

    # The incremental state is the (B, order-1) matrix of last context ids.
    def _start_state(self, histories):
        ctx = context_matrix(histories, self.tables_.order)
        return ctx, self.tables_.next_logprobs(ctx)

    def _advance(self, state, tokens):
        if state.shape[1]:
            state = np.concatenate([state[:, 1:], tokens[:, None]], axis=1)
        return state, self.tables_.next_logprobs(state)

    def _reorder_state(self, state, rows):
        return state[rows]

    def n_parameters(self) -> int:
        """The numbers an ARPA file of the model lists: a probability for every stored n-gram and a
        backoff weight for every n-gram below the highest order (the sorted keys are an index into
        them, not parameters)."""
        self._check_fitted()
        n = self.tables_.n_ngrams
        return int(sum(n) + sum(n[:-1]))

    # --- persistence -----------------------------------------------------------------------
    def _get_state(self):
        t = self.tables_
        arrays = {}
        for k in range(t.order):
            arrays[f"keys{k + 1}"] = t.keys[k]
            arrays[f"logp{k + 1}"] = t.logp[k]
            if k < t.order - 1:
                arrays[f"logbow{k + 1}"] = t.logbow[k]
        return arrays, {"uniform_backoff": t.uniform_backoff, **self._extra_state()}

    def _extra_state(self) -> dict:
        return {}

    def _set_state(self, arrays, meta):
        order = sum(1 for k in arrays if k.startswith("keys"))
        if order != self.order:
            raise CheckpointError(f"the saved arrays hold {order} n-gram orders but the saved parameters "
                                  f"say order={self.order}")
        V = len(self.vocab_)   # the unigram tables hold every word of the vocabulary
        for name in ["keys1", "logp1"] + (["logbow1"] if order > 1 else []):
            check_stored_shape(name, arrays, (V,))
        self.tables_ = BackoffTables([arrays[f"keys{k}"] for k in range(1, order + 1)],
                                     [arrays[f"logp{k}"] for k in range(1, order + 1)],
                                     [arrays[f"logbow{k}"] for k in range(1, order)],
                                     len(self.vocab_), bool(meta.get("uniform_backoff", False)))

    def save_arpa(self, path) -> None:
        """Write the model in ARPA backoff form (log10), as lmplz and SRILM do."""
        self._check_fitted()
        save_arpa(self, path)


def _prune(counts, est, p, min_counts):
    """Drop n-grams below their order's count threshold; keep the survivors' probabilities and
    recompute every backoff weight so each context's distribution sums to 1 again."""
    V = counts.V
    keep = [np.ones(V, bool)] + [counts.counts[k] >= min_counts[k] for k in range(1, counts.order)]
    new_index = [np.cumsum(m) - 1 for m in keep]
    keys, probs = [counts.keys[0]], [p[0]]
    for k in range(2, counts.order + 1):
        m = keep[k - 1]
        ctx = new_index[k - 2][counts.context(k)[m]]
        keys.append(ctx * V + counts.keys[k - 1][m] % V)
        probs.append(p[k - 1][m])
    new_bows = []
    for k in range(2, counts.order + 1):
        m = keep[k - 1]
        n_ctx = int(keep[k - 2].sum())
        ctx = keys[k - 1] // V
        if est.kind == "uniform":
            # Unseen words after h share what the kept ones leave, uniformly.
            n_seen = np.bincount(ctx, minlength=n_ctx)
            left = np.maximum(1.0 - np.bincount(ctx, weights=probs[k - 1], minlength=n_ctx), 0.0)
            bow = left / np.maximum(1.0 - n_seen / (V - 1), 1e-300)
        else:
            suffix = new_index[k - 2][counts.suffix[k - 1][m]]
            bow = sm.normalising_bows(ctx, probs[k - 1], probs[k - 2][suffix], n_ctx)
        new_bows.append(bow)     # 1 for a context left without successors: it backs off whole
    return keys, probs, new_bows


# --- the registered models ---------------------------------------------------------------------
class MLEModel(NGramModel):
    """Maximum likelihood: p(w | h) = c(hw) / c(h) on the longest suffix h of the history seen
    as a context (unseen words after it get probability 0).

    Parameters
    ----------
    order, min_counts
        See `NGramModel`.
    """

    def _estimate(self, counts):
        return sm.mle(counts)


class AddKModel(NGramModel):
    """Additive (Lidstone) smoothing: p(w | h) = (c(hw) + k) / (c(h) + k (V - 1)), h the longest
    suffix of the history seen as a context (V - 1: every word but `<s>`).

    ARPA cannot express it (unseen words get a constant, not a share of a lower order):
    `save` keeps it exactly, `save_arpa` refuses for order > 1.

    Parameters
    ----------
    order : int, default 3
        See `NGramModel`.
    k : float, default 1.0
        The pseudo-count added to every n-gram count, k > 0 (1 is Laplace).
    min_counts : list of int or None, default None
        See `NGramModel`.
    """

    def __init__(self, order: int = 3, k: float = 1.0, min_counts: Sequence[int] | None = None):
        super().__init__(order, min_counts)
        self.k = k

    def _check_params(self):
        super()._check_params()
        check_float("k", self.k, low=0.0, low_open=True)

    def _estimate(self, counts):
        return sm.add_k(counts, float(self.k))


class LaplaceModel(AddKModel):
    """Add-one smoothing: p(w | h) = (c(hw) + 1) / (c(h) + V - 1) (see AddKModel).

    Parameters
    ----------
    order, min_counts
        See `NGramModel`.
    """

    def __init__(self, order: int = 3, min_counts: Sequence[int] | None = None):
        super().__init__(order, 1.0, min_counts)


class WittenBellModel(NGramModel):
    """Interpolated Witten-Bell: p = (c(hw) + N1+(h .) p(w | h')) / (c(h) + N1+(h .)).

    Parameters
    ----------
    order, min_counts
        See `NGramModel`.
    """

    def _estimate(self, counts):
        return sm.witten_bell(counts)


class AbsoluteDiscountModel(NGramModel):
    """Interpolated absolute discounting on raw counts:
    p = max(c(hw) - D, 0) / c(h) + D N1+(h .) / c(h) * p(w | h').

    Parameters
    ----------
    order : int, default 3
        See `NGramModel`.
    discount : float, default 0.75
        D in [0, 1], subtracted from every seen count of every order.
    min_counts : list of int or None, default None
        See `NGramModel`.
    """

    def __init__(self, order: int = 3, discount: float = 0.75, min_counts: Sequence[int] | None = None):
        super().__init__(order, min_counts)
        self.discount = discount

    def _check_params(self):
        super()._check_params()
        check_float("discount", self.discount, low=0.0, high=1.0)

    def _estimate(self, counts):
        d = float(self.discount)
        return sm.discounted(counts, lambda k: sm.raw_count(counts, k), [(d, d, d)] * counts.order)


class KneserNeyModel(NGramModel):
    """Interpolated Kneser-Ney with one discount per order on lmplz's adjusted counts:
    p = max(c'(hw) - D, 0) / c'(h) + D N1+(h .) / c'(h) * p(w | h'), c' the continuation counts
    below the highest order.

    Parameters
    ----------
    order : int, default 3
        See `NGramModel`.
    discount : float, list of float or None, default None
        D per order, each in [0, 1]: None estimates D = n1 / (n1 + 2 n2) from each order's
        counts-of-counts; a number sets every order's, a list of `order` numbers each one.
    min_counts : list of int or None, default None
        See `NGramModel`.

    Attributes
    ----------
    discounts_ : list of float
        The discount used at each order, lowest first.
    """

    def __init__(self, order: int = 3, discount: float | Sequence[float] | None = None,
                 min_counts: Sequence[int] | None = None):
        super().__init__(order, min_counts)
        self.discount = discount

    def _check_params(self):
        super()._check_params()
        d = self.discount
        if d is None:
            return
        ds = list(d) if isinstance(d, (list, tuple)) else [d] * self.order
        if len(ds) != self.order:
            raise InvalidParameterError(f"discount must be None, a number or {self.order} numbers, got {d!r}")
        for i, x in enumerate(ds):
            name = f"discount[{i}]" if isinstance(d, (list, tuple)) else "discount"
            check_float(name, x, low=0.0, high=1.0)

    def _discounts(self, counts):
        d = self.discount
        if d is None:
            return [sm.kn_discount(sm.adjusted_count(counts, k), k) for k in range(1, self.order + 1)]
        return [float(x) for x in d] if isinstance(d, (list, tuple)) else [float(d)] * self.order

    def _estimate(self, counts):
        self.discounts_ = self._discounts(counts)
        return sm.discounted(counts, lambda k: sm.adjusted_count(counts, k),
                             [(d, d, d) for d in self.discounts_])

    def _extra_state(self):
        return {"discounts": self.discounts_} if hasattr(self, "discounts_") else {}

    def _set_state(self, arrays, meta):
        super()._set_state(arrays, meta)
        if "discounts" in meta:
            self.discounts_ = meta["discounts"]


class ModifiedKneserNeyModel(KneserNeyModel):
    """Modified Kneser-Ney (Chen & Goodman) exactly as KenLM's lmplz estimates it: adjusted
    counts, D1, D2, D3+ per order from counts-of-counts, unigrams interpolated with the uniform
    distribution.

    Parameters
    ----------
    order : int, default 3
        See `NGramModel`.
    discount : list of (float, float, float) or None, default None
        (D1, D2, D3+) per order, subtracted from counts of 1, 2 and 3 or more; None estimates
        them from counts-of-counts as lmplz does: D_j = j - (j + 1) Y n_{j+1} / n_j,
        Y = n1 / (n1 + 2 n2).
    min_counts : list of int or None, default None
        See `NGramModel`.

    Attributes
    ----------
    discounts_ : list of (float, float, float)
        The (D1, D2, D3+) used at each order, lowest first.
    """

    def _check_params(self):
        NGramModel._check_params(self)
        d = self.discount
        if d is None:
            return
        if not isinstance(d, (list, tuple)) or len(d) != self.order or any(
                not isinstance(x, (list, tuple)) or len(x) != 3 for x in d):
            raise InvalidParameterError(
                f"discount must be None or {self.order} triples (D1, D2, D3+), got {d!r}")
        for i, triple in enumerate(d):
            for j, x in enumerate(triple):
                check_float(f"discount[{i}][{j}]", x, low=0.0, high=j + 1.0)

    def _estimate(self, counts):
        if self.discount is None:       # one order's adjusted counts at a time, here and below
            self.discounts_ = [sm.modified_kn_discounts(sm.adjusted_count(counts, k), k)
                               for k in range(1, self.order + 1)]
        else:
            self.discounts_ = [tuple(float(x) for x in t) for t in self.discount]
        return sm.discounted(counts, lambda k: sm.adjusted_count(counts, k), self.discounts_)


class KatzModel(NGramModel):
    """Katz backoff: Good-Turing discounted counts d_r r for r <= `max_count` (5, as Katz),
    the rest of each context's mass given to the lower order by a normalised backoff weight.
    A context whose n-grams were all seen more than `max_count` times (Katz would leave unseen
    words nothing) is discounted by the largest count's ratio; unigrams share their left-over
    mass uniformly.

    Parameters
    ----------
    order : int, default 3
        See `NGramModel`.
    max_count : int, default 5
        k >= 1: counts r <= k are discounted to d_r r with the Good-Turing ratio
        d_r = ((r + 1) n_{r+1} / (r n_r) - A) / (1 - A), A = (k + 1) n_{k+1} / n_1; larger
        counts are trusted as they are.
    min_counts : list of int or None, default None
        See `NGramModel`.
    """

    def __init__(self, order: int = 3, max_count: int = 5, min_counts: Sequence[int] | None = None):
        super().__init__(order, min_counts)
        self.max_count = max_count

    def _check_params(self):
        super()._check_params()
        check_int("max_count", self.max_count, low=1)

    def _estimate(self, counts):
        return sm.katz(counts, self.max_count)


# --- models read from ARPA files -----------------------------------------------------------------
def load_arpa(path: str | os.PathLike, vocab: Vocabulary | None = None) -> ArpaModel:
    """An ARPA file as a `LanguageModel` on `vocab` (default: the file's own words, with the
    specials first). `<unk>` of the file is our `<unk>`; a vocabulary word the file lacks gets
    probability 0 (with a warning); a file word outside `vocab` is an error."""
    order, vocab, tables = read_arpa_tables(path, vocab)
    model = ArpaModel(path=os.fspath(path), order=order)
    model.vocab_ = vocab
    model.tables_ = tables
    return model


class ArpaModel(NGramModel):
    """The backoff model an ARPA file describes (made by `langmodels.load_arpa`).

    `fit(corpus)` reads `path` on the corpus's vocabulary; without a path it estimates what
    `lmplz -o order` would write (modified Kneser-Ney) and keeps only those ARPA tables.

    Parameters
    ----------
    path : str or None, default None
        The ARPA file to read (plain or .gz); None estimates the tables from the fit corpus.
    order : int, default 3
        The model's order: the file's highest order, or lmplz's `-o` when `path` is None.
    """

    registry_name = "arpa"        # load_arpa makes it directly, not through `make`

    def __init__(self, path: str | None = None, order: int = 3):
        self.path = path
        self.order = order
        self.min_counts = None

    def _fit(self, corpus, valid=None, **options):
        if self.path is None:
            self.tables_ = ModifiedKneserNeyModel(order=self.order).fit(corpus, **options).tables_
        else:
            self.tables_ = read_arpa_tables(self.path, vocab=corpus.vocab)[2]
