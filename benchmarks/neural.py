"""Neural models: our `fit` against plain hand-written PyTorch loops, in one run, side by side.

1. PTB-mini (train ptb/valid.txt, evaluate ptb/test.txt), the PyTorch word-language-model recipe:
   embed 200, hidden 200, 2 layers, dropout 0.2, bptt 35, batch 20, SGD lr 20, clip 0.25, stream
   mode. For each cell (LSTM, GRU, tanh RNN) one epoch of ours and one of the plain loop (the
   example's model and loop, written out below) alternate for --rounds rounds; training and
   evaluation tokens/s, their ratio, and model FLOP utilisation against a measured fp32 matmul
   ceiling (6 x matmul parameters FLOPs per trained token; embedding look-ups cost none).
   Evaluation compares like with like: our stream scoring is exact (the test text as one stream,
   the state carried throughout), so the plain model is timed on one stream too; the example's
   own 10 parallel streams (10 state restarts, batch 10) are printed beside it.
2. Shakespeare-char (first 90% of tinyshakespeare train, last 10% evaluate): nanoGPT's "baby GPT"
   CPU recipe (4 layers, 4 heads, 128 dims, block 64, batch 12, 2000 iterations, lr 1e-3, no
   dropout; and the rest of nanoGPT's config/train_shakespeare_char.py: AdamW betas (0.9, 0.99),
   weight decay 0.1, warmup 100, cosine to lr/10, clip 1.0, learned positions) through our
   `fit`, and through a plain nanoGPT-style loop (random windows, eval every 250 iterations on
   200 batches; the recipe's CPU command uses 20) on the same nn.Module, and with --hf-gpt on
   Hugging Face's GPT-2 of the same size as an independent implementation; validation
   loss in nats per character and wall time of each. Our validation loss scores the evaluation
   text in non-overlapping 64-character windows, the same context lengths nanoGPT's estimate sees.

    python benchmarks/neural.py --data-dir ../shared/data [--rounds 3] [--gpt-iters 2000] [--hf-gpt]

Load averages are printed beside each timing; a run with load above 1.5 is flagged as noisy.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import langmodels as lm
from langmodels.neural.batching import stream_of
from langmodels.neural.transformer import TransformerModule

NOISY = 1.5
PTB_RECIPE = {"embed_dim": 200, "hidden_size": 200, "n_layers": 2, "dropout": 0.2, "bptt": 35,
              "batch_size": 20, "optimizer": "sgd", "lr": 20.0, "clip": 0.25, "weight_decay": 0.0,
              "schedule": "constant", "context": "stream", "epochs": 1, "patience": None,
              "progress": False, "device": "cpu"}
GPT_RECIPE = {"n_layers": 4, "n_heads": 4, "embed_dim": 128, "block_size": 64, "batch_size": 12,
              "positions": "learned",
              "lr": 1e-3, "betas": (0.9, 0.99), "dropout": 0.0, "warmup": 100, "schedule": "cosine",
              "weight_decay": 0.1,
              "clip": 1.0, "context": "stream", "stride": 64, "patience": None, "device": "cpu"}


def load1() -> float:
    return os.getloadavg()[0]


def flag(load: float) -> str:
    return " NOISY" if load > NOISY else ""


def matmul_ceiling(n: int = 1024, reps: int = 10) -> float:
    """Median fp32 GFLOP/s of an n x n x n matmul at the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def matmul_params(module: nn.Module) -> int:
    """Parameters used in matrix products (2-D weights other than the input embedding)."""
    skip = {id(m.weight) for m in module.modules() if isinstance(m, nn.Embedding)}
    return sum(p.numel() for p in module.parameters() if p.dim() == 2 and id(p) not in skip)


# --- 1. the plain word-language-model loop ------------------------------------------------------
class PlainRNNModel(nn.Module):
    """The PyTorch example's RNNModel (seq-first), unchanged in substance."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type == "RNN_TANH":
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity="tanh", dropout=dropout)
        else:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        self.ntoken = ntoken

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden


def batchify(data: torch.Tensor, bsz: int) -> torch.Tensor:
    nbatch = data.size(0) // bsz
    return data[:nbatch * bsz].view(bsz, -1).t().contiguous()       # (n, bsz)


def repackage_hidden(h):
    return h.detach() if isinstance(h, torch.Tensor) else tuple(repackage_hidden(v) for v in h)


def plain_train_epoch(model, train_data, bptt=35, lr=20.0, clip=0.25) -> float:
    """One epoch of the example's train(); returns tokens/s."""
    model.train()
    criterion = nn.NLLLoss()
    hidden = None
    t0, tokens = time.perf_counter(), 0
    for i in range(0, train_data.size(0) - 1, bptt):
        seq_len = min(bptt, len(train_data) - 1 - i)
        data, targets = train_data[i:i + seq_len], train_data[i + 1:i + 1 + seq_len].reshape(-1)
        model.zero_grad()
        hidden = None if hidden is None else repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        tokens += targets.numel()
    return tokens / (time.perf_counter() - t0)


def plain_evaluate(model, data, bptt=35) -> tuple[float, float]:
    """The example's evaluate() with eval batch 10: (mean NLL, tokens/s)."""
    model.eval()
    criterion = nn.NLLLoss(reduction="sum")
    hidden, total, tokens, t0 = None, 0.0, 0, time.perf_counter()
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, bptt):
            seq_len = min(bptt, len(data) - 1 - i)
            x, y = data[i:i + seq_len], data[i + 1:i + 1 + seq_len].reshape(-1)
            output, hidden = model(x, hidden)
            total += criterion(output, y).item()
            tokens += y.numel()
    return total / tokens, tokens / (time.perf_counter() - t0)


def ptb_benchmark(data_dir: Path, cells: list[str], rounds: int, ceiling: float) -> None:
    train = lm.Corpus.from_file(data_dir / "ptb" / "valid.txt")
    test = lm.Corpus.from_file(data_dir / "ptb" / "test.txt", vocab=train.vocab)
    V = len(train.vocab)
    train_data = batchify(torch.from_numpy(stream_of(train)), 20)
    test_data = batchify(torch.from_numpy(stream_of(test)), 10)
    test_one = batchify(torch.from_numpy(stream_of(test)), 1)       # our protocol: one exact stream
    print(f"PTB-mini: train {train.n_targets} targets, test {test.n_targets}, vocab {V}; "
          f"threads {torch.get_num_threads()}")
    for cell in cells:
        plain_type = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN_TANH"}[cell]
        rows = []
        for r in range(rounds):
            load_a = load1()
            # odd rounds run ours first, even rounds the plain loop first
            for side in (("ours", "plain") if r % 2 == 0 else ("plain", "ours")):
                if side == "ours":
                    ours = lm.make(cell, **PTB_RECIPE, seed=r).fit(train)
                    ours_train = ours.history_[0]["train_tokens_per_s"]
                    t = time.perf_counter()
                    ours_nll = -ours.token_logprobs(test).mean()
                    ours_eval = test.n_targets / (time.perf_counter() - t)
                else:
                    torch.manual_seed(r)
                    plain = PlainRNNModel(plain_type, V, 200, 200, 2, 0.2)
                    plain_train = plain_train_epoch(plain, train_data)
                    plain_nll, plain_eval = plain_evaluate(plain, test_data)
                    plain_nll1, plain_eval1 = plain_evaluate(plain, test_one)
            rows.append((ours_train, plain_train, ours_eval, plain_eval1, plain_eval, ours_nll,
                         plain_nll1, plain_nll, max(load_a, load1())))
            print(f"  {cell} round {r + 1}: train tok/s ours {ours_train:8.0f} plain {plain_train:8.0f} "
                  f"({ours_train / plain_train:.2f}x) | eval tok/s ours {ours_eval:6.0f} plain "
                  f"{plain_eval1:6.0f} ({ours_eval / plain_eval1:.2f}x), 10 streams {plain_eval:6.0f} | "
                  f"test NLL ours {ours_nll:.3f} plain {plain_nll1:.3f}, 10 streams {plain_nll:.3f} | "
                  f"load {rows[-1][-1]:.2f}{flag(rows[-1][-1])}")
        med = [statistics.median(c) for c in zip(*rows)]
        flops = 6 * matmul_params(ours.module_)
        print(f"  {cell} MEDIAN: train ours {med[0]:.0f} tok/s, plain {med[1]:.0f} tok/s, ratio "
              f"{med[0] / med[1]:.2f}x (target >= 1.0x); eval (one exact stream) ours {med[2]:.0f} "
              f"tok/s, plain {med[3]:.0f} tok/s, ratio {med[2] / med[3]:.2f}x; plain with the "
              f"example's 10 streams {med[4]:.0f} tok/s; "
              f"MFU ours {flops * med[0] / 1e9 / ceiling:.0%} plain {flops * med[1] / 1e9 / ceiling:.0%} "
              f"of {ceiling:.0f} GFLOP/s ({flops / 1e6:.1f} MFLOP/token); "
              f"max load {max(r[-1] for r in rows):.2f}")


# --- 2. Shakespeare-char baby GPT ---------------------------------------------------------------
def shakespeare(data_dir: Path):
    text = (data_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    n = int(0.9 * len(text))
    train = lm.Corpus.from_tokens([list(text[:n])], name="shakespeare-char-train")
    valid = lm.Corpus.from_tokens([list(text[n:])], vocab=train.vocab, name="shakespeare-char-val")
    return train, valid


def our_gpt_module(V: int) -> nn.Module:
    return TransformerModule(V, 128, 4, 4, 512, 64, "learned", 0.0, True)


class HFGPT2(nn.Module):
    """Hugging Face's GPT-2 at the baby-GPT size: an independent implementation of the same
    architecture (pre-LayerNorm, exact GELU, learned positions, tied embeddings, GPT-2 init)."""

    def __init__(self, V: int):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        config = GPT2Config(vocab_size=V, n_positions=64, n_embd=128, n_layer=4, n_head=4,
                            activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
                            attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
        self.gpt = GPT2LMHeadModel(config)

    def forward(self, x):
        return self.gpt(input_ids=x).logits, None


def plain_gpt(train, valid, iters: int, make_module=our_gpt_module, seed: int = 0) -> tuple[float, float]:
    """nanoGPT's train.py loop in miniature: returns (val loss, wall seconds)."""
    torch.manual_seed(seed)
    V = len(train.vocab)
    data_tr, data_va = torch.from_numpy(stream_of(train)), torch.from_numpy(stream_of(valid))
    model = make_module(V)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99))
    block, batch, warmup, min_lr = 64, 12, 100, 1e-4

    def get_batch(data):
        ix = torch.randint(len(data) - block - 1, (batch,))
        x = torch.stack([data[i:i + block] for i in ix])
        return x, torch.stack([data[i + 1:i + 1 + block] for i in ix])

    @torch.no_grad()
    def estimate(data, n=200):
        model.eval()
        losses = [F.cross_entropy(model(x)[0].view(-1, V), y.view(-1)).item()
                  for x, y in (get_batch(data) for _ in range(n))]
        model.train()
        return float(np.mean(losses))

    def lr_at(it):
        if it < warmup:
            return 1e-3 * (it + 1) / warmup
        ratio = (it - warmup) / (iters - warmup)
        return min_lr + 0.5 * (1 + math.cos(math.pi * min(ratio, 1.0))) * (1e-3 - min_lr)

    t0, val = time.perf_counter(), float("nan")
    for it in range(iters + 1):
        if it % 250 == 0 or it == iters:
            val = estimate(data_va)
        if it == iters:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = get_batch(data_tr)
        loss = F.cross_entropy(model(x)[0].view(-1, V), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return val, time.perf_counter() - t0


def gpt_benchmark(data_dir: Path, iters: int, hf: bool = False) -> None:
    train, valid = shakespeare(data_dir)
    print(f"Shakespeare-char: train {train.n_tokens} chars, val {valid.n_tokens}, vocab {len(train.vocab)}; "
          f"baby GPT, {iters} iterations")
    load_a = load1()
    t = time.perf_counter()
    ours = lm.make("transformer", **GPT_RECIPE, max_steps=iters, progress=False).fit(train, valid)
    ours_wall = time.perf_counter() - t
    ours_val = ours.history_[-1]["valid_loss"]
    load_b = load1()
    plain_val, plain_wall = plain_gpt(train, valid, iters)
    if hf:
        load_c = load1()
        hf_val, hf_wall = plain_gpt(train, valid, iters, HFGPT2)
        load_b = max(load_b, load_c)
    load = max(load_a, load_b, load1())
    print(f"  ours : val loss {ours_val:.4f} nats/char (exact, all {valid.n_targets} targets), "
          f"wall {ours_wall:.0f} s (fit, with its per-epoch evaluations)")
    print(f"  plain: val loss {plain_val:.4f} nats/char (nanoGPT estimate, 200 batches), "
          f"wall {plain_wall:.0f} s (with evals every 250 iterations)")
    if hf:
        print(f"  HF GPT-2, same plain loop: val loss {hf_val:.4f} nats/char (estimate, 200 batches), "
              f"wall {hf_wall:.0f} s")
    print(f"  target: ours <= 1.88 at {iters} iterations{'' if iters == 2000 else ' (shortened run)'}: "
          f"{'MET' if ours_val <= 1.88 else 'NOT MET'}; wall ratio ours/plain {ours_wall / plain_wall:.2f} "
          f"| max load {load:.2f}{flag(load)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--cells", default="lstm,gru,rnn", help="recurrent cells to compare on PTB-mini")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per cell")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both sides")
    ap.add_argument("--gpt-iters", type=int, default=2000, help="baby-GPT iterations (0 skips it)")
    ap.add_argument("--hf-gpt", action="store_true",
                    help="also train Hugging Face's GPT-2 at the same size in the plain loop "
                         "(needs the hf extra)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    PTB_RECIPE["threads"] = GPT_RECIPE["threads"] = args.threads
    ceiling = matmul_ceiling()
    print(f"fp32 matmul ceiling (1024^3, {args.threads} thread(s)): {ceiling:.0f} GFLOP/s, "
          f"load {load1():.2f}")
    if args.cells:
        ptb_benchmark(args.data_dir, args.cells.split(","), args.rounds, ceiling)
    if args.gpt_iters:
        gpt_benchmark(args.data_dir, args.gpt_iters, args.hf_gpt)


if __name__ == "__main__":
    main()
