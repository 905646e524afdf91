"""BLEU for language models: continuation BLEU (sacrebleu), Test-BLEU and Self-BLEU (Texygen), distinct-n.

Continuation BLEU (our protocol, the same for every model):

    held-out sequences with >= k + 4 words, a seeded sample of up to 1,000;
    prompt = <s> + first k words; reference = the rest of the sequence;
    hypothesis = the model's continuation, up to len(reference) + 10 tokens, greedy and
    sampled (temperature 1, 5 seeds); both detokenised alike and scored as one corpus:
    sacrebleu BLEU(tokenize="13a").corpus_score(hyps, [refs]).

Test-BLEU / Self-BLEU follow Texygen (Zhu et al. 2018): each unconditional sample is scored
with NLTK's `sentence_bleu` (uniform weights over 1..n-grams, smoothing method 1) against all
test sequences (Test-BLEU, quality) or against the other samples (Self-BLEU, lower = more
diverse), and the scores are averaged. The counting is done once per reference set, so the
result equals NLTK's to rounding at a fraction of its cost.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..corpus import Corpus
from ..generation import generate
from ..tokenize import get_detokenizer
from ..vocabulary import EOS_ID

EPSILON = 0.1  # NLTK SmoothingFunction().method1


# --- continuation BLEU ------------------------------------------------------------------------
def continuation_prompts(corpus: Corpus, k: int = 5, max_prompts: int = 1000, seed: int = 0):
    """The protocol's seeded sample: (prompt ids, reference ids) for sequences of >= k + 4 tokens."""
    eligible = np.nonzero(corpus.lengths >= k + 4)[0]
    if len(eligible) > max_prompts:
        eligible = np.sort(np.random.default_rng(seed).choice(eligible, max_prompts, replace=False))
    return [(corpus[i][:k], corpus[i][k:]) for i in eligible]


def continuation_bleu(model, corpus: Corpus, *, k: int = 5, max_prompts: int = 1000, seed: int = 0,
                      sample_seeds: Sequence[int] = (0, 1, 2, 3, 4), extra_tokens: int = 10,
                      batch_size: int = 256, progress: bool = False) -> tuple[dict, list[dict]]:
    """Score `model`'s continuations of held-out prompts; returns (scores, generations).

    scores = {"greedy": {...}, "sample": {"bleu_mean", "bleu_sd", "per_seed": [...]}, "protocol": str};
    each BLEU entry holds score, n-gram precisions, brevity penalty, lengths and sacrebleu's
    signature. The sd is over seeds (ddof = 1). Empty continuations stay in and score 0.
    """
    pairs = continuation_prompts(corpus, k, max_prompts, seed)
    if not pairs:
        raise ValueError(f"continuation BLEU needs held-out sequences of at least {k + 4} tokens; "
                         f"the longest has {int(corpus.lengths.max())}")
    detok = get_detokenizer(corpus.tokenizer)
    vocab = corpus.vocab
    prompts = [p for p, _ in pairs]
    refs = [detok(vocab.decode(r)) for _, r in pairs]
    prompt_texts = [detok(vocab.decode(p)) for p in prompts]
    limits = [len(r) + extra_tokens for _, r in pairs]
    runs = [("greedy", dict(do_sample=False))]
    runs += [(f"sample-seed{s}", dict(do_sample=True, temperature=1.0, seed=int(s))) for s in sample_seeds]
    scores: dict = {}
    generations: list[dict] = []
    for mode, opts in runs:
        gens = generate(model, prompts, max_new_tokens=limits, tokenizer=corpus.tokenizer,
                        batch_size=batch_size, progress=progress, **opts)
        hyps = [g.text for g in gens]
        scores[mode] = sacrebleu_corpus(hyps, refs)
        generations += [{"mode": mode, "prompt": p, "hypothesis": h, "reference": r}
                        for p, h, r in zip(prompt_texts, hyps, refs)]
    per_seed = [scores.pop(f"sample-seed{s}") for s in sample_seeds]
    out = {"greedy": scores["greedy"], "protocol": protocol_signature(k, len(pairs), max_prompts, seed,
                                                                         sample_seeds, extra_tokens,
                                                                         corpus.tokenizer)}
    if per_seed:
        vals = np.array([s["score"] for s in per_seed])
        out["sample"] = {"bleu_mean": float(vals.mean()),
                         "bleu_sd": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                         "per_seed": per_seed, "signature": per_seed[0]["signature"]}
    return out, generations


def sacrebleu_corpus(hyps: list[str], refs: list[str]) -> dict:
    """sacrebleu's corpus BLEU with one reference stream and tokenize 13a, as a JSON-able dict."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(tokenize="13a")
    res = bleu.corpus_score(hyps, [refs])
    return {"score": float(res.score), "precisions": [float(p) for p in res.precisions],
            "bp": float(res.bp), "sys_len": int(res.sys_len), "ref_len": int(res.ref_len),
            "signature": str(bleu.get_signature())}


def protocol_signature(k, n_prompts, max_prompts, seed, sample_seeds, extra_tokens, tokenizer) -> str:
    seeds = ",".join(str(s) for s in sample_seeds) or "none"
    return (f"contbleu|k:{k}|n:{n_prompts}/{max_prompts}|sample-seed:{seed}|decode:greedy+sample(t=1)"
            f"|seeds:{seeds}|max:ref+{extra_tokens}|detok:{tokenizer}")


# --- unconditional samples --------------------------------------------------------------------
def sample_sequences(model, n: int, *, seed: int = 0, max_new_tokens: int = 100, temperature: float = 1.0,
                     batch_size: int = 256) -> list[list[str]]:
    """`n` samples from `<s>` (ancestral sampling), as token strings without `</s>`."""
    gens = generate(model, [[]], max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature,
                    num_return_sequences=n, seed=seed, batch_size=batch_size)
    return [model.vocab_.decode(t for t in g.tokens if t != EOS_ID) for g in gens]


def distinct_n(samples: Sequence[Sequence[str]], n: int) -> float:
    """Distinct n-grams / all n-grams over the samples (Li et al. 2016); 0 when there are none."""
    grams = [g for s in samples for g in _ngrams(s, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def texygen_test_bleu(samples: Sequence[Sequence[str]], references: Sequence[Sequence[str]],
                      n: int = 4, _stats: _RefStats | None = None) -> float:
    """Texygen's Test-BLEU-n: mean sentence BLEU of each sample against all references."""
    ref = _stats or _RefStats(references, n)
    return float(np.mean([ref.sentence_bleu(s, n) for s in samples])) if samples else 0.0


def texygen_self_bleu(samples: Sequence[Sequence[str]], n: int = 4, _stats: _RefStats | None = None) -> float:
    """Texygen's Self-BLEU-n: mean sentence BLEU of each sample against the other samples."""
    if len(samples) < 2:
        return 0.0
    ref = _stats or _RefStats(samples, n)
    return float(np.mean([ref.sentence_bleu(s, n, leave_out=i) for i, s in enumerate(samples)]))


def _ngrams(tokens: Sequence[str], n: int):
    return list(zip(*(tokens[i:] for i in range(n)))) if len(tokens) >= n else []


class _RefStats:
    """Per n-gram the two largest counts over the references (and who holds the largest), so
    that the max over all references but one is a look-up; plus the reference lengths."""

    def __init__(self, references, n: int):
        self.n = n
        self.top: list[dict] = []
        for m in range(1, n + 1):
            top: dict = {}
            for i, r in enumerate(references):
                for g, c in Counter(_ngrams(r, m)).items():
                    c1, who, c2 = top.get(g, (0, -1, 0))
                    top[g] = (c, i, c1) if c > c1 else (c1, who, max(c2, c))
            self.top.append(top)
        self.lengths = Counter(len(r) for r in references)
        self.owner_len = [len(r) for r in references]

    def _max_count(self, m: int, g, leave_out: int) -> int:
        c1, who, c2 = self.top[m - 1].get(g, (0, -1, 0))
        return c2 if who == leave_out else c1

    def _closest_len(self, hyp_len: int, leave_out: int) -> int:
        lengths = self.lengths.copy()
        if leave_out >= 0:
            lengths[self.owner_len[leave_out]] -= 1
        return min((L for L, c in lengths.items() if c > 0), key=lambda L: (abs(L - hyp_len), L))

    def sentence_bleu(self, hyp: Sequence[str], n: int, leave_out: int = -1) -> float:
        """NLTK sentence_bleu(refs, hyp, weights=(1/n,)*n, smoothing_function=method1)."""
        log_p = 0.0
        for m in range(1, n + 1):
            counts = Counter(_ngrams(hyp, m))
            num = sum(min(c, self._max_count(m, g, leave_out)) for g, c in counts.items())
            den = max(1, sum(counts.values()))
            if m == 1 and num == 0:
                return 0.0
            log_p += math.log((num if num else EPSILON) / den) / n
        r, h = self._closest_len(len(hyp), leave_out), len(hyp)
        bp = 1.0 if h > r else math.exp(1 - r / h)
        return bp * math.exp(log_p)


def unconditional_metrics(samples, references, orders: Sequence[int] = (2, 3, 4, 5)) -> dict:
    """Test-BLEU-n, Self-BLEU-n (Texygen definitions) and distinct-1/2 of a set of samples."""
    out = {"definition": "Texygen: nltk sentence_bleu, uniform weights, smoothing method1; "
                         "Test-BLEU vs all test sequences, Self-BLEU vs the other samples",
           "n_samples": len(samples)}
    test_stats, self_stats = _RefStats(references, max(orders)), _RefStats(samples, max(orders))
    for n in orders:
        out[f"test_bleu{n}"] = texygen_test_bleu(samples, references, n, test_stats)
        out[f"self_bleu{n}"] = texygen_self_bleu(samples, n, self_stats)
    for n in (1, 2):
        out[f"distinct{n}"] = distinct_n(samples, n)
    return out
