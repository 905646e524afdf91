"""Small-data recipes for the neural families (issue #13 item 4): which defaults for weight tying,
dropout, embedding dropout, weight decay and the output layer (full or adaptive softmax)?

Each named configuration is fitted on the harness's split of a mini protocol (a seeded 10% of the
training lines carved as validation, `langmodels.bench.validation.carve`, the vocabulary rebuilt on
the rest) with early stopping on that validation split, in one process, under the same seed and
epoch budget, with `threads=1`. It prints the best validation perplexity, the test perplexity,
the epochs run, the training and scoring seconds (wall and CPU), the training and scoring tokens/s
and the 1-minute load average beside each row.

    python benchmarks/neural_recipes.py --data-dir ../shared/data --corpus ptb-mini --model lstm \
        --epochs 6 --configs '{"default": {}, "tied": {"tie_weights": true}}' [--test-tokens 25000]

`--stop-after N` ends each fit after its N-th epoch (the schedule still spans `--epochs`: the first
N epochs of the full recipe); `--curve` adds each configuration's validation perplexity by epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import langmodels as lm
from langmodels.bench.validation import carve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--corpus", default="ptb-mini")
    ap.add_argument("--model", default="lstm")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--common", default="{}", help="JSON parameters every configuration shares")
    ap.add_argument("--configs", required=True, help="JSON {name: {parameter: value}}")
    ap.add_argument("--test-tokens", type=int, default=None,
                    help="score only the first test lines holding this many tokens (default: all)")
    ap.add_argument("--stop-after", type=int, default=None,
                    help="end each fit after this many epochs (the schedule still spans --epochs)")
    ap.add_argument("--curve", action="store_true", help="print the validation perplexity by epoch")
    args = ap.parse_args()
    common = json.loads(args.common)

    ds = lm.datasets.load(args.corpus, data_dir=args.data_dir)
    train, valid, test = carve(ds.train, ds.test, 0.1, 0)
    if args.test_tokens is not None:
        test = test.subset(np.arange(np.searchsorted(np.cumsum(test.lengths), args.test_tokens) + 1))
    print(f"<!-- {args.corpus}: train {train.n_tokens} tokens, valid {valid.n_tokens}, test {test.n_tokens}, "
          f"V = {len(train.vocab)}; {args.model}, epochs {args.epochs}, seed {args.seed}, "
          f"common {common} -->")
    print("| config | valid ppl | test ppl | epochs | fit s | fit CPU s | train tok/s | score tok/s | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)

    def stop_after(record):
        return args.stop_after is not None and record["epoch"] >= args.stop_after

    for name, params in json.loads(args.configs).items():
        m = lm.make(args.model, **{"epochs": args.epochs, "seed": args.seed, "threads": 1, "device": "cpu",
                                   "progress": False, **common, **params})
        t0, c0 = time.perf_counter(), time.process_time()
        m.fit(train, valid, on_epoch_end=stop_after)
        fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        best = min(r["valid_loss"] for r in m.history_)
        train_tps = np.median([r["train_tokens_per_s"] for r in m.history_])
        t0 = time.perf_counter()
        test_ppl = lm.perplexity(m, test)
        score_s = time.perf_counter() - t0
        print(f"| {name} | {np.exp(best):.1f} | {test_ppl:.1f} | {len(m.history_)} | {fit_s:.0f} | "
              f"{fit_cpu:.0f} | {train_tps:.0f} | {test.n_tokens / score_s:.0f} | {os.getloadavg()[0]:.2f} |",
              flush=True)
        if args.curve:
            ppl = ", ".join(f"{np.exp(r['valid_loss']):.1f}" for r in m.history_)
            tps = ", ".join(f"{r['train_tokens_per_s']:.0f}" for r in m.history_)
            print(f"<!-- {name}: valid ppl by epoch {ppl}; train tok/s by epoch {tps} -->", flush=True)


if __name__ == "__main__":
    main()
