"""A BERT-style masked language model, trained from scratch: a Transformer encoder that sees both sides.

    tokens + positions -> dropout -> n_layers x [x + attn(LN(x)); x + MLP(LN(x))] -> LN -> linear

The blocks are the Transformer LM's own (`langmodels.neural.transformer.Block`), with attention over
the whole sequence instead of the causal left side (padding keys are masked out). The input
vocabulary is the shared one plus two ids of the network's own: `mask_id = V` (the `[MASK]`
token) and `pad_id = V + 1` (padding); the output is over the V shared ids, `<s>` set to -inf.

Training (Devlin et al., 2019): each sequence `<s> w1 .. wn </s>` is a row; in every epoch a fresh
15% (`mask_prob`) of its tokens after `<s>` is selected (at least one per row), and of those 80%
become `[MASK]`, 10% a random vocabulary word and 10% stay as they are; the loss is the
cross-entropy at the selected tokens only. The selection is drawn from the epoch's generator
rng(seed, epoch), as the data order is, so a resumed run sees exactly the masks an uninterrupted
one sees. Training runs through the one neural loop (`langmodels.neural.training`: checkpoints,
resume, early stopping on `valid`'s pseudo-log-likelihood, AdamW, schedules, device, DDP).

The window holds `block_size` tokens: a longer training row is cut into consecutive pieces, and
a longer sequence is scored through the `block_size` tokens centred on its masked positions.

Scoring a masked copy needs a forward pass of its own; `_masked_logprobs` stacks many copies
(of one or many sentences) into each pass and runs the output layer at masked positions only.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_float, check_int
from .._torch import check_threads
from ..corpus import Corpus
from ..errors import InvalidParameterError
from ..masked import MaskedLanguageModel
from ..vocabulary import BOS_ID, EOS_ID
from .batching import IGNORE, sentence_batches
from .estimator import SCORE_TOKENS, ModuleState
from .training import check_training_params
from .transformer import Block, sinusoids

MASK_SHARE, RANDOM_SHARE = 0.8, 0.1   # of the selected tokens: [MASK], a random word; the rest stay


class BertModule(nn.Module):
    """The encoder: forward(x, state) -> (logits (B, T, V), None) for the training loop.

    `features(x)` gives the encoder's final hidden states (B, T, embed_dim) for ids x (B, T) in
    0..V+1 (`mask_id`, `pad_id` included; padding keys are ignored): what a classifier or any
    other task head reads, as `TransformerModule.features` does for the causal model.
    """

    def __init__(self, vocab_size, d, n_layers, n_heads, hidden, block_size, positions, dropout,
                 tie_weights):
        super().__init__()
        self.vocab_size, self.mask_id, self.pad_id = vocab_size, vocab_size, vocab_size + 1
        self.embed = nn.Embedding(vocab_size + 2, d)
        if positions == "learned":
            self.pos = nn.Embedding(block_size, d)
        else:
            self.register_buffer("sinusoid", sinusoids(block_size, d), persistent=False)
            self.scale = math.sqrt(d)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d, n_heads, hidden, dropout, True) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d)
        # Tied: the output weights are the embedding rows of the V shared ids (not mask / pad).
        self.out = None if tie_weights else nn.Linear(d, vocab_size, bias=False)
        self.out_bias = nn.Parameter(torch.zeros(vocab_size))
        for name, p in self.named_parameters():      # as the causal Transformer (GPT-2's scheme)
            if p.dim() >= 2:
                residual = name.endswith(("proj.weight", "mlp.2.weight"))
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layers) if residual else 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def features(self, x):
        """(B, T) ids -> (B, T, d): the final hidden states, every position seeing the whole row."""
        T = x.shape[1]
        if hasattr(self, "pos"):
            h = self.embed(x) + self.pos(torch.arange(T, device=x.device))
        else:   # fixed sinusoids: scale the N(0, 0.02) embeddings up to them (Vaswani et al.)
            h = self.embed(x) * self.scale + self.sinusoid[:T]
        h = self.drop(h)
        keys = (x != self.pad_id)[:, None, None, :]                              # (B, 1, 1, T)
        for block in self.blocks:
            h, _ = block(h, None, keys)
        return self.ln_f(h)

    def head(self, h):
        """(..., d) hidden states -> (..., V) logits over the shared vocabulary."""
        weight = self.embed.weight[:self.vocab_size] if self.out is None else self.out.weight
        return F.linear(h, weight, self.out_bias)

    def forward(self, x, state=None):
        return self.head(self.features(x)), None                                # (B, T, V)


class BertModel(ModuleState, MaskedLanguageModel):
    """A Transformer encoder trained from scratch as a masked LM; see the module docstring.

    Good calls::

        bert = make("bert", embed_dim=128, n_layers=4, epochs=10).fit(train, valid)
        bert.pseudo_perplexity(test), bert.fill_mask(["the <mask> sat on the mat"])

    Bad calls::

        make("bert", mask_prob=0)          # nothing to learn from
        bert.token_logprobs(test)          # a masked model has no next-token distribution

    Parameters
    ----------
    embed_dim : int, default 128
        d, the width of the residual stream; a multiple of `n_heads`.
    hidden_size : int or None, default None
        Width of each block's MLP (None: 4 x embed_dim).
    n_layers : int, default 4
        Encoder blocks stacked.
    n_heads : int, default 4
        Attention heads per block.
    block_size : int, default 128
        The window in tokens, `<s>` and `</s>` included.
    positions : {"learned", "sinusoidal"}, default "learned"
        A learned embedding per position (BERT's) or fixed sinusoids.
    dropout : float, default 0.1
        Dropout in [0, 1) on the embeddings, attention weights and residual branches.
    tie_weights : bool, default True
        Share the token embedding rows with the output layer.
    mask_prob : float, default 0.15
        Share of each row's tokens (after `<s>`) selected for prediction in each epoch, in (0, 1).
    lr, optimizer, betas, epochs, max_steps, batch_size, clip, warmup, schedule, patience
        See `NeuralModel`; `patience` stops on the validation pseudo-log-likelihood.
    weight_decay : float, default 0.01
        Decoupled weight decay (AdamW) or L2 penalty (SGD).
    seed, device, compile, precision, threads, checkpoint_dir, checkpoint_every, checkpoint_seconds, progress
        See `NeuralModel`.

    Attributes
    ----------
    module_ : BertModule
        The trained encoder (the best weights when early stopping); `module_.features(x)` gives
        its hidden states (B, T, embed_dim).
    history_ : list of dict
        One record per epoch: epoch, step, lr, train_loss (nats per selected token),
        train_tokens_per_s and, when validated, valid_loss (minus the mean pseudo-log-likelihood).
    vocab_ : Vocabulary
        The training corpus's vocabulary.
    """

    # The training loop's sentence mode: every row on its own, no state carried between batches.
    context = "sentence"
    fit_options = frozenset({"resume", "on_epoch_end"})
    # What a pre-trained encoder must share with the model it starts (`_base_weights`), and the
    # weights with a row per shared id ([MASK] and padding rows follow the vocabulary's).
    architecture = ("embed_dim", "hidden_size", "n_layers", "n_heads", "block_size", "positions",
                    "tie_weights")
    vocab_rows = ("embed.weight", "out.weight", "out_bias")

    def __init__(self, embed_dim: int = 128, hidden_size: int | None = None, n_layers: int = 4,
                 n_heads: int = 4, block_size: int = 128, positions: str = "learned",
                 dropout: float = 0.1, tie_weights: bool = True, mask_prob: float = 0.15,
                 lr: float = 1e-3, optimizer: str = "adamw", betas: tuple[float, float] = (0.9, 0.999),
                 weight_decay: float = 0.01, epochs: int = 10, max_steps: int | None = None,
                 batch_size: int = 32, clip: float = 1.0, warmup: int = 100, schedule: str = "cosine",
                 patience: int | None = 3, seed: int = 0, device: str = "auto", compile: bool = False,
                 precision: str = "auto",
                 threads: int | None = 1, checkpoint_dir: str | None = None,
                 checkpoint_every: int | None = None, checkpoint_seconds: float | None = 60.0,
                 progress: bool = True):
        self.embed_dim = embed_dim
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.block_size = block_size
        self.positions = positions
        self.dropout = dropout
        self.tie_weights = tie_weights
        self.mask_prob = mask_prob
        self.lr = lr
        self.optimizer = optimizer
        self.betas = betas
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.clip = clip
        self.warmup = warmup
        self.schedule = schedule
        self.patience = patience
        self.seed = seed
        self.device = device
        self.compile = compile
        self.precision = precision
        self.threads = threads
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.progress = progress

    def _check_params(self) -> None:
        check_training_params(self)
        check_int("embed_dim", self.embed_dim, low=1)
        check_int("n_layers", self.n_layers, low=1)
        check_int("n_heads", self.n_heads, low=1)
        if self.embed_dim % self.n_heads:
            raise InvalidParameterError(
                f"embed_dim ({self.embed_dim}) must be a multiple of n_heads ({self.n_heads})")
        if self.hidden_size is not None:
            check_int("hidden_size", self.hidden_size, low=1)
        check_int("block_size", self.block_size, low=3)
        check_choice("positions", self.positions, ["learned", "sinusoidal"])
        check_float("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        check_choice("tie_weights", self.tie_weights, [True, False])
        check_float("mask_prob", self.mask_prob, low=0.0, high=1.0, low_open=True, high_open=True)
        check_threads(self.threads)

    # --- what the training loop needs ---------------------------------------------------------
    def _new_module(self, vocab_size: int) -> BertModule:
        return BertModule(vocab_size, self.embed_dim, self.n_layers, self.n_heads,
                          self.hidden_size or 4 * self.embed_dim, self.block_size, self.positions,
                          self.dropout, self.tie_weights)

    def _fit(self, corpus: Corpus, valid: Corpus | None = None, resume: bool = False,
             on_epoch_end=None) -> None:
        from .training import train

        with self._threads():
            train(self, corpus, valid, resume=resume, on_epoch_end=on_epoch_end)

    def _epoch_batches(self, corpus: Corpus, rng: np.random.Generator) -> list:
        """Length-bucketed batches of rows `<s> w1 .. wn </s>` with this epoch's masks (x, y, reset)."""
        V, W = len(self.vocab_), self.block_size
        pieces = []
        for seq in corpus.sequences():
            row = np.concatenate([[BOS_ID], seq, [EOS_ID]]).astype(np.int64)
            pieces += [(row[i:i + W], row[i:i + W]) for i in range(0, len(row) - 1, W)]
        out = []
        for x, y in sentence_batches(pieces, self.batch_size, rng):
            real = y != IGNORE
            x[~real] = V + 1                                   # pad_id: padding keys are ignored
            out.append((*self._mask(x, y, real & (y != BOS_ID), rng), True))
        return out

    def _mask(self, x, y, selectable, rng):
        """BERT's corruption of one batch: (inputs, targets at the selected positions)."""
        V = len(self.vocab_)
        chosen = selectable & (rng.random(x.shape) < self.mask_prob)
        for r in np.nonzero(~chosen.any(axis=1) & selectable.any(axis=1))[0]:   # at least one per row
            chosen[r, rng.choice(np.nonzero(selectable[r])[0])] = True
        share = rng.random(x.shape)
        x = x.copy()
        x[chosen & (share < MASK_SHARE)] = V                   # mask_id
        swap = chosen & (share >= MASK_SHARE) & (share < MASK_SHARE + RANDOM_SHARE)
        words = rng.integers(0, V - 1, size=int(swap.sum()))
        x[swap] = words + (words >= BOS_ID)                    # any id but <s>
        return x, np.where(chosen, y, IGNORE)

    def _score(self, corpus: Corpus) -> np.ndarray:
        """The validation score the loop reads (valid_loss = minus its mean): the PLL."""
        return self._pseudo_log_likelihood(corpus)

    # --- scoring ---------------------------------------------------------------------------------
    def _window(self, length: int, masked: np.ndarray) -> int:
        """Where the `block_size` window over a row of `length` tokens starts: centred on the
        masked positions, inside the row."""
        W = self.block_size
        if length <= W:
            return 0
        if masked[-1] - masked[0] >= W:
            raise ValueError(f"masked positions {masked.tolist()} do not fit in one window of "
                             f"block_size={W} tokens")
        centre = (int(masked[0]) + int(masked[-1])) // 2
        return min(max(0, centre - W // 2), length - W)

    def _masked_logprobs(self, sequences, masks):
        V = len(self.vocab_)
        rows, where = [], []
        for seq, m in zip(sequences, masks):
            row = np.concatenate([[BOS_ID], seq, [EOS_ID]]).astype(np.int64)
            start = self._window(len(row), m + 1)
            row = row[start:start + self.block_size].copy()
            row[m + 1 - start] = V                             # mask_id
            rows.append(row)
            where.append(m + 1 - start)
        first = np.concatenate([[0], np.cumsum([len(m) for m in masks])])
        out = np.empty((first[-1], V))
        order = np.argsort([len(r) for r in rows], kind="stable")
        dev = self._torch_device()
        with self._threads(), torch.no_grad():
            start = 0
            while start < len(order):
                # rows sorted by length: the batch's last row is its longest
                stop = start + 1
                while stop < len(order) and (stop - start + 1) * len(rows[order[stop]]) <= SCORE_TOKENS:
                    stop += 1
                idx = order[start:stop]
                x = np.full((len(idx), len(rows[idx[-1]])), V + 1, np.int64)      # pad_id
                for i, k in enumerate(idx):
                    x[i, :len(rows[k])] = rows[k]
                b = np.concatenate([np.full(len(where[k]), i) for i, k in enumerate(idx)])
                t = np.concatenate([where[k] for k in idx])
                h = self.module_.features(torch.from_numpy(x).to(dev))                # (B, T, d)
                h = h[torch.from_numpy(b).to(dev), torch.from_numpy(t).to(dev)]        # (masked, d)
                logits = self.module_.head(h).double()
                logits[:, BOS_ID] = -torch.inf
                lp = torch.log_softmax(logits, dim=-1).cpu().numpy()
                slots = np.concatenate([np.arange(first[k], first[k + 1]) for k in idx])
                out[slots] = lp
                start = stop
        return out
