"""Perplexity and friends, computed in one place for every model from `token_logprobs`.

    perplexity = exp( -(1/N) * sum_i ln p(w_i | h_i) )   over the N counted tokens (</s> included)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .corpus import Corpus

LN2 = math.log(2.0)


@dataclass(frozen=True)
class EvaluationReport:
    """What `evaluate` measured. Log-probabilities are natural logs."""

    total_logprob: float        # sum of ln p over counted tokens (-inf if any has p = 0)
    n_tokens: int               # counted tokens, one </s> per sequence included
    n_sequences: int
    n_oov: int                  # tokens whose string the vocabulary lacks (scored as <unk>)
    n_unk: int                  # tokens scored as <unk> (OOVs and literal <unk>)
    n_zero_prob: int            # counted tokens the model gave probability 0
    perplexity: float           # exp(-total / n_tokens); inf when n_zero_prob > 0
    perplexity_no_eos: float    # the same without the </s> tokens (SRILM's ppl1)
    perplexity_no_unk: float    # the same without the tokens scored as <unk> (KenLM's "excluding OOVs")
    bits_per_token: float
    bits_per_char: float | None  # total NLL in bits / characters of the text (one newline per sequence)
    context: str = "sentence"   # how the model scored: each sequence from <s>, or the corpus as one stream

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        bpc = "n/a" if self.bits_per_char is None else f"{self.bits_per_char:.4f}"
        return (f"ppl {self.perplexity:.4f} (no </s>: {self.perplexity_no_eos:.4f}, no <unk>: "
                f"{self.perplexity_no_unk:.4f}) | {self.bits_per_token:.4f} bits/token, {bpc} bits/char | "
                f"{self.n_tokens} tokens, {self.n_sequences} sequences, {self.n_oov} OOV, "
                f"{self.n_zero_prob} zero-probability, {self.context} context")


def evaluate(model, corpus: Corpus) -> EvaluationReport:
    """Score every counted token of `corpus` with `model` and summarise."""
    logp = np.asarray(model.token_logprobs(corpus), dtype=np.float64)
    # Neural models may read the test set as one stream (`context="stream"`); say so in the report.
    return report_from_logprobs(logp, corpus, context=getattr(model, "context", None) or "sentence")


def report_from_logprobs(logp: np.ndarray, corpus: Corpus, context: str = "sentence") -> EvaluationReport:
    """The report for per-token log-probabilities in `corpus.targets()` order."""
    if logp.shape != (corpus.n_targets,):
        raise ValueError(f"expected {corpus.n_targets} log-probabilities, got shape {logp.shape}")
    targets = corpus.targets()
    eos = corpus.eos_mask()
    unk = targets == corpus.vocab.unk_id
    zero = np.isneginf(logp)
    total = float(logp.sum())
    n_chars = None if corpus.n_chars is None else int(corpus.n_chars.sum()) + len(corpus)
    return EvaluationReport(
        total_logprob=total,
        n_tokens=int(len(logp)),
        n_sequences=len(corpus),
        n_oov=corpus.n_oov,
        n_unk=int(unk.sum()),
        n_zero_prob=int(zero.sum()),
        perplexity=_ppl(logp),
        perplexity_no_eos=_ppl(logp[~eos]),
        perplexity_no_unk=_ppl(logp[~unk]),
        bits_per_token=-total / len(logp) / LN2,
        bits_per_char=None if not n_chars else -total / n_chars / LN2,
        context=context,
    )


def perplexity(model, corpus: Corpus) -> float:
    """exp of the mean negative log-probability over the counted tokens of `corpus`."""
    return evaluate(model, corpus).perplexity


def _ppl(logp: np.ndarray) -> float:
    if len(logp) == 0:
        return float("nan")
    with np.errstate(over="ignore"):
        return float(np.exp(-logp.sum() / len(logp)))


# --- next-token ranking: top-k accuracy and mean reciprocal rank ------------------------------
def ranking_metrics(model, corpus: Corpus, ks: tuple[int, ...] = (1, 5),
                    max_batch_floats: int = 4_000_000) -> dict[str, float]:
    """Top-k accuracy and mean reciprocal rank of each counted token of `corpus` under `model`.

        rank(w) = 1 + #{v : ln p(v|h) > ln p(w|h)} + ties shared at random,  MRR = mean 1/rank(w)

    Ties are broken uniformly at random in expectation (a uniform model gets top-1 accuracy
    exactly 1/(V-1), not 1); `<s>` is never a candidate. The distributions come from
    `model.target_distributions`, holding at most about `max_batch_floats` scores in memory.
    """
    from .vocabulary import BOS_ID

    V = len(model.vocab_)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, V + 1))])  # H(n), n = 0..V
    hits = np.zeros(len(ks))
    rr, n = 0.0, 0
    for lp, target in model.target_distributions(corpus, max_batch_floats):
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
