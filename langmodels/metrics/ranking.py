"""Next-token ranking: top-k accuracy and mean reciprocal rank of each counted token."""

from __future__ import annotations

import numpy as np

from ..corpus import Corpus
from ..masked import MaskedLanguageModel
from ..vocabulary import BOS_ID


def ranking_metrics(model, corpus: Corpus, ks: tuple[int, ...] = (1, 5),
                    max_batch_floats: int = 4_000_000) -> dict[str, float]:
    """Top-k accuracy and mean reciprocal rank of each counted token of `corpus` under `model`.

        rank(w) = 1 + #{v : ln p(v|h) > ln p(w|h)} + ties shared at random,  MRR = mean 1/rank(w)

    Ties are broken uniformly at random in expectation (a uniform model gets top-1 accuracy
    exactly 1/(V-1), not 1); `<s>` is never a candidate. The distributions come from
    `model.target_distributions`, holding at most about `max_batch_floats` scores in memory; for
    a masked model from `masked_target_distributions`: each token masked alone, both sides
    visible (so its numbers answer a different, easier question than a causal model's).
    """
    V = len(model.vocab_)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, V + 1))])  # H(n), n = 0..V
    hits = np.zeros(len(ks))
    rr, n = 0.0, 0
    source = (model.masked_target_distributions if isinstance(model, MaskedLanguageModel)
              else model.target_distributions)
    for lp, target in source(corpus, max_batch_floats):
        own = lp[np.arange(len(target)), target][:, None]
        greater = (lp > own).sum(axis=1)
        # <s> (always -inf) is never a candidate: take it out of the ties it joins.
        ties = (lp == own).sum(axis=1) - 1 - (lp[:, BOS_ID] == own[:, 0])
        for i, k in enumerate(ks):
            hits[i] += np.clip((k - greater) / (ties + 1), 0.0, 1.0).sum()  # P(rank <= k)
        # E[1/rank] with rank uniform on greater+1 .. greater+ties+1
        rr += ((harmonic[greater + ties + 1] - harmonic[greater]) / (ties + 1)).sum()
        n += len(target)
    if n != corpus.n_targets:
        raise RuntimeError(f"{type(model).__name__}.target_distributions gave {n} targets, "
                           f"expected {corpus.n_targets}")
    out = {f"top{k}_accuracy": float(h / n) for k, h in zip(ks, hits)}
    out["mrr"] = float(rr / n)
    return out
