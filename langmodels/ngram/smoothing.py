"""Every smoothing as one recursion, p_k(w | h) = alpha_k(h w) + gamma_k(h) * p_{k-1}(w | h').

Each smoothing only says what alpha (the mass an n-gram keeps) and gamma (the weight the
context passes down) are; `probabilities` runs the recursion once for all of them, vectorised
per order (a gather of p_{k-1} at each n-gram's suffix). The bottom of the recursion, p_0, is
the uniform distribution over the V - 1 words other than `<s>`, so `<unk>` and every other
word unseen in training get the mass gamma_1 / (V - 1) (KenLM's convention).

Three kinds: "interpolated" (the recursion as written), "uniform" (add-k: every order falls
back to the uniform distribution directly) and "backoff" (Katz: p_k = alpha_k for seen
n-grams, gamma chosen afterwards so each history's distribution sums to 1).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..vocabulary import BOS_ID
from .counts import NGramCounts

#: lmplz's --discount_fallback values (D1, D2, D3+), used when counts-of-counts cannot give any.
KENLM_FALLBACK = (0.5, 1.0, 1.5)


@dataclass
class Estimate:
    """alpha[k-1] over the order-k n-grams; gamma[k-1] over their contexts (order 1: one value)."""

    alpha: list
    gamma: list
    kind: str = "interpolated"


# --- counts each smoothing starts from ------------------------------------------------------
def raw_count(c: NGramCounts, k: int) -> np.ndarray:
    """The order-k counts as floats."""
    out = c.counts[k - 1].astype(np.float64)
    if k == 1:
        out[BOS_ID] = 0.0                 # <s> is a context, never an outcome
    return out


def raw_counts(c: NGramCounts) -> list[np.ndarray]:
    return [raw_count(c, k) for k in range(1, c.order + 1)]


def adjusted_count(c: NGramCounts, k: int) -> np.ndarray:
    """Kneser-Ney counts of order k as lmplz makes them: raw counts at the highest order and for
    n-grams starting with `<s>` (nothing can precede them); below, the number of distinct words
    seen before the n-gram, N1+(. w1..wk)."""
    if k == c.order:
        return raw_count(c, k)
    out = c.continuation_counts(k).astype(np.float64)
    bos = np.flatnonzero(c.bos[k - 1])
    out[bos] = c.counts[k - 1][bos]
    if k == 1:
        out[BOS_ID] = 0.0
    return out


def context_sum(c: NGramCounts, k: int, values: np.ndarray) -> np.ndarray:
    """sum over w of values(h w), for every context h of the order-k n-grams."""
    return np.bincount(c.context(k), weights=values, minlength=c.n_contexts(k))


def _ratio(num, den, empty=1.0):
    """num / den, with `empty` where den == 0 (contexts never followed by anything)."""
    num = np.asarray(num, np.float64)
    out = np.full(np.broadcast(num, den).shape, empty)
    np.divide(num, den, out=out, where=np.broadcast_to(den > 0, out.shape))
    return out


# --- the smoothings ---------------------------------------------------------------------------
def mle(c: NGramCounts) -> Estimate:
    """alpha = c(hw) / c(h), gamma = 0: seen contexts keep all their mass."""
    counts = raw_counts(c)
    alpha, gamma = [], []
    for k, x in enumerate(counts, start=1):
        tot = context_sum(c, k, x)
        alpha.append(_ratio(x, tot[c.context(k)], 0.0))
        gamma.append(np.zeros(len(tot)))
    return Estimate(alpha, gamma)


def add_k(c: NGramCounts, k_add: float) -> Estimate:
    """p = (c(hw) + k) / (c(h) + k (V-1)): alpha = c(hw) / (c(h) + k(V-1)), gamma = k(V-1) / (...),
    falling back on the uniform distribution (the longest context seen decides)."""
    Vp = c.V - 1
    alpha, gamma = [], []
    for k, x in enumerate(raw_counts(c), start=1):
        den = context_sum(c, k, x) + k_add * Vp
        alpha.append(_ratio(x, den[c.context(k)], 0.0))
        gamma.append(_ratio(k_add * Vp, den))
    return Estimate(alpha, gamma, kind="uniform")


def witten_bell(c: NGramCounts) -> Estimate:
    """alpha = c(hw) / (c(h) + N1+(h .)), gamma = N1+(h .) / (c(h) + N1+(h .))."""
    alpha, gamma = [], []
    for k, x in enumerate(raw_counts(c), start=1):
        types = context_sum(c, k, (x > 0).astype(np.float64))
        den = context_sum(c, k, x) + types
        alpha.append(_ratio(x, den[c.context(k)], 0.0))
        gamma.append(_ratio(types, den))
    return Estimate(alpha, gamma)


def discounted(c: NGramCounts, count_of: Callable[[int], np.ndarray],
               discounts: list[tuple[float, float, float]]) -> Estimate:
    """Absolute discounting with D(1), D(2), D(3+) per order (Chen & Goodman, eq. 17):
    alpha = (c(hw) - D(c)) / c(h), gamma = (D1 N1(h .) + D2 N2(h .) + D3 N3+(h .)) / c(h).

    `count_of(k)` gives order k's (raw or adjusted) counts as a new float array, which becomes
    its alpha; one order is made at a time and worked a span of n-grams at a time
    (`NGramCounts.spans`), and unless `c.keep_raw` each order's raw counts are dropped once
    used: at scale every number per n-gram saved is a hundred megabytes."""
    alpha, gamma = [], []
    for k, ds in enumerate(discounts, start=1):
        x = count_of(k)
        if not c.keep_raw:
            c.counts[k - 1] = c.bos[k - 1] = None
        n_ctx, table = c.n_contexts(k), np.array([0.0, *ds])
        tot, dsum = np.zeros(n_ctx), np.zeros(n_ctx)
        for lo, hi in c.spans(k):         # spans never split a context: the sums are exact
            ctx, xs = c.context(k, lo, hi), x[lo:hi]
            first = int(ctx[0])
            ctx -= first
            d = np.minimum(table[np.minimum(xs, 3).astype(np.int64)], xs)   # D(c) <= c
            top = first + int(ctx[-1]) + 1
            tot[first:top] = np.bincount(ctx, weights=xs)
            dsum[first:top] = np.bincount(ctx, weights=d)
        np.divide(dsum, tot, out=dsum, where=tot > 0)      # as _ratio(dsum, tot), in place
        dsum[tot <= 0] = 1.0
        gamma.append(dsum)
        for lo, hi in c.spans(k):
            xs = x[lo:hi]
            d = np.minimum(table[np.minimum(xs, 3).astype(np.int64)], xs)
            den = tot[c.context(k, lo, hi)]
            seen = den > 0
            np.subtract(xs, d, out=xs)
            np.divide(xs, den, out=xs, where=seen)     # as _ratio(num, den, 0.0), in place
            xs[~seen] = 0.0
        alpha.append(x)
    return Estimate(alpha, gamma)


def katz(c: NGramCounts, max_count: int = 5) -> Estimate:
    """Good-Turing discounted counts d_r r for r <= K = max_count (Katz 1987), backoff weights
    chosen afterwards; unigrams pass their left-over mass to the uniform distribution."""
    alpha, gamma = [], []
    for k, x in enumerate(raw_counts(c), start=1):
        d = good_turing_ratios(x[x > 0].astype(np.int64), max_count, order=k)
        ratio = np.ones(len(x))
        small = (x >= 1) & (x <= max_count)
        ratio[small] = d[x[small].astype(np.int64)]
        tot = context_sum(c, k, x)
        # A context whose n-grams are all seen more than K times would keep no mass for unseen
        # words (probability 0 for them); such contexts take the ratio of the largest discounted
        # count instead.
        below_one = d[1:][d[1:] < 1]
        d_top = below_one[-1] if len(below_one) else 0.5
        full = context_sum(c, k, np.where(x > 0, ratio * x, 0.0)) >= tot * (1 - 1e-12)
        ratio = np.where(full[c.context(k)] & (x > max_count), d_top, ratio)
        alpha.append(_ratio(ratio * x, tot[c.context(k)], 0.0))
        gamma.append(np.maximum(1.0 - context_sum(c, k, alpha[-1]), 0.0) if k == 1 else None)
    return Estimate(alpha, gamma, kind="backoff")


def good_turing_ratios(counts: np.ndarray, max_count: int, order: int) -> np.ndarray:
    """d[r] = (r*/r - (K+1) n_{K+1}/n_1) / (1 - (K+1) n_{K+1}/n_1), r* = (r+1) n_{r+1}/n_r.

    Where the counts-of-counts make a ratio invalid (outside (0, 1]), the largest K that gives
    valid ratios is used; if none does, a discount of 0.5 (d[r] = (r - 0.5) / r), with a warning.
    """
    n = np.bincount(counts, minlength=max_count + 2).astype(np.float64)
    for K in range(max_count, 0, -1):
        if n[1] == 0:
            break
        common = (K + 1) * n[K + 1] / n[1]
        r = np.arange(1, K + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = ((r + 1) * n[r + 1] / (r * n[r]) - common) / (1.0 - common)
        if np.all((d > 0) & (d <= 1)):
            return np.concatenate([[0.0], d, np.ones(max_count - K)])
    warnings.warn(f"Katz: counts-of-counts of the {order}-grams give no valid Good-Turing "
                  "discount (tiny corpus?); using an absolute discount of 0.5", stacklevel=3)
    r = np.arange(1, max_count + 1)
    return np.concatenate([[0.0], (r - 0.5) / r])


# --- discount estimates -----------------------------------------------------------------------
def count_of_counts(x: np.ndarray) -> np.ndarray:
    """n[j] = number of n-grams with (adjusted) count j, j = 0..4 (no integer copy of x: at
    scale that would be the largest temporary of the fit)."""
    return np.array([np.count_nonzero(x == j) for j in range(5)], np.float64)


def modified_kn_discounts(x: np.ndarray, order: int) -> tuple[float, float, float]:
    """Chen & Goodman eq. 26: Y = n1 / (n1 + 2 n2), D_j = j - (j+1) Y n_{j+1} / n_j.

    As lmplz, falls back on (0.5, 1, 1.5) with a warning when a count-of-count is 0 or a
    discount leaves [0, j]."""
    n = count_of_counts(x)
    if (n[1:4] > 0).all():
        y = n[1] / (n[1] + 2 * n[2])
        ds = tuple(float(j - (j + 1) * y * n[j + 1] / n[j]) for j in (1, 2, 3))
        if all(0 <= d <= j for j, d in zip((1, 2, 3), ds)):
            return ds
    warnings.warn(f"modified Kneser-Ney: counts-of-counts of the {order}-grams ({n[1:].astype(int)}"
                  f" for adjusted counts 1..4) give no valid discounts (tiny corpus?); using "
                  f"lmplz's --discount_fallback values D1={KENLM_FALLBACK[0]} D2="
                  f"{KENLM_FALLBACK[1]} D3+={KENLM_FALLBACK[2]}", stacklevel=3)
    return KENLM_FALLBACK


def kn_discount(x: np.ndarray, order: int, fallback: float = 0.75) -> float:
    """Ney's estimate D = n1 / (n1 + 2 n2); `fallback` with a warning when it is not in (0, 1)."""
    n = count_of_counts(x)
    if n[1] > 0 and n[2] > 0:
        return float(n[1] / (n[1] + 2 * n[2]))
    warnings.warn(f"Kneser-Ney: no {order}-grams with count {1 if n[1] == 0 else 2}; "
                  f"using the discount {fallback}", stacklevel=3)
    return fallback


# --- the recursion ------------------------------------------------------------------------------
def probabilities(c: NGramCounts, est: Estimate) -> list[np.ndarray]:
    """p_k of every stored n-gram (the value an ARPA file lists), for k = 1..order.

    Computed in `est.alpha`'s arrays (the estimate's alpha is consumed): at scale, a second
    float per n-gram is the largest array of the fit."""
    uniform = 1.0 / (c.V - 1)
    p = [est.alpha[0]]
    p[0] += est.gamma[0][0] * uniform
    p[0][BOS_ID] = 0.0
    for k in range(2, c.order + 1):
        a = est.alpha[k - 1]
        for lo, hi in c.spans(k):         # a span at a time: no whole-order temporaries
            if est.kind == "interpolated":
                a[lo:hi] += est.gamma[k - 1][c.context(k, lo, hi)] * p[-1][c.suffix[k - 1][lo:hi]]
            elif est.kind == "uniform":
                a[lo:hi] += est.gamma[k - 1][c.context(k, lo, hi)] * uniform
        p.append(a)
    est.alpha = None
    return p


def backoff_weights(c: NGramCounts, est: Estimate, p: list[np.ndarray]) -> list[np.ndarray]:
    """bow[k-1] over the order-k n-grams, k < order: the weight a context gives the lower order
    (gamma, or for backoff models the normaliser); 1 for n-grams that are no context."""
    out = []
    for k in range(2, c.order + 1):
        has = np.zeros(c.n_contexts(k), bool)
        for lo, hi in c.spans(k):
            has[c.context(k, lo, hi)] = True
        if est.kind == "backoff":
            bow = normalising_bows(c.context(k), p[k - 1], p[k - 2][c.suffix[k - 1]], c.n_contexts(k))
        else:
            bow, est.gamma[k - 1] = est.gamma[k - 1], None    # the gammas become the weights
        bow[~has] = 1.0
        out.append(bow)
    return out


def normalising_bows(ctx, p_seen, p_lower_seen, n_ctx):
    """bow(h) = (1 - sum_seen p(w|h)) / (1 - sum_seen p(w|h')): what makes each row sum to 1."""
    num = np.maximum(1.0 - np.bincount(ctx, weights=p_seen, minlength=n_ctx), 0.0)
    den = 1.0 - np.bincount(ctx, weights=p_lower_seen, minlength=n_ctx)
    return num / np.maximum(den, 1e-300)
