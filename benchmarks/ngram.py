"""N-gram models vs nltk.lm and KenLM: fit and scoring time, tokens/s, memory, perplexity.

    python benchmarks/ngram.py --data-dir ../shared/data
    python benchmarks/ngram.py --datasets shakespeare --orders 3 --nltk-tokens 0   # quick

For each mini protocol (PTB-mini, WT2-mini, Shakespeare-words) and order:
- ours: modified Kneser-Ney (KenLM's estimate), plus Laplace, Witten-Bell and Kneser-Ney beside
  NLTK's; fit on train, score the whole test set (`token_logprobs`); medians of `--repeats` runs.
  Memory: the tables' bytes and the peak traced allocation of `fit` (tracemalloc), beside the
  size of our ARPA file gzipped.
- nltk.lm (Laplace, WittenBellInterpolated, KneserNeyInterpolated): fit once on train; its
  scoring is so slow that a fixed sample (the first test sentences holding `--nltk-tokens`
  tokens, a tenth of that for Kneser-Ney) is timed and scaled to the whole test set. Its
  perplexity is on that sample, beside ours on the same sample.
- the `kenlm` module: loads the ARPA (lmplz's reference file for Shakespeare-words, ours
  elsewhere: the two are equal to 1e-6) and scores every test sentence with `Model.score`
  (median of `--repeats` passes, as ours).
- `lmplz`, only when it is on PATH: estimation wall time with `-S 1G --skip_symbols`.
Each timing carries the 1-minute load average; above 1.5 the run is flagged NOISY.
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

import langmodels as lm

DATASETS = {
    "ptb": ("PTB-mini", "ptb/valid.txt", "ptb/test.txt", None),
    "wt2": ("WT2-mini", "wikitext-2/valid.txt", "wikitext-2/test.txt", None),
    "shakespeare": ("Shakespeare-words", "shakespeare-words/train.txt", "shakespeare-words/test.txt",
                    "kenlm/shakespeare-words.o{order}.arpa.gz"),
}
NLTK_PEERS = [("laplace", "Laplace"), ("witten-bell", "WittenBellInterpolated"),
              ("kneser-ney", "KneserNeyInterpolated")]


def load_note() -> str:
    la = os.getloadavg()[0]
    return f"load {la:.2f}{' NOISY' if la > 1.5 else ''}"


def median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def fit_ours(name, order, train):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lm.make(name, order=order).fit(train)


def ours(name, order, train, test, repeats):
    fit_s, model = median_time(lambda: fit_ours(name, order, train), repeats)
    score_s, logp = median_time(lambda: model.token_logprobs(test), repeats)
    tracemalloc.start()
    fit_ours(name, order, train)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return model, {"fit_s": fit_s, "score_s": score_s, "tok_s": test.n_targets / score_s,
                   "ppl": math.exp(-logp.mean()), "peak_mb": peak / 2**20,
                   "model_mb": model.tables_.nbytes() / 2**20, "load": load_note()}


def sample(test, min_tokens):
    """Indices of the first test sentences, enough of them to hold `min_tokens` targets."""
    n = np.searchsorted(np.cumsum(test.lengths + 1), min_tokens) + 1
    return np.arange(min(int(n), len(test)))


def nltk_run(cls_name, order, train_words, test_words, idx, total_targets):
    import nltk.lm
    from nltk.lm.preprocessing import pad_both_ends, padded_everygram_pipeline

    t = time.perf_counter()
    model = getattr(nltk.lm, cls_name)(order)
    text, vocab = padded_everygram_pipeline(order, train_words)
    model.fit(text, vocab)
    fit_s = time.perf_counter() - t
    n, nll = 0, 0.0
    t = time.perf_counter()
    for i in idx:
        padded = list(pad_both_ends(test_words[i], n=order))
        # Score every real word and the first </s>; <s> padding is context only, as ours.
        for j in range(order - 1, len(padded) - order + 2):
            p = model.score(padded[j], padded[j - order + 1:j])
            nll += -math.log(p) if p > 0 else math.inf
            n += 1
    sample_s = time.perf_counter() - t
    return {"fit_s": fit_s, "sample_tokens": n, "sample_s": sample_s,
            "score_s": sample_s * total_targets / n, "tok_s": n / sample_s,
            "ppl_sample": math.exp(nll / n), "load": load_note()}


def kenlm_run(arpa, test_words, repeats):
    import kenlm

    t = time.perf_counter()
    model = kenlm.Model(str(arpa))
    load_s = time.perf_counter() - t
    sents = [" ".join(s) for s in test_words]
    n = sum(len(s) + 1 for s in test_words)
    score_s, total = median_time(lambda: sum(model.score(s, bos=True, eos=True) for s in sents), repeats)
    return {"load_s": load_s, "score_s": score_s, "tok_s": n / score_s,
            "ppl": 10 ** (-total / n), "load": load_note()}


def lmplz_run(train_path, order, out):
    exe = shutil.which("lmplz")
    if exe is None:
        return None
    # lmplz refuses a literal <unk> in its input (PTB has them); --skip_symbols reads it as a space,
    # so its model differs slightly from ours there: its time is an estimation-speed reference.
    t = time.perf_counter()
    with open(train_path) as f, open(out, "w") as g:
        proc = subprocess.run([exe, "-o", str(order), "-S", "1G", "--skip_symbols"], stdin=f, stdout=g,
                              stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        print(f"lmplz failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return {"fit_s": time.perf_counter() - t, "load": load_note()}


def run_dataset(key, data_dir, orders, args, tmp):
    title, train_rel, test_rel, ref = DATASETS[key]
    train = lm.Corpus.from_file(data_dir / train_rel)
    test = lm.Corpus.from_file(data_dir / test_rel, vocab=train.vocab)
    train_words = [l.split() for l in (data_dir / train_rel).read_text().splitlines() if l.strip()]
    test_words = [train.vocab.decode(s) for s in test.sequences()]
    print(f"\n## {title}: train {train.n_tokens} tokens, test {test.n_targets} targets "
          f"({test.n_oov} OOV), V = {len(train.vocab)}")
    for order in orders:
        print(f"\n### order {order}")
        print("| model | fit s | score s | tokens/s | ppl | peak fit MB | model MB | load |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        mkn, r = ours("modified-kneser-ney", order, train, test, args.repeats)
        arpa = Path(tmp) / f"{key}.o{order}.arpa"
        mkn.save_arpa(arpa)
        gz_mb = len(gzip.compress(arpa.read_bytes(), 6)) / 2**20
        print(f"| ours modified-kneser-ney | {r['fit_s']:.3f} | {r['score_s']:.3f} | {r['tok_s']:,.0f} | "
              f"{r['ppl']:.4f} | {r['peak_mb']:.1f} | {r['model_mb']:.1f} (ARPA.gz {gz_mb:.1f}) | "
              f"{r['load']} |")
        ref_path = data_dir / ref.format(order=order) if ref else arpa
        k = kenlm_run(ref_path if ref_path.exists() else arpa, test_words, args.repeats)
        src = "lmplz's ARPA" if ref and ref_path.exists() else "our ARPA"
        print(f"| kenlm module ({src}) | load {k['load_s']:.3f} | {k['score_s']:.3f} | {k['tok_s']:,.0f} | "
              f"{k['ppl']:.4f} | | | {k['load']} |")
        lp = lmplz_run(data_dir / train_rel, order, Path(tmp) / "lmplz.arpa")
        if lp:
            print(f"| lmplz -S 1G | {lp['fit_s']:.3f} | | | | | | {lp['load']} |")
        ratios = [f"our scoring {r['tok_s'] / k['tok_s']:.2f}x kenlm's tokens/s",
                  f"model {r['model_mb'] / gz_mb:.2f}x our ARPA.gz"]
        if ref and ref_path.exists():
            ratios.append(f"model {r['model_mb'] / (ref_path.stat().st_size / 2**20):.2f}x lmplz's ARPA.gz "
                          f"({ref_path.stat().st_size / 2**20:.1f} MB)")
        if lp:
            ratios.append(f"our fit {r['fit_s'] / lp['fit_s']:.2f}x lmplz's time")
        rows = []
        for name, cls in NLTK_PEERS:
            if args.nltk_tokens <= 0:
                continue
            model, o = ours(name, order, train, test, args.repeats)
            budget = args.nltk_tokens // (10 if cls.startswith("Kneser") else 1)
            idx = sample(test, budget)
            n = nltk_run(cls, order, train_words, test_words, idx, test.n_targets)
            mine = model.token_logprobs(test.subset(idx))
            rows.append((name, cls, o, n, math.exp(-mine.mean())))
        for name, cls, o, n, ppl_sample in rows:
            print(f"| ours {name} | {o['fit_s']:.3f} | {o['score_s']:.3f} | {o['tok_s']:,.0f} | "
                  f"{o['ppl']:.4f} (sample {ppl_sample:.4f}) | {o['peak_mb']:.1f} | {o['model_mb']:.1f} | "
                  f"{o['load']} |")
            print(f"| nltk {cls} | {n['fit_s']:.2f} | {n['score_s']:.1f} (scaled from {n['sample_tokens']} "
                  f"tokens in {n['sample_s']:.2f} s) | {n['tok_s']:,.0f} | sample {n['ppl_sample']:.4f} "
                  f"| | | {n['load']} |")
            total_ours, total_nltk = o["fit_s"] + o["score_s"], n["fit_s"] + n["score_s"]
            ratios.append(f"{name}: fit+score {total_nltk / total_ours:,.0f}x faster than nltk")
        print("\nRatios: " + "; ".join(ratios))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path,
                    default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--datasets", default="ptb,wt2,shakespeare")
    ap.add_argument("--orders", default="3,5")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nltk-tokens", type=int, default=1000,
                    help="test tokens NLTK scores per model (a tenth for Kneser-Ney); 0 skips NLTK")
    args = ap.parse_args(argv)
    if not args.data_dir.exists():
        raise SystemExit(f"{args.data_dir}: no benchmark data (pass --data-dir)")
    orders = [int(x) for x in args.orders.split(",")]
    print(f"# benchmarks/ngram.py — {os.cpu_count()} CPUs, {load_note()}")
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.datasets.split(","):
            run_dataset(key, args.data_dir, orders, args, tmp)


if __name__ == "__main__":
    main()
