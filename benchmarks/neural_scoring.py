"""Exact batched scoring against the model's own training throughput (issue #13), in one process.

WT2-mini (train wikitext-2/valid.txt, score wikitext-2/test.txt). For each model at its default
settings (LSTM; Transformer with its default sinusoidal positions, and with positions="rotary"):
train one epoch measuring training tokens/s (the loop's own figure, wall clock), then score the
test split in sentence context (the default) and in stream context, measuring scoring tokens/s;
print their ratio (target: >= 4), the 1-minute load, and the largest difference of the
log-probabilities from a reference:

- LSTM and sinusoidal Transformer: the scoring path before issue #13, written out below (the full
  (n, V) logits of a batch through `cross_entropy`; the stream of the LSTM in 2048-token chunks),
  timed on the same text as the new path, side by side;
- rotary Transformer (no earlier path): a full recomputation under the band mask, one row per
  sequence (sentence), and the stream as one row through the rolling cache (stream, on the first
  --ref-targets targets: parallel stretches against no stretches).

The sinusoidal Transformer's sentence scoring costs one window per target past the window (21% of
WT2-mini's test targets), so it is timed on the first --sinusoidal-targets targets' lines only.

    nice -n 5 python benchmarks/neural_scoring.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from langmodels import Corpus, make
from langmodels.neural.batching import stream_of
from langmodels.vocabulary import BOS_ID

COMMON = {"epochs": 1, "patience": None, "progress": False, "device": "cpu", "threads": 1, "seed": 0}


def load1() -> float:
    return os.getloadavg()[0]


def head_of(lines: list[str], n_targets: int) -> list[str]:
    """The first lines of `lines` holding at least n_targets targets (words + </s>)."""
    out, n = [], 0
    for line in lines:
        if n >= n_targets:
            break
        out.append(line)
        n += len(line.split()) + 1
    return out


@torch.no_grad()
def old_rows(model, corpus) -> np.ndarray:
    """The pre-#13 scoring of independent rows: full logits of a batch, then cross_entropy."""
    rows = model._sentence_rows(corpus) if model.context == "sentence" else None
    if rows is None:
        raise ValueError("old_rows scores sentence rows")
    out = np.full(corpus.n_targets, np.nan)
    for features, y, where in model._scored_features(rows):
        logits = model.module_.head(features).float()
        logits[:, BOS_ID] = -torch.inf
        out[where] = -F.cross_entropy(logits, y, reduction="none").numpy()
    return out


@torch.no_grad()
def old_lstm_stream(model, corpus) -> np.ndarray:
    """The pre-#13 `_score_stream`: one row, 2048 tokens a call, full logits then cross_entropy."""
    stream, out, state = stream_of(corpus), [], None
    for start in range(0, len(stream) - 1, 2048):
        x = torch.from_numpy(stream[start:start + 2048][None])
        y = torch.from_numpy(stream[start + 1:start + 1 + 2048])
        logits, state = model.module_(x[:, :len(y)], state)
        logits = logits[0].float()
        logits[:, BOS_ID] = -torch.inf
        out.append(-F.cross_entropy(logits, y, reduction="none").numpy())
    return np.concatenate(out)


@torch.no_grad()
def rotary_full(model, corpus) -> np.ndarray:
    """Rotary reference: sentence rows one at a time through the full band-mask recomputation,
    or the stream as one row through the rolling cache (no parallel stretches)."""
    out = []
    if model.context == "sentence":
        rows = [np.concatenate([[BOS_ID], s]) for s in corpus.sequences()]
        targets = [np.concatenate([s, [corpus.vocab.eos_id]]) for s in corpus.sequences()]
    else:
        stream = stream_of(corpus)
        rows, targets = [stream[:-1]], [stream[1:]]
    for x, y in zip(rows, targets):
        x = torch.from_numpy(x.astype(np.int64))[None]
        h = (model.module_.features(x) if model.context == "sentence"
             else model.module_.extend_rolling(x)[0])[0]
        out.append(model._head_logprobs(h, torch.from_numpy(y.astype(np.int64))))
    return np.concatenate(out)


def timed(fn, *args):
    load, t, c = load1(), time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t, time.process_time() - c, max(load, load1())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--models", default="lstm,transformer-sinusoidal,transformer-rotary")
    ap.add_argument("--sinusoidal-targets", type=int, default=20000)
    ap.add_argument("--ref-targets", type=int, default=20000)
    args = ap.parse_args()
    data = Path(args.data_dir) / "wikitext-2"
    torch.set_num_threads(1)
    train = Corpus.from_file(data / "valid.txt")
    lines = (data / "test.txt").read_text(encoding="utf-8").splitlines()
    test_lines = [line for line in lines if line.strip()]
    test = Corpus.from_texts(test_lines, vocab=train.vocab)
    part = Corpus.from_texts(head_of(test_lines, args.ref_targets), vocab=train.vocab)
    sin_part = Corpus.from_texts(head_of(test_lines, args.sinusoidal_targets), vocab=train.vocab)
    print(f"WT2-mini: V={len(train.vocab)}, train {train.n_targets} targets, test {test.n_targets}; "
          f"torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"model | context | text | train tok/s (CPU) | score tok/s (CPU) | ratio | CPU ratio | old tok/s | "
          f"max abs dlogp vs reference | ppl | ppl first {sin_part.n_targets} | load")
    for name in args.models.split(","):
        positions = name.partition("-")[2]           # transformer-rotary / -sinusoidal; plain: the default
        params = dict(COMMON, **({"positions": positions} if positions else {}))
        model = make(name.split("-")[0], **params)
        _, fit_wall, fit_cpu, fit_load = timed(model.fit, train)
        train_tps = model.history_[-1]["train_tokens_per_s"]
        train_cpu_tps = train.n_targets / fit_cpu
        print(f"# {name}: fit {fit_wall:.0f} s, {train_tps:.0f} tokens/s (load {fit_load:.2f})", flush=True)
        for context in ("sentence", "stream"):
            model.set_params(context=context)
            text, label = test, "test"
            if name == "transformer-sinusoidal" and context == "sentence":
                text, label = sin_part, f"first {sin_part.n_targets}"
            lp, wall, cpu, load = timed(model.token_logprobs, text)
            old_tps, diff = "-", "-"
            if name == "lstm" or name == "transformer-sinusoidal" and context == "sentence":
                old = old_rows if context == "sentence" else old_lstm_stream
                ref, owall, _, oload = timed(old, model, text)
                old_tps, diff = f"{text.n_targets / owall:.0f}", f"{np.abs(lp - ref).max():.1e} (old path)"
                load = max(load, oload)
            elif name == "transformer-rotary":
                ref = rotary_full(model, text if context == "sentence" else part)
                got = lp if context == "sentence" else model.token_logprobs(part)
                diff = f"{np.abs(got - ref).max():.1e} (full recompute)"
            tps, cpu_tps = text.n_targets / wall, text.n_targets / cpu
            ppl = float(np.exp(-lp.mean()))
            # sentence context: the subset's lines are the test's first lines, its targets a prefix
            sub = f"{np.exp(-lp[:sin_part.n_targets].mean()):.1f}" if context == "sentence" else "-"
            print(f"{name} | {context} | {label} | {train_tps:.0f} ({train_cpu_tps:.0f}) | {tps:.0f} "
                  f"({cpu_tps:.0f}) | {tps / train_tps:.2f}x | {cpu_tps / train_cpu_tps:.2f}x | {old_tps} | "
                  f"{diff} | {ppl:.1f} | {sub} | {load:.2f}", flush=True)


if __name__ == "__main__":
    main()
