"""Perplexity and friends, computed in one place for every model from `token_logprobs`.

    perplexity = exp( -(1/N) * sum_i ln p(w_i | h_i) )   over the N counted tokens (</s> included)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .._maths import LN2, bits_per_unit, perplexity_from_total
from ..corpus import Corpus

__all__ = ["LN2", "EvaluationReport", "evaluate", "perplexity", "report_from_logprobs"]


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
    # Some models read the test set as one stream; the report says how the numbers were made.
    return report_from_logprobs(logp, corpus, context=model.scoring_context)


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
        bits_per_token=bits_per_unit(total, len(logp)),
        bits_per_char=bits_per_unit(total, n_chars),
        context=context,
    )


def perplexity(model, corpus: Corpus) -> float:
    """exp of the mean negative log-probability over the counted tokens of `corpus`."""
    return evaluate(model, corpus).perplexity


def _ppl(logp: np.ndarray) -> float:
    return perplexity_from_total(float(logp.sum()), len(logp))
