"""Masked against causal: what the right-hand context buys, at one size and one training budget.

For each corpus (PTB-mini: train ptb/valid.txt, test ptb/test.txt; WT2-mini: train
wikitext-2/valid.txt, test wikitext-2/test.txt) a `bert` and a causal `transformer` with the same
width, depth, heads, window, optimizer, schedule, batch size and epochs are fitted on the training
split; then on the test split:

    bert         pseudo-perplexity exp(-mean PLL) and top-1 / top-5 with each token masked alone
                 (both sides visible), and the time to score every PLL target on --threads threads
    transformer  perplexity and next-word top-1 / top-5 (left side only)

Pseudo-perplexity is not a perplexity (the PLLs of a sentence do not multiply into its
probability): the two columns answer different questions and are printed side by side only to
show the scale of each, not to rank the models.

    python benchmarks/masked.py --data-dir ../shared/data [--corpora ptb,wt2] [--epochs 5]
                                [--models bert,transformer]

Load averages are printed beside each timing; a run with load above the core count is noisy.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import langmodels as lm
from langmodels.metrics import ranking_metrics

CORPORA = {"ptb": ("ptb/valid.txt", "ptb/test.txt"), "wt2": ("wikitext-2/valid.txt", "wikitext-2/test.txt")}


def load_avg() -> str:
    load = os.getloadavg()[0]
    flag = " (noisy)" if load > os.cpu_count() else ""
    return f"load {load:.2f}{flag}"


def run(name: str, data_dir: Path, args) -> None:
    train_file, test_file = CORPORA[name]
    train = lm.Corpus.from_file(data_dir / train_file)
    test = lm.Corpus.from_file(data_dir / test_file, vocab=train.vocab)
    print(f"{name}: train {train.n_targets} targets, test {test.n_targets} targets, vocab {len(train.vocab)}",
          flush=True)
    shared = {"embed_dim": args.dim, "n_layers": args.layers, "n_heads": args.heads, "block_size": args.block,
              "epochs": args.epochs, "batch_size": 32, "lr": args.lr, "weight_decay": 0.01, "warmup": 100,
              "dropout": 0.1, "positions": "learned", "device": "cpu", "threads": args.threads,
              "progress": False}
    for label in args.models.split(","):
        model = lm.make(label, **shared)
        before, t0 = load_avg(), time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - t0
        print(f"  {label}: fit {fit_s:.0f}s ({before} -> {load_avg()}), {model.n_parameters()} parameters, "
              f"final train loss {model.history_[-1]['train_loss']:.3f}", flush=True)
        before, t0 = load_avg(), time.perf_counter()
        if label == "bert":
            score = model.pseudo_perplexity(test)
            what = "pseudo-perplexity"
        else:
            score = lm.perplexity(model, test)
            what = "perplexity"
        score_s = time.perf_counter() - t0
        print(f"  {label}: {what} {score:.2f}, scoring {test.n_targets} targets took {score_s:.1f}s on "
              f"{args.threads} thread(s) ({before} -> {load_avg()})", flush=True)
        t0 = time.perf_counter()
        with_ranks = ranking_metrics(model, test)
        print(f"  {label}: top-1 {100 * with_ranks['top1_accuracy']:.2f}%, top-5 "
              f"{100 * with_ranks['top5_accuracy']:.2f}%, MRR {with_ranks['mrr']:.4f} "
              f"({'both sides, token masked alone' if label == 'bert' else 'next word, left side'}; "
              f"{time.perf_counter() - t0:.0f}s, {load_avg()})", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--corpora", default="ptb,wt2")
    p.add_argument("--models", default="bert,transformer", help="which of bert,transformer to run")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--block", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; {vars(args)}", flush=True)
    for name in args.corpora.split(","):
        run(name, args.data_dir, args)


if __name__ == "__main__":
    main()
