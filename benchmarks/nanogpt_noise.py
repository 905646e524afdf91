"""How noisy is nanoGPT's published baby-GPT figure (1.88 nats/char)?

nanoGPT's CPU command (`--eval_iters=20`) estimates the validation loss from 20 random batches of
12 windows of 64 characters. This trains our `transformer` with the baby-GPT recipe of
`benchmarks/neural.py`, scores the validation text exactly, then draws many such 20-batch estimates
from the same model and prints their spread.

    python benchmarks/nanogpt_noise.py --data-dir ../shared/data [--draws 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from neural import GPT_RECIPE, load1, shakespeare

import langmodels as lm
from langmodels.neural.batching import stream_of

BLOCK, BATCH, EVAL_ITERS = 64, 12, 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--draws", type=int, default=500, help="20-batch estimates to draw")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    train, valid = shakespeare(args.data_dir)
    t = time.perf_counter()
    model = lm.make("transformer", **GPT_RECIPE, threads=1, seed=args.seed, max_steps=2000,
                    progress=False).fit(train, valid)
    print(f"fit {time.perf_counter() - t:.0f} s, load {load1():.2f}; exact validation loss "
          f"{model.history_[-1]['valid_loss']:.4f} nats/char")
    data, V = torch.from_numpy(stream_of(valid)), len(train.vocab)
    g = torch.Generator().manual_seed(args.seed)
    estimates = []
    with torch.no_grad():
        for _ in range(args.draws):
            losses = []
            for _ in range(EVAL_ITERS):      # nanoGPT's get_batch('val') and estimate_loss()
                ix = torch.randint(len(data) - BLOCK - 1, (BATCH,), generator=g)
                x = torch.stack([data[i:i + BLOCK] for i in ix])
                y = torch.stack([data[i + 1:i + 1 + BLOCK] for i in ix])
                losses.append(F.cross_entropy(model.module_(x)[0].view(-1, V), y.view(-1)).item())
            estimates.append(np.mean(losses))
    e = np.array(estimates)
    print(f"{args.draws} estimates of {EVAL_ITERS} batches: mean {e.mean():.4f}, "
          f"sd {e.std(ddof=1):.4f}, 5%-95% {np.percentile(e, 5):.4f}-{np.percentile(e, 95):.4f}, "
          f"at or below 1.88: {np.mean(e <= 1.88):.1%}")


if __name__ == "__main__":
    main()
