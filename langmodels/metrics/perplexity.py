"""Perplexity and friends, computed in one place for every model from `token_logprobs`.

    perplexity = exp( -(1/N) * sum_i ln p(w_i | h_i) )   over the N counted tokens (</s> included)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..corpus import Corpus

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
