"""Texygen Test-BLEU / Self-BLEU: our one-pass counting against NLTK's sentence_bleu (the peer).

Samples are PTB-mini validation sentences, references PTB test sentences (real text, so both
scores are far from 0 and 1). Prints both scores (they must agree), both times, the ratio and the
machine's load.

    python benchmarks/harness.py --data-dir ../shared/data [--samples 100] [--refs 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from langmodels.metrics.bleu import texygen_self_bleu, texygen_test_bleu


def timed(fn, repeats: int):
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, statistics.median(times)


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(here.parent / "shared" / "data"))
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--refs", type=int, default=1000)
    p.add_argument("--n", type=int, default=4, help="BLEU order")
    args = p.parse_args()
    ptb = Path(args.data_dir) / "ptb"
    if not ptb.is_dir():
        raise SystemExit(f"{ptb} not found: pass --data-dir pointing at the benchmark corpora")
    rng = np.random.default_rng(0)
    valid = [line.split() for line in (ptb / "valid.txt").read_text().splitlines() if line.strip()]
    test = [line.split() for line in (ptb / "test.txt").read_text().splitlines() if line.strip()]
    samples = [valid[i] for i in rng.choice(len(valid), args.samples, replace=False)]
    refs = [test[i] for i in rng.choice(len(test), min(args.refs, len(test)), replace=False)]
    w, smooth = (1 / args.n,) * args.n, SmoothingFunction().method1
    load = os.getloadavg()[0]
    print(f"{args.samples} samples, {len(refs)} references, BLEU-{args.n}; load {load:.2f}"
          + (" (noisy)" if load > 1.5 else ""))

    ours, t_ours = timed(lambda: texygen_test_bleu(samples, refs, args.n), 3)
    peer, t_peer = timed(lambda: float(np.mean([sentence_bleu(refs, s, w, smoothing_function=smooth)
                                                 for s in samples])), 1)
    print(f"Test-BLEU  ours {ours:.6f} in {t_ours:.3f}s | nltk {peer:.6f} in {t_peer:.3f}s | "
          f"nltk/ours time {t_peer / t_ours:.0f}x | |diff| {abs(ours - peer):.1e}")

    ours, t_ours = timed(lambda: texygen_self_bleu(samples, args.n), 3)
    peer, t_peer = timed(lambda: float(np.mean([
        sentence_bleu(samples[:i] + samples[i + 1:], s, w, smoothing_function=smooth)
        for i, s in enumerate(samples)])), 1)
    print(f"Self-BLEU  ours {ours:.6f} in {t_ours:.3f}s | nltk {peer:.6f} in {t_peer:.3f}s | "
          f"nltk/ours time {t_peer / t_ours:.0f}x | |diff| {abs(ours - peer):.1e}")
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
