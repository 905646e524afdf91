"""A decoder-only Transformer language model (GPT-style, pre-LayerNorm), with a KV cache.

    tokens + positions -> dropout -> n_layers x [x + attn(LN(x)); x + MLP(LN(x))] -> LN -> linear

(or -> LN -> adaptive softmax, `softmax="adaptive"`; see `langmodels.neural.adaptive`).

Attention is causal multi-head self-attention through `F.scaled_dot_product_attention` (flash /
memory-efficient kernels on GPU); the MLP is Linear(d, hidden_size) -> GELU -> Linear(hidden_size, d).
Positions are the original sinusoids or learned (`positions=`).

The context window holds `block_size` tokens. A history too long for it is cut to its last
`block_size - 1` tokens after `<s>`: ln p(w | <s> h) := ln p(w | <s> h[-(block_size-1):]), so every
scored position still sees the sequence start. Sentence scoring follows this exactly (one window per
position past the first block); stream scoring reads the stream in windows of `block_size` with
a stride (`stride`, default block_size // 2), the Hugging Face fixed-length perplexity method.
The generation cache is exact while the window holds the whole history; once it slides, every
position's embedding changes, so each step recomputes the window.

The file reads top to bottom, as nanoGPT's model.py: the network from its small parts to the whole
(`SelfAttention`, `Block`, `TransformerModule`, plain `nn.Module`s), then the estimator around it.
It imports torch; the registry imports it only when a transformer is made.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_float, check_int
from ..errors import InvalidParameterError
from ..vocabulary import BOS_ID
from .adaptive import AdaptiveSoftmax
from .batching import IGNORE, sentence_batches, sentence_pieces, sliding_windows, stream_of, stream_windows
from .estimator import NeuralModel


# --- the network, from small to large -------------------------------------------------------------
def sinusoids(n: int, d: int):
    """(n, d) fixed positions: PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(...)
    (Vaswani et al. 2017)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: d // 2])
    return pe


class SelfAttention(nn.Module):
    """Causal multi-head self-attention; `past` (keys, values) extends it from a KV cache."""

    def __init__(self, d, n_heads, dropout, bias):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.proj = nn.Linear(d, d, bias=bias)
        self.n_heads, self.dropout = n_heads, dropout
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x, past=None, mask=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)                                   # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
                   for t in (q, k, v))                                          # (B, H, T, D)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, H, P+T, D)
        drop = self.dropout if self.training else 0.0
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        y = y.transpose(1, 2).contiguous().view(B, T, C)                         # (B, T, C)
        return self.resid_drop(self.proj(y)), (k, v)


class Block(nn.Module):
    """Pre-LayerNorm residual block: x + attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, d, n_heads, hidden, dropout, bias):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d, bias=bias), nn.LayerNorm(d, bias=bias)
        self.attn = SelfAttention(d, n_heads, dropout, bias)
        # A Sequential, so that saved checkpoints keep their names (mlp.0.weight, mlp.2.weight).
        self.mlp = nn.Sequential(nn.Linear(d, hidden, bias=bias), nn.GELU(),
                                 nn.Linear(hidden, d, bias=bias), nn.Dropout(dropout))

    def forward(self, x, past=None, mask=None):
        a, kv = self.attn(self.ln1(x), past, mask)                              # (B, T, C)
        x = x + a
        return x + self.mlp(self.ln2(x)), kv


class TransformerModule(nn.Module):
    """forward(x, state) -> (logits, None) for training (log-probabilities with an adaptive
    softmax; forward(x, state, target) -> (summed loss, None) when `computes_loss`, as the
    RNN module); decode() serves the KV cache."""

    def __init__(self, vocab_size, d, n_layers, n_heads, hidden, block_size, positions,
                 dropout, tie_weights, bias=True, cutoffs=None, embed_dropout=0.0):
        super().__init__()
        self.embed_dropout = embed_dropout
        self.embed = nn.Embedding(vocab_size, d)
        if positions == "learned":
            self.pos = nn.Embedding(block_size, d)
        else:
            self.register_buffer("sinusoid", sinusoids(block_size, d), persistent=False)
            self.scale = math.sqrt(d)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d, n_heads, hidden, dropout, bias) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d, bias=bias)
        self.computes_loss = cutoffs is not None
        if self.computes_loss:
            self.head = AdaptiveSoftmax(d, vocab_size, cutoffs)
        else:
            self.head = nn.Linear(d, vocab_size, bias=False)
        if tie_weights:
            self.head.weight = self.embed.weight
        # GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layers).
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                residual = name.endswith(("proj.weight", "mlp.2.weight"))
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layers) if residual else 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def positions(self, pos):
        if hasattr(self, "pos"):
            return self.pos(pos)
        return self.sinusoid[pos]

    def embed_tokens(self, x, pos):
        # With fixed sinusoids (amplitude 1) the token embeddings are scaled by sqrt(d), as in
        # Vaswani et al.; otherwise the N(0, 0.02) embeddings drown under the positions.
        scale = 1.0 if hasattr(self, "pos") else self.scale
        e = self.embed(x)
        if self.training and self.embed_dropout:   # a word's row dropped for the whole batch
            p = self.embed_dropout
            keep = torch.empty(len(self.embed.weight), device=x.device).bernoulli_(1 - p) / (1 - p)
            e = e * keep[x][..., None]
        return self.drop(e * scale + self.positions(pos))

    def features(self, x):
        """What the output layer reads: (B, T) ids -> (B, T, d)."""
        h = self.embed_tokens(x, torch.arange(x.shape[1], device=x.device))      # (B, T, d)
        for block in self.blocks:
            h, _ = block(h)
        return self.ln_f(h)

    def forward(self, x, state=None, target=None):
        if target is not None:
            h = self.features(x)
            return self.head.nll(h.flatten(0, 1), target.reshape(-1)), None
        return self.head(self.features(x)), None                                # (B, T, V)

    def decode(self, x, pos, past=None, mask=None):
        """x (B, T) at positions pos (B, T), after cached keys/values `past`; mask (B, 1, T, P+T).
        Returns the logits after the last position only, and every layer's keys/values."""
        h = self.embed_tokens(x, pos)                                           # (B, T, d)
        present = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, None if past is None else past[i], mask)
            present.append(kv)
        return self.head(self.ln_f(h[:, -1])), present                          # (B, V)


# --- the estimator -------------------------------------------------------------------------------
class TransformerModel(NeuralModel):
    """Decoder-only Transformer LM; see the module docstring for the window convention.

    `hidden_size` is the MLP width (None: 4 x embed_dim); `bias=False` drops the biases of every
    linear layer and LayerNorm (nanoGPT's default); `bptt` the training window in stream mode
    (None: block_size); `stride` the step between scoring windows in stream mode.
    With `checkpoint_dir`, checkpoints are written after each epoch and mid-epoch every
    `checkpoint_every` steps and `checkpoint_seconds` seconds (None: never); see the RNN models.

    Good calls::

        make("transformer", n_layers=4, n_heads=4, embed_dim=128, block_size=64).fit(train, valid)

    Bad calls::

        make("transformer", embed_dim=100, n_heads=3)     # embed_dim must divide into the heads

    Parameters
    ----------
    embed_dim : int, default 128
        d, the width of the residual stream; a multiple of `n_heads`.
    hidden_size : int or None, default None
        Width of each block's MLP (None: 4 x embed_dim).
    n_layers : int, default 4
        Transformer blocks stacked.
    n_heads : int, default 4
        Attention heads per block, each of width embed_dim / n_heads.
    block_size : int, default 128
        The context window in tokens, `<s>` included.
    positions : {"sinusoidal", "learned"}, default "sinusoidal"
        Fixed sinusoidal position encodings or a learned embedding per position.
    dropout : float, default 0.1
        Dropout in [0, 1) on the embeddings, attention weights and residual branches.
    tie_weights : bool or "auto", default "auto"
        Share the token embedding matrix with the output layer ("auto": with the full softmax;
        the adaptive one is never tied).
    bias : bool, default True
        Biases in every linear layer and LayerNorm (False: none, as nanoGPT's default).
    bptt : int or None, default None
        The training window in stream mode, at most block_size (None: block_size).
    stride : int or None, default None
        The step between scoring windows in stream mode (None: block_size // 2).
    embed_dropout : float, default 0.0
        Probability in [0, 1) of dropping a word's whole embedding row for a training batch
        (word-level dropout, on top of `dropout`).
    lr, optimizer, betas, weight_decay, epochs, max_steps, batch_size, clip, warmup, schedule
        See `NeuralModel`.
    patience, context, seed, device, compile, threads, checkpoint_dir, checkpoint_every,
    checkpoint_seconds, progress, softmax, cutoffs
        See `NeuralModel`.
    """

    architecture = ("embed_dim", "hidden_size", "n_layers", "n_heads", "block_size", "positions",
                    "tie_weights", "bias", "softmax")

    # lr=3e-3: the best mean validation log-perplexity of 1e-3, 3e-3, 1e-2, 3e-2 over PTB-mini and
    # Shakespeare-words in short runs (benchmarks/RESULTS.md, "Default learning rate (issue #16)").
    def __init__(self, embed_dim: int = 128, hidden_size: int | None = None, n_layers: int = 4,
                 n_heads: int = 4, block_size: int = 128, positions: str = "sinusoidal",
                 dropout: float = 0.1, tie_weights: bool | str = "auto", bias: bool = True,
                 lr: float = 3e-3, optimizer: str = "adamw", betas: tuple[float, float] = (0.9, 0.999),
                 weight_decay: float = 0.1, epochs: int = 10,
                 max_steps: int | None = None, batch_size: int = 32, bptt: int | None = None,
                 stride: int | None = None, clip: float = 1.0, warmup: int = 100,
                 schedule: str = "cosine", patience: int | None = 3, context: str = "sentence",
                 seed: int = 0, device: str = "auto", compile: bool = False,
                 threads: int | None = 1, checkpoint_dir: str | None = None,
                 checkpoint_every: int | None = None, checkpoint_seconds: float | None = 60.0,
                 progress: bool = True, embed_dropout: float = 0.0, softmax: str = "full",
                 cutoffs: list[int] | None = None):
        self.embed_dim = embed_dim
        self.embed_dropout = embed_dropout
        self.softmax = softmax
        self.cutoffs = cutoffs
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.block_size = block_size
        self.positions = positions
        self.dropout = dropout
        self.tie_weights = tie_weights
        self.bias = bias
        self.lr = lr
        self.optimizer = optimizer
        self.betas = betas
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.bptt = bptt
        self.stride = stride
        self.clip = clip
        self.warmup = warmup
        self.schedule = schedule
        self.patience = patience
        self.context = context
        self.seed = seed
        self.device = device
        self.compile = compile
        self.threads = threads
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.progress = progress

    def _check_family(self):
        check_int("n_heads", self.n_heads, low=1)
        if self.embed_dim % self.n_heads:
            raise InvalidParameterError(
                f"embed_dim ({self.embed_dim}) must be a multiple of n_heads ({self.n_heads})")
        if self.hidden_size is not None:
            check_int("hidden_size", self.hidden_size, low=1)
        check_int("block_size", self.block_size, low=2)
        check_choice("positions", self.positions, ["sinusoidal", "learned"])
        check_choice("bias", self.bias, [True, False])
        check_float("embed_dropout", self.embed_dropout, low=0.0, high=1.0, high_open=True)
        if self.bptt is not None and self.bptt > self.block_size:
            raise InvalidParameterError(f"bptt ({self.bptt}) must not exceed block_size ({self.block_size})")
        if self.stride is not None:
            check_int("stride", self.stride, low=1, high=self.block_size)

    def _new_module(self, vocab_size):
        return TransformerModule(vocab_size, self.embed_dim, self.n_layers, self.n_heads,
                               self.hidden_size or 4 * self.embed_dim, self.block_size,
                               self.positions, self.dropout, self._tied(), self.bias,
                               getattr(self, "cutoffs_", None), self.embed_dropout)

    def _tied(self) -> bool:
        return self.softmax == "full" if self.tie_weights == "auto" else bool(self.tie_weights)

    # --- training batches ------------------------------------------------------------------------
    def _epoch_batches(self, corpus, rng):
        if self.context == "sentence":
            pieces = sentence_pieces(corpus, self.block_size)
            return [(x, y, True) for x, y in sentence_batches(pieces, self.batch_size, rng)]
        windows = stream_windows(stream_of(corpus), self.bptt or self.block_size, self.batch_size, rng)
        return [(x, y, True) for x, y in windows]

    # --- scoring ---------------------------------------------------------------------------------
    def _score(self, corpus):
        if self.context == "stream":
            stream = stream_of(corpus)
            x, y = stream[:-1], stream[1:].copy()
            rows = []
            stride = self.stride or self.block_size // 2
            for begin, end, first in sliding_windows(len(x), self.block_size, stride):
                target = y[begin:end].copy()
                target[:first - begin] = IGNORE       # context only
                rows.append((x[begin:end], target, np.arange(first, end)))
            return self._score_rows(rows, len(y))
        return self._score_rows(self._sentence_rows(corpus), corpus.n_targets)

    def _features(self, x):
        return self.module_.features(x)

    def _sentence_rows(self, corpus):
        """One row per sequence; past the first window, one window per further target."""
        W, rows, pos = self.block_size, [], 0
        for seq in corpus.sequences():
            x = np.concatenate([[BOS_ID], seq]).astype(np.int64)
            y = np.concatenate([seq, [corpus.vocab.eos_id]]).astype(np.int64)
            rows.append((x[:W], y[:W], np.arange(pos, pos + min(W, len(y)))))
            for t in range(W, len(y)):                  # target y[t] after <s> + x[t-W+2 .. t]
                rows.append((np.concatenate([[BOS_ID], x[t - W + 2:t + 1]]),
                             np.concatenate([np.full(W - 1, IGNORE), y[t:t + 1]]), np.array([pos + t])))
            pos += len(y)
        return rows

    # --- incremental state: a KV cache over left-padded rows ---------------------------------------
    def _window(self, h):
        return np.concatenate([[BOS_ID], h[len(h) - min(len(h), self.block_size - 1):]]).astype(np.int64)

    def _start_state(self, histories):
        with self._threads(), torch.no_grad():
            dev = self._torch_device()
            ctx = [self._window(h) for h in histories]
            T = max(len(c) for c in ctx)
            x = np.zeros((len(ctx), T), np.int64)
            pad = np.array([T - len(c) for c in ctx])
            for i, c in enumerate(ctx):
                x[i, pad[i]:] = c                               # left-padded: every row ends at T - 1
            pad_t = torch.from_numpy(pad).to(dev)
            cols = torch.arange(T, device=dev)
            pos = (cols[None, :] - pad_t[:, None]).clamp(min=0)                     # (B, T)
            valid = cols[None, :] >= pad_t[:, None]                                 # (B, T) real keys
            causal = cols[None, :] <= cols[:, None]                                 # (T, T)
            # A padding query may see itself, so that no softmax row is empty.
            mask = (causal[None] & valid[:, None, :]) | torch.eye(T, dtype=torch.bool, device=dev)[None]
            logits, kv = self.module_.decode(torch.from_numpy(x).to(dev), pos, None, mask[:, None])
            state = {"hist": list(histories), "kv": kv, "pad": pad_t, "len": T}
            return state, self._logprobs(logits)

    def _advance(self, state, tokens):
        hist = [np.append(h, t) for h, t in zip(state["hist"], tokens)]
        if max(len(h) for h in hist) >= self.block_size:   # the window slides: recompute it
            return self._start_state(hist)
        with self._threads(), torch.no_grad():
            dev = self._torch_device()
            T, pad = state["len"], state["pad"]
            pos = (T - pad)[:, None]                                               # (B, 1)
            mask = (torch.arange(T + 1, device=dev)[None, :] >= pad[:, None])[:, None, None, :]  # (B,1,1,T+1)
            x = torch.from_numpy(tokens[:, None]).to(dev)
            logits, kv = self.module_.decode(x, pos, state["kv"], mask)
            return {"hist": hist, "kv": kv, "pad": pad, "len": T + 1}, self._logprobs(logits)

    def _reorder_state(self, state, rows):
        idx = torch.from_numpy(rows).to(self._torch_device())
        return {"hist": [state["hist"][r] for r in rows], "pad": state["pad"][idx], "len": state["len"],
                "kv": [(k[idx], v[idx]) for k, v in state["kv"]]}
