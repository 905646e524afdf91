"""Summed log-probabilities to perplexity and bits: the one formula every report uses.

    perplexity = exp(-total / n)      bits per unit = -total / n / ln 2

`total` is a sum of natural-log probabilities and `n` the units it covers (counted tokens, or
characters). It lives at the bottom layer so the data layer (a synthetic corpus's oracle) and
the metrics layer (every model's report) compute it identically.
"""

from __future__ import annotations

import math

import numpy as np

LN2 = math.log(2.0)


def perplexity_from_total(total_logprob: float, n_tokens: int) -> float:
    """exp(-total_logprob / n_tokens): inf when the total is -inf (or too small), nan for no tokens."""
    if n_tokens == 0:
        return float("nan")
    with np.errstate(over="ignore"):
        return float(np.exp(-total_logprob / n_tokens))


def bits_per_unit(total_logprob: float, n_units: int | None) -> float | None:
    """-total_logprob / n_units in bits (None without units, e.g. a corpus that kept no text)."""
    if not n_units:
        return None
    return -total_logprob / n_units / LN2
