"""Scores computed in one place for every model, from the `LanguageModel` contract only.

- `perplexity`: `evaluate`, `perplexity`, `report_from_logprobs` (summed log-probabilities to a report)
- `ranking`: top-k accuracy and mean reciprocal rank of the next token
- `bleu`: BLEU of continuations and of samples (through sacrebleu), Self-BLEU, distinct-n
- `rouge`: ROUGE-1/2/L of continuations (optional `rouge-score` package)
"""

from .perplexity import LN2, EvaluationReport, evaluate, perplexity, report_from_logprobs
from .ranking import ranking_metrics

__all__ = ["EvaluationReport", "evaluate", "perplexity", "report_from_logprobs", "ranking_metrics", "LN2"]
