"""Scoring with an adaptive softmax: each target's cluster only, against the full (n, V) output.

WT2-mini with the harness's validation split (as `neural_recipes.py`); the LSTM of
`benchmarks/specs/wt2-mini-best.yaml` (256/256, stream context) with a tied full softmax, a tied
adaptive one and an untied adaptive one, built with `epochs=0` (the cost of scoring does not depend
on the weights' values). For each, in one process, side by side: the CPU seconds and tokens/s of
`token_logprobs` on the first --test-tokens test tokens (the adaptive ones read each target's
cluster only) and, for the adaptive ones, of the earlier path written out below (the (rows, V)
log-probabilities of `forward`, HEAD_ROWS rows at a time, then the targets' entries), with the
largest difference between the two.

    nice -n 5 python benchmarks/adaptive_scoring.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import langmodels as lm
from langmodels.bench.validation import carve
from langmodels.neural.batching import stream_of
from langmodels.neural.estimator import HEAD_ROWS
from langmodels.neural.rnn import STREAM_CHUNK

RECIPE = {"embed_dim": 256, "hidden_size": 256, "n_layers": 1, "context": "stream", "epochs": 0,
          "device": "cpu", "threads": 1, "progress": False}


def full_output_path(model, corpus):
    """ln p of the stream's targets through the (rows, V) log-probabilities of `forward`."""
    stream, out, state = stream_of(corpus), [], None
    with torch.no_grad(), model._threads():
        for start in range(0, len(stream) - 1, STREAM_CHUNK):
            y = torch.from_numpy(stream[start + 1:start + 1 + STREAM_CHUNK])
            x = torch.from_numpy(stream[start:start + len(y)][None])
            h, state = model.module_.features(x, state)
            h = h[:, 0]
            for s in range(0, len(y), HEAD_ROWS):
                z = model.module_.head(h[s:s + HEAD_ROWS])
                out.append(z.gather(1, y[s:s + HEAD_ROWS, None])[:, 0].numpy())
    return np.concatenate(out)


def timed(f):
    t0, c0 = time.perf_counter(), time.process_time()
    r = f()
    return r, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--test-tokens", type=int, default=50000)
    args = ap.parse_args()
    ds = lm.datasets.load("wt2-mini", data_dir=args.data_dir)
    train, _, test = carve(ds.train, ds.test, 0.1, 0)
    test = test.subset(np.arange(np.searchsorted(np.cumsum(test.lengths), args.test_tokens) + 1))
    n = test.n_targets
    print(f"<!-- wt2-mini test: first {n} targets, V = {len(train.vocab)} -->")
    print("| output layer | path | score s | score CPU s | tokens/s | max abs diff | load |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for name, params in [("tied full", {"tie_weights": True}),
                         ("tied adaptive", {"tie_weights": True, "softmax": "adaptive"}),
                         ("untied adaptive", {"tie_weights": False, "softmax": "adaptive"})]:
        model = lm.make("lstm", **{**RECIPE, **params}).fit(train)
        new, s, c = timed(lambda m=model: m.token_logprobs(test))
        if params.get("softmax") == "adaptive":
            old, s_old, c_old = timed(lambda m=model: full_output_path(m, test))
            print(f"| {name} | (n, V) of forward (before) | {s_old:.1f} | {c_old:.1f} | {n / s_old:.0f} | "
                  f"| {os.getloadavg()[0]:.2f} |")
            diff = f"{np.abs(old - new).max():.1e}"
        else:
            diff = ""
        print(f"| {name} | token_logprobs | {s:.1f} | {c:.1f} | {n / s:.0f} | {diff} | "
              f"{os.getloadavg()[0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
