"""Which default learning rate (and dropout) should the neural estimators have? (issue #16, item 5)

For each corpus, model and learning rate, fit the model at its default sizes with every other
parameter at its default except `epochs` (a short run, as a new user's first try) and
`threads=1`, with early stopping on a held-out validation split, and print the validation and
test perplexity, the epochs trained, the seconds taken and the machine's load average.

The mini protocols have train and test only: the last 10% of the training lines are held out as
validation (the vocabulary is still built on the whole training split). `--max-train-tokens` caps
the rest of the training split (first lines kept) so that every corpus costs about the same.

    python benchmarks/neural_defaults.py --data-dir ../shared/data \
        [--corpora ptb-mini,shakespeare-words] [--models lstm,transformer] [--lrs 1e-3,3e-3,1e-2] \
        [--dropouts default] [--epochs 3] [--max-train-tokens 60000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import langmodels as lm


def splits(name: str, data_dir: str, max_train_tokens: int | None):
    """(train, valid, test) corpora of a mini protocol, valid = the last 10% of its train lines."""
    ds = lm.datasets.load(name, data_dir=data_dir)
    train, test = ds.train, ds.test
    n_valid = len(train) // 10
    fit_idx = np.arange(len(train) - n_valid)
    if max_train_tokens is not None:
        keep = np.searchsorted(np.cumsum(train.lengths[fit_idx]), max_train_tokens) + 1
        fit_idx = fit_idx[:keep]
    valid_idx = np.arange(len(train) - n_valid, len(train))
    return train.subset(fit_idx), train.subset(valid_idx), test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--corpora", default="ptb-mini,shakespeare-words")
    ap.add_argument("--models", default="lstm,transformer")
    ap.add_argument("--lrs", default="1e-3,3e-3,1e-2")
    ap.add_argument("--dropouts", default="default", help="comma-separated; 'default' keeps the model's")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-train-tokens", type=int, default=60000)
    args = ap.parse_args()

    print("| corpus | model | lr | dropout | valid ppl | test ppl | epochs | seconds | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for name in args.corpora.split(","):
        train, valid, test = splits(name, args.data_dir, args.max_train_tokens)
        print(f"<!-- {name}: train {train.n_tokens} tokens, valid {valid.n_tokens}, test {test.n_tokens}, "
              f"V = {len(train.vocab)} -->", flush=True)
        for model in args.models.split(","):
            for dropout in args.dropouts.split(","):
                extra = {} if dropout == "default" else {"dropout": float(dropout)}
                for lr in args.lrs.split(","):
                    m = lm.make(model, lr=float(lr), epochs=args.epochs, threads=1, device="cpu",
                                progress=False, **extra)
                    t0 = time.perf_counter()
                    m.fit(train, valid)
                    seconds = time.perf_counter() - t0
                    best = min(r["valid_loss"] for r in m.history_)
                    test_ppl = lm.perplexity(m, test)
                    print(f"| {name} | {model} | {lr} | {m.dropout} | {np.exp(best):.1f} | {test_ppl:.1f} | "
                          f"{len(m.history_)} | {seconds:.0f} | {os.getloadavg()[0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
