"""ROUGE-1, ROUGE-2 and ROUGE-L of continuations against references, via Google's `rouge-score`.

    ROUGE-n  P = |n-grams(hyp) ∩ n-grams(ref)| / |n-grams(hyp)|,  R = the same / |n-grams(ref)|
    ROUGE-L  P = LCS(hyp, ref) / |hyp|,  R = LCS(hyp, ref) / |ref|;   F = 2PR / (P + R)

Scores are per pair, then averaged over pairs (the macro average the package's aggregator
reports as "mid"), and given on BLEU's 0-100 scale. The package's own tokenizer is used
(lower-cased, alphanumeric runs; so `<unk>` counts as the word "unk"), without stemming.
Needs the optional package `rouge-score` (pip install rouge-score).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..corpus import Corpus

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, dict[str, float]]:
    """{"rouge1": {"precision", "recall", "f1"}, "rouge2": {...}, "rougeL": {...}}, each 0-100."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise ImportError("ROUGE needs the optional package rouge-score: pip install rouge-score") from None
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references are lists of texts, not single strings")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references; "
                         "they must pair up one to one")
    if not hypotheses:
        raise ValueError("no hypothesis to score")
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)
    per_pair = [scorer.score(ref, hyp) for hyp, ref in zip(hypotheses, references)]
    out = {}
    for name in ROUGE_TYPES:
        s = np.array([[p[name].precision, p[name].recall, p[name].fmeasure] for p in per_pair])
        out[name] = dict(zip(("precision", "recall", "f1"), (100 * s.mean(axis=0)).tolist()))
    return out


def continuation_rouge(model, corpus: Corpus, *, k: int = 5, max_prompts: int = 1000, seed: int = 0,
                       extra_tokens: int = 10) -> dict[str, dict[str, float]]:
    """ROUGE of greedy continuations on the continuation-BLEU protocol (same prompts and references)."""
    from ..generation import generate
    from ..tokenize import get_detokenizer
    from .bleu import continuation_prompts

    pairs = continuation_prompts(corpus, k, max_prompts, seed)
    if not pairs:
        raise ValueError(f"continuation ROUGE needs held-out sequences of at least {k + 4} tokens")
    detok = get_detokenizer(corpus.tokenizer)
    gens = generate(model, [p for p, _ in pairs],
                    max_new_tokens=[len(r) + extra_tokens for _, r in pairs], tokenizer=corpus.tokenizer)
    hyps = [g.text for g in gens]
    refs = [detok(corpus.vocab.decode(r)) for _, r in pairs]
    return rouge_scores(hyps, refs)
