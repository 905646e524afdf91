"""Selection on validation data, budgets and learning curves for the bench harness.

    settings(params, search)   the settings a search block tries: a grid, or a seeded random sample of it
    fit_run(...)               fit one setting within the spec's budget, timing each epoch / EM iteration;
                               returns its validation perplexity, cost and learning curve
    nested_subsets(...)        nested training subsets for `train_sizes`

The budget (seconds and/or training tokens per run, every setting tried counting as one run) is
applied alike to every family, as far as each can stop:

    neural (fit option on_epoch_end)  checked at each epoch's end: an epoch that would take the run past
                                      the budget (judged by the last epoch's cost) is not started; the
                                      first epoch always runs; the best validated weights are kept
    HMM                               tokens: at most tokens // training tokens EM iterations (>= 1);
                                      seconds cannot stop EM midway and are only recorded
    one-pass families (n-grams, ...)  tokens: fitted on the first sequences holding at most that many
                                      tokens; seconds: recorded only (a pass cannot be cut short)

Tokens seen count each epoch (or EM iteration) as one pass over the training tokens.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

from ..metrics import evaluate


def settings(params: dict, search: dict | None) -> list[dict]:
    """Every parameter setting a search ({grid: {param: values}} or {random: {param: values},
    n_samples, seed}) tries, each `params` updated with one combination.

    A grid tries every combination (the first listed parameter varies slowest); a random search
    draws `n_samples` distinct combinations of the grid with numpy's default_rng(`seed`) (all of
    them when the grid holds no more).
    """
    if not search:
        return [dict(params)]
    values = search.get("grid") or search["random"]
    names = list(values)
    grid = list(itertools.product(*(values[n] for n in names)))
    if "random" in search and search["n_samples"] < len(grid):
        pick = np.random.default_rng(search["seed"]).choice(len(grid), search["n_samples"], replace=False)
        grid = [grid[i] for i in pick]
    return [{**params, **dict(zip(names, combo))} for combo in grid]


def fit_run(model, train, valid, budget: dict | None, memory=None) -> tuple[object, dict]:
    """Fit `model` on `train` (early stopping on `valid`) within `budget`; returns (model, run), run
    holding fit_seconds, tokens_seen, valid_perplexity (None without valid), the learning curve
    `points` ({seconds, tokens, valid_perplexity} per epoch / iteration, or one point) and `budget`
    (what was applied and whether it stopped the run)."""
    budget = budget or {}
    options = {"memory": memory} if memory and "memory" in model.fit_options else {}
    applied = {**budget, "stopped": False, "enforced": []}
    n_tokens = train.n_tokens
    points: list[dict] = []
    t0 = time.perf_counter()
    if "on_epoch_end" in model.fit_options:
        last = [t0]

        def on_epoch_end(record):
            now = time.perf_counter()
            seconds, tokens = now - t0, record["epoch"] * n_tokens
            valid_loss = record.get("valid_loss")
            points.append({"seconds": seconds, "tokens": tokens, "valid_perplexity":
                           None if valid_loss is None else math.exp(min(valid_loss, 700))})
            epoch_seconds, last[0] = now - last[0], now
            over = (("seconds" in budget and seconds + epoch_seconds > budget["seconds"])
                    or ("tokens" in budget and tokens + n_tokens > budget["tokens"]))
            applied["stopped"] = applied["stopped"] or over
            return True if over else None

        applied["enforced"] = list(budget)
        model.fit(train, valid, on_epoch_end=on_epoch_end, **options)
        fit_seconds = time.perf_counter() - t0
        tokens_seen = len(points) * n_tokens
    else:
        if "tokens" in budget and getattr(model, "registry_name", None) == "hmm":
            cap = max(1, int(budget["tokens"] // n_tokens))
            if cap < model.n_iter:
                model.set_params(n_iter=cap)
                applied["stopped"] = True
        elif "tokens" in budget and n_tokens > budget["tokens"]:
            train = first_tokens(train, int(budget["tokens"]))
            n_tokens, applied["stopped"] = train.n_tokens, True
        applied["enforced"] = [k for k in budget if k == "tokens"]
        model.fit(train, valid, **options)
        fit_seconds = time.perf_counter() - t0
        points = _iteration_points(model, fit_seconds, n_tokens)
        tokens_seen = points[-1]["tokens"] if points else n_tokens
    valid_ppl = None
    if valid is not None:
        kept = [p["valid_perplexity"] for p in points if p["valid_perplexity"] is not None]
        # The loop keeps the best validated epoch, so its score is the lowest of the curve.
        epochs = "on_epoch_end" in model.fit_options
        valid_ppl = min(kept) if kept and epochs else evaluate(model, valid).perplexity
    if not points:   # a one-pass family: its curve is one point
        points = [{"seconds": fit_seconds, "tokens": tokens_seen, "valid_perplexity": valid_ppl}]
    return model, {"fit_seconds": fit_seconds, "tokens_seen": int(tokens_seen), "valid_perplexity": valid_ppl,
                   "points": points, "budget": applied if budget else None}


def _iteration_points(model, fit_seconds: float, n_tokens: int) -> list[dict]:
    """An EM family's curve: one point per iteration, its seconds the fit's time spread evenly
    (EM iterations cost alike); a one-pass family: no point here (the caller adds one)."""
    curve = model.learning_curve()
    if not curve:
        return []
    n = len(curve)
    return [{"seconds": fit_seconds * (i + 1) / n, "tokens": (i + 1) * n_tokens,
             "valid_perplexity": None if c.get("valid_nll") is None else math.exp(min(c["valid_nll"], 700))}
            for i, c in enumerate(curve)]


def first_tokens(corpus, n: int):
    """The first sequences of `corpus` holding at most `n` tokens (at least one sequence)."""
    k = max(1, int(np.searchsorted(np.cumsum(corpus.lengths), n, side="right")))
    return corpus.subset(np.arange(min(k, len(corpus))))


def nested_subsets(corpus, sizes: list[int], seed: int) -> list[tuple[int, object]]:
    """(size, subset) for each size: the shortest prefix of one seeded permutation of the training
    sequences holding at least `size` tokens (all of them when the corpus is smaller), in corpus
    order. Prefixes of one permutation, so each subset contains every smaller one."""
    order = np.random.default_rng(seed).permutation(len(corpus))
    cum = np.cumsum(corpus.lengths[order])
    out = []
    for size in sizes:
        k = min(len(corpus), int(np.searchsorted(cum, size, side="left")) + 1)
        out.append((size, corpus if k == len(corpus) else corpus.subset(np.sort(order[:k]))))
    return out
