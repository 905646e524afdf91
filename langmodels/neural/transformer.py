"""A decoder-only Transformer language model (GPT-style, pre-LayerNorm), with a KV cache.

    tokens + positions -> dropout -> n_layers x [x + attn(LN(x)); x + MLP(LN(x))] -> LN -> linear

(or -> LN -> adaptive softmax, `softmax="adaptive"`; see `langmodels.neural.adaptive`).

Attention is causal multi-head self-attention through `F.scaled_dot_product_attention` (flash /
memory-efficient kernels on GPU); the MLP is Linear(d, hidden_size) -> GELU -> Linear(hidden_size, d).

What a target past the window of `block_size` tokens sees depends on `positions=`:

- "sinusoidal" (the original fixed sinusoids) and "learned" (an embedding per position) are
  absolute: a history too long for the window is cut to its last `block_size - 1` tokens after
  `<s>`: ln p(w | <s> h) := ln p(w | <s> h[-(block_size-1):]), so every scored position still sees
  the sequence start. Every position's embedding then changes each time the window slides, so
  nothing computed for one target serves the next. Cost: sentence scoring is exact at one window
  (block_size positions of every layer) per target past the first block, up to block_size times
  the work of a target inside it; stream scoring reads the stream in windows of `block_size` with
  a stride (`stride`, default block_size // 2; the Hugging Face fixed-length perplexity method),
  block_size / stride passes per target, and each target sees between block_size - stride and
  block_size - 1 tokens; generation past the window recomputes the window at every step.
- "rotary" (RoPE, Su et al. 2021: queries and keys turned by angles proportional to their
  positions, so attention scores depend only on distances) with band attention: in every layer
  position i attends to positions i - block_size < j <= i. A sequence of any length then has one
  meaning: the top layer at position i depends on the inputs n_layers x (block_size - 1) back
  (through the stack) and not on how the computation is cut. Training pieces of at most
  block_size tokens see exactly this (the band is the causal mask inside one window). Because a
  key, once rotated, is valid for every later query, and the band needs only the last
  block_size - 1 keys and values of each layer, a rolling cache of those is exact: scoring a
  row of T tokens costs T positions of every layer (attention over block_size keys each), sentence
  rows batched; generation costs one position per step at any length. Stream scoring cuts the
  stream into parallel stretches of STRETCH x warm-up targets, each computed from
  warm-up = n_layers x (block_size - 1) inputs before its first target, which makes its targets
  exact (the receptive field is covered): 1 + 1 / STRETCH positions per target.

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
from .adaptive import AdaptiveSoftmax, TiedAdaptiveSoftmax
from .batching import IGNORE, sentence_batches, sentence_pieces, sliding_windows, stream_of, stream_windows
from .estimator import SCORE_TOKENS, NeuralModel

# Rotary stream scoring: each parallel stretch scores STRETCH x its warm-up of targets, so the
# warm-up inputs (computed only as context) add 1 / STRETCH to the work.
STRETCH = 8


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


def rotary(pos, head_dim: int):
    """(cos, sin), each (..., T, head_dim), of the rotary angles pos_t / 10000^(2i/head_dim)
    (Su et al. 2021) for integer positions pos (..., T). The angles are formed in float64 so that
    a position of a long stream rotates as exactly as position 0: keys cached at one offset and
    queries at another agree with a recomputation to float32 rounding."""
    inv = 10000.0 ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=pos.device) / head_dim)
    ang = pos.double()[..., None] * inv                                        # (..., T, D/2)
    ang = torch.cat([ang, ang], dim=-1)                                        # (..., T, D)
    return ang.cos().float(), ang.sin().float()


def rotate(t, rope):
    """t (B, H, T, D) rotated by rope = (cos, sin) (B or 1, T, D): pairs (i, i + D/2) turn together."""
    cos, sin = (r[:, None] for r in rope)                                      # (B, 1, T, D)
    a, b = t.chunk(2, dim=-1)
    return t * cos + torch.cat([-b, a], dim=-1) * sin


def band(q_cols, k_cols, window: int):
    """(Tq, Tk) bool: query column i sees key column j when i - window < j <= i."""
    d = q_cols[:, None] - k_cols[None, :]
    return (d >= 0) & (d < window)


class SelfAttention(nn.Module):
    """Causal multi-head self-attention; `past` (keys, values) extends it from a KV cache, `rope`
    (cos, sin) rotates queries and keys (the keys before they are cached)."""

    def __init__(self, d, n_heads, dropout, bias):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.proj = nn.Linear(d, d, bias=bias)
        self.n_heads, self.dropout = n_heads, dropout
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x, past=None, mask=None, rope=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)                                   # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
                   for t in (q, k, v))                                          # (B, H, T, D)
        if rope is not None:
            q, k = rotate(q, rope), rotate(k, rope)
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

    def forward(self, x, past=None, mask=None, rope=None):
        a, kv = self.attn(self.ln1(x), past, mask, rope)                        # (B, T, C)
        x = x + a
        return x + self.mlp(self.ln2(x)), kv


class TransformerModule(nn.Module):
    """forward(x, state) -> (logits, None) for training (log-probabilities with an adaptive
    softmax; forward(x, state, target) -> (summed loss, None) when `computes_loss`, as the RNN
    module); extend() and decode() serve the KV cache.

    With rotary positions every layer attends to the last `block_size` positions only (a band
    mask; within one window that is the causal mask), so that a sequence of any length has one
    meaning, which training, a rolling cache and a full recomputation all compute.
    """

    def __init__(self, vocab_size, d, n_layers, n_heads, hidden, block_size, positions,
                 dropout, tie_weights, bias=True, cutoffs=None, embed_dropout=0.0):
        super().__init__()
        self.embed_dropout = embed_dropout
        self.embed = nn.Embedding(vocab_size, d)
        self.rotary_dim = d // n_heads if positions == "rotary" else None
        self.block_size = block_size
        if positions == "learned":
            self.pos = nn.Embedding(block_size, d)
        elif positions == "sinusoidal":
            self.register_buffer("sinusoid", sinusoids(block_size, d), persistent=False)
            self.scale = math.sqrt(d)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d, n_heads, hidden, dropout, bias) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d, bias=bias)
        self.computes_loss = cutoffs is not None
        if not self.computes_loss:
            self.head = nn.Linear(d, vocab_size, bias=False)
            if tie_weights:
                self.head.weight = self.embed.weight
        elif tie_weights:   # its word rows are the embedding's
            self.head = TiedAdaptiveSoftmax(self.embed, cutoffs)
        else:
            self.head = AdaptiveSoftmax(d, vocab_size, cutoffs)
        # GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layers); a
        # tied adaptive softmax's projections keep their identity start.
        for name, p in self.named_parameters():
            if name == "head.proj":
                continue
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
        e = self.embed(x)
        if self.training and self.embed_dropout:   # a word's row dropped for the whole batch
            p = self.embed_dropout
            keep = torch.empty(len(self.embed.weight), device=x.device).bernoulli_(1 - p) / (1 - p)
            e = e * keep[x][..., None]
        if self.rotary_dim:                     # positions enter as rotations inside attention
            return self.drop(e)
        # With fixed sinusoids (amplitude 1) the token embeddings are scaled by sqrt(d), as in
        # Vaswani et al.; otherwise the N(0, 0.02) embeddings drown under the positions.
        scale = 1.0 if hasattr(self, "pos") else self.scale
        return self.drop(e * scale + self.positions(pos))

    def features(self, x):
        """What the output layer reads: (B, T) ids -> (B, T, d). With rotary positions and
        T > block_size this is the full recomputation under the band mask (T x T attention)."""
        T = x.shape[1]
        cols = torch.arange(T, device=x.device)
        rope = rotary(cols[None], self.rotary_dim) if self.rotary_dim else None
        mask = band(cols, cols, self.block_size) if rope is not None and T > self.block_size else None
        h = self.embed_tokens(x, cols)                                          # (B, T, d)
        for block in self.blocks:
            h, _ = block(h, None, mask, rope)
        return self.ln_f(h)

    def forward(self, x, state=None, target=None):
        if target is not None:
            h = self.features(x)
            return self.head.nll(h.flatten(0, 1), target.reshape(-1)), None
        return self.head(self.features(x)), None                                # (B, T, V)

    def extend(self, x, pos, past=None, mask=None):
        """x (B, T) at positions pos (B, T), after cached keys/values `past`; mask (B, 1, T, P+T).
        Returns the features (B, T, d) and every layer's keys/values (past included)."""
        h = self.embed_tokens(x, pos)                                           # (B, T, d)
        rope = rotary(pos, self.rotary_dim) if self.rotary_dim else None
        present = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, None if past is None else past[i], mask, rope)
            present.append(kv)
        return self.ln_f(h), present

    def extend_rolling(self, x, pad=None):
        """Rotary only: features (B, T, d) of x under the band mask, `block_size` columns at a time,
        each layer's keys/values of the last block_size - 1 columns carried to the next columns
        (the rolling cache), so attention costs T x block_size, not T^2. `pad` (B,): left padding
        per row, whose keys are never seen (a padding query sees itself, so no softmax row is
        empty); positions count from each row's first real column. Returns the features and the
        cache after the last column."""
        B, T = x.shape
        W = self.block_size
        cols = torch.arange(T, device=x.device)
        pos = cols.expand(B, T) if pad is None else (cols[None] - pad[:, None]).clamp(min=0)
        out, past = [], None
        for s in range(0, T, W):
            e = min(s + W, T)
            P = 0 if past is None else past[0][0].shape[2]
            q_cols, k_cols = cols[s:e], cols[s - P:e]
            mask = band(q_cols, k_cols, W)                                      # (C, P+C)
            if pad is not None:
                real = k_cols[None, None, :] >= pad[:, None, None]             # (B, 1, P+C)
                mask = ((mask[None] & real) | (q_cols[:, None] == k_cols[None, :])[None])[:, None]
            h, present = self.extend(x[:, s:e], pos[:, s:e], past, mask)
            out.append(h)
            past = [(k[:, :, -(W - 1):], v[:, :, -(W - 1):]) for k, v in present]
        return torch.cat(out, 1), past

    def decode(self, x, pos, past=None, mask=None):
        """As `extend`, returning the logits after the last position only (B, V) and the cache."""
        h, present = self.extend(x, pos, past, mask)
        return self.head(h[:, -1]), present


# --- the estimator -------------------------------------------------------------------------------
class TransformerModel(NeuralModel):
    """Decoder-only Transformer LM; see the module docstring for the window conventions.

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
    positions : {"rotary", "sinusoidal", "learned"}, default "rotary"
        Rotary embeddings with band attention over the last block_size positions in every layer
        (exact scoring past the window at the cost of one position per target; see the module
        docstring), fixed sinusoidal position encodings, or a learned embedding per position.
        Rotary is the default by measurement: test perplexity 220 against sinusoidal's 253 on
        PTB-mini (benchmarks/specs/ptb-mini.yaml's Transformer), 554 against 719 after one epoch on
        WT2-mini, and scoring at 3-4x its training throughput against 0.3x; on the synthetic default
        corpus sinusoidal did better (65.9 against 77.6), so the default bench selects between them
        on validation (benchmarks/RESULTS.md, "Rotary by default").
    dropout : float, default 0.1
        Dropout in [0, 1) on the embeddings, attention weights and residual branches.
    tie_weights : bool or "auto", default "auto"
        Share the token embedding matrix with the output layer ("auto": with the full softmax
        only). True with softmax="adaptive" ties the adaptive softmax (each word's output row is
        its embedding row; `langmodels.neural.adaptive.TiedAdaptiveSoftmax`).
    bias : bool, default True
        Biases in every linear layer and LayerNorm (False: none, as nanoGPT's default).
    bptt : int or None, default None
        The training window in stream mode, at most block_size (None: block_size).
    stride : int or None, default None
        The step between scoring windows in stream mode (None: block_size // 2); not used with
        rotary positions, whose stream scoring is exact.
    embed_dropout : float, default 0.0
        Probability in [0, 1) of dropping a word's whole embedding row for a training batch
        (word-level dropout, on top of `dropout`).
    lr, optimizer, betas, weight_decay, epochs, max_steps, batch_size, clip, warmup, schedule
        See `NeuralModel`.
    patience, context, seed, device, compile, precision, threads, checkpoint_dir, checkpoint_every,
    checkpoint_seconds, progress, softmax, cutoffs
        See `NeuralModel`.
    """

    architecture = ("embed_dim", "hidden_size", "n_layers", "n_heads", "block_size", "positions",
                    "tie_weights", "bias", "softmax")

    # lr=3e-3: the best mean validation log-perplexity of 1e-3, 3e-3, 1e-2, 3e-2 over PTB-mini and
    # Shakespeare-words in short runs (benchmarks/RESULTS.md, "Default learning rate (issue #16)").
    def __init__(self, embed_dim: int = 128, hidden_size: int | None = None, n_layers: int = 4,
                 n_heads: int = 4, block_size: int = 128, positions: str = "rotary",
                 dropout: float = 0.1, tie_weights: bool | str = "auto", bias: bool = True,
                 lr: float = 3e-3, optimizer: str = "adamw", betas: tuple[float, float] = (0.9, 0.999),
                 weight_decay: float = 0.1, epochs: int = 10,
                 max_steps: int | None = None, batch_size: int = 32, bptt: int | None = None,
                 stride: int | None = None, clip: float = 1.0, warmup: int = 100,
                 schedule: str = "cosine", patience: int | None = 3, context: str = "sentence",
                 seed: int = 0, device: str = "auto", compile: bool = False, precision: str = "auto",
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
        self.precision = precision
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
        check_choice("positions", self.positions, ["sinusoidal", "learned", "rotary"])
        if self.positions == "rotary" and (self.embed_dim // self.n_heads) % 2:
            raise InvalidParameterError(
                f"rotary positions turn pairs of dimensions: the head width embed_dim / n_heads = "
                f"{self.embed_dim // self.n_heads} must be even")
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
            # Rotary: plain consecutive pieces, the band attention's view past the first window.
            pieces = sentence_pieces(corpus, self.block_size, restart=self.positions != "rotary")
            return [(x, y, True) for x, y in sentence_batches(pieces, self.batch_size, rng)]
        windows = stream_windows(stream_of(corpus), self.bptt or self.block_size, self.batch_size, rng)
        return [(x, y, True) for x, y in windows]

    # --- scoring ---------------------------------------------------------------------------------
    def _score(self, corpus):
        if self.context == "sentence":
            return self._score_rows(self._sentence_rows(corpus), corpus.n_targets)
        stream = stream_of(corpus)
        x, y = stream[:-1], stream[1:].copy()
        rows = []
        if self.positions == "rotary":
            # Parallel stretches, each from warm = n_layers x (block_size - 1) inputs before its
            # first target: the receptive field of the top layer, so its targets are exact.
            warm = self.n_layers * (self.block_size - 1)
            for first in range(0, len(x), STRETCH * warm):
                begin, end = max(0, first - warm), min(first + STRETCH * warm, len(x))
                target = y[begin:end].copy()
                target[:first - begin] = IGNORE       # context only
                rows.append((x[begin:end], target, np.arange(first, end)))
            return self._score_rows(rows, len(y), 4 * SCORE_TOKENS)
        stride = self.stride or self.block_size // 2
        for begin, end, first in sliding_windows(len(x), self.block_size, stride):
            target = y[begin:end].copy()
            target[:first - begin] = IGNORE       # context only
            rows.append((x[begin:end], target, np.arange(first, end)))
        return self._score_rows(rows, len(y))

    def _features(self, x):
        if self.positions == "rotary" and x.shape[1] > self.block_size:
            return self.module_.extend_rolling(x)[0]
        return self.module_.features(x)

    def _sentence_rows(self, corpus):
        """One row per sequence; with absolute positions, one window per target past the first."""
        W, rows, pos = self.block_size, [], 0
        for seq in corpus.sequences():
            x = np.concatenate([[BOS_ID], seq]).astype(np.int64)
            y = np.concatenate([seq, [corpus.vocab.eos_id]]).astype(np.int64)
            if self.positions == "rotary":
                rows.append((x, y, np.arange(pos, pos + len(y))))
                pos += len(y)
                continue
            rows.append((x[:W], y[:W], np.arange(pos, pos + min(W, len(y)))))
            for t in range(W, len(y)):                  # target y[t] after <s> + x[t-W+2 .. t]
                rows.append((np.concatenate([[BOS_ID], x[t - W + 2:t + 1]]),
                             np.concatenate([np.full(W - 1, IGNORE), y[t:t + 1]]), np.array([pos + t])))
            pos += len(y)
        return rows

    # --- incremental state: a KV cache over left-padded rows ---------------------------------------
    def _window(self, h):
        if self.positions == "rotary":
            return np.concatenate([[BOS_ID], h]).astype(np.int64)
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
            if self.positions == "rotary":
                h, kv = self.module_.extend_rolling(torch.from_numpy(x).to(dev), pad_t)
                state = {"hist": list(histories), "kv": kv, "pad": pad_t, "len": T}
                return state, self._logprobs(self.module_.head(h[:, -1]))
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
        rotary = self.positions == "rotary"
        if not rotary and max(len(h) for h in hist) >= self.block_size:   # the window slides: recompute it
            return self._start_state(hist)
        with self._threads(), torch.no_grad():
            dev = self._torch_device()
            T, pad = state["len"], state["pad"]
            P = state["kv"][0][0].shape[2]            # cached columns T - P .. T - 1
            pos = (T - pad)[:, None]                                               # (B, 1)
            cols = torch.arange(T - P, T + 1, device=dev)
            mask = (cols[None, :] >= pad[:, None])[:, None, None, :]               # (B, 1, 1, P+1)
            x = torch.from_numpy(tokens[:, None]).to(dev)
            logits, kv = self.module_.decode(x, pos, state["kv"], mask)
            if rotary:   # the rolling cache: the band sees block_size - 1 columns back
                kv = [(k[:, :, 1 - self.block_size:], v[:, :, 1 - self.block_size:]) for k, v in kv]
            return {"hist": hist, "kv": kv, "pad": pad, "len": T + 1}, self._logprobs(logits)

    def _reorder_state(self, state, rows):
        idx = torch.from_numpy(rows).to(self._torch_device())
        return {"hist": [state["hist"][r] for r in rows], "pad": state["pad"][idx], "len": state["len"],
                "kv": [(k[idx], v[idx]) for k, v in state["kv"]]}
