"""Training speed by precision: float32 against bfloat16 autocast (`precision="bf16"`), per neural family.

Each family is trained for `--steps` optimizer steps on the harness's split of a mini protocol
(`langmodels.bench.validation.carve`), in one process, at one thread, with the same seed, once with
`precision="fp32"` and once with `precision="bf16"` (alternating, `--repeats` times); it prints the
median training tokens/s of each (the training loop's own `train_tokens_per_s`), their ratio, and
the 1-minute load average beside each row (rows above 1.5 are marked NOISY: another busy process
on a 2-core machine slows torch several-fold). bf16 is fast only on CPUs with bf16 matrix
instructions (AVX512-BF16, AMX); the header says whether torch sees them.

    python benchmarks/precision.py --data-dir ../shared/data --corpus wt2-mini [--steps 40] [--repeats 3]

The recipes are the recurrent rows of `benchmarks/specs/wt2-mini-best.yaml` (tied 256/256, weight
drop 0.25, stream context) and its Transformer, plus the LSTM at its defaults (2 x 200, untied).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import langmodels as lm
from langmodels.bench.validation import carve

SPEC_RNN = {"embed_dim": 256, "hidden_size": 256, "n_layers": 1, "tie_weights": True, "dropout": 0.5,
            "weight_drop": 0.25, "lr": 0.002, "context": "stream"}
RECIPES = {
    "rnn (spec)": ("rnn", {**SPEC_RNN, "embed_dropout": 0.2}),
    "lstm (spec)": ("lstm", SPEC_RNN),
    "gru (spec)": ("gru", {**SPEC_RNN, "embed_dropout": 0.2}),
    "transformer (spec)": ("transformer", {"embed_dim": 256, "n_heads": 4, "n_layers": 2, "tie_weights": True,
                                           "dropout": 0.3, "lr": 0.001}),
    "lstm (defaults)": ("lstm", {}),
}


def tokens_per_s(family: str, params: dict, train, precision: str, steps: int) -> float:
    model = lm.make(family, **params, precision=precision, max_steps=steps, epochs=1, seed=0,
                    device="cpu", threads=1, progress=False)
    return model.fit(train).history_[-1]["train_tokens_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--corpus", default="wt2-mini")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default=",".join(RECIPES), help="comma-separated rows of RECIPES")
    args = ap.parse_args()
    import torch

    ds = lm.datasets.load(args.corpus, data_dir=args.data_dir)
    train, _, _ = carve(ds.train, ds.test, 0.1, 0)
    print(f"<!-- {args.corpus}: train {train.n_tokens} tokens, V = {len(train.vocab)}; {args.steps} steps, "
          f"median of {args.repeats}; torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, bf16 matrix instructions: "
          f"{torch.ops.mkldnn._is_mkldnn_bf16_supported()} -->")
    print("| model | fp32 tok/s | bf16 tok/s | bf16 / fp32 | load |")
    print("| --- | ---: | ---: | ---: | ---: |", flush=True)
    for name in args.models.split(","):
        family, params = RECIPES[name]
        speed = {"fp32": [], "bf16": []}
        loads = []
        for _ in range(args.repeats):
            for precision in speed:
                speed[precision].append(tokens_per_s(family, params, train, precision, args.steps))
                loads.append(os.getloadavg()[0])
        fp32, bf16 = np.median(speed["fp32"]), np.median(speed["bf16"])
        load = max(loads)
        print(f"| {name} | {fp32:,.0f} | {bf16:,.0f} | {bf16 / fp32:.2f}x | {load:.2f}"
              f"{' NOISY' if load > 1.5 else ''} |", flush=True)


if __name__ == "__main__":
    main()
