"""Recurrent language models: Elman RNN (tanh), LSTM and GRU, one module and three estimators.

    <s> w1 w2 ... -> embedding -> dropout -> recurrent stack (n_layers) -> dropout -> linear -> logits

In training, `weight_drop` > 0 applies DropConnect to the hidden-to-hidden matrices (Merity et al.
2017, AWD-LSTM): each batch runs the recurrence with a dropped copy of every `weight_hh_l*`, one
mask per batch shared by all time steps, so the recurrent connections are regularised without
touching the state itself; scoring uses the weights as they are.

ln p(w_t | <s> w_<t) = log_softmax(W h_t + b) with `<s>` masked to -inf, h_t the top layer's state
(or the adaptive softmax of h_t, `softmax="adaptive"`, tied to the embedding or not; see
`langmodels.neural.adaptive`).
The incremental state of generation is the recurrent hidden state itself, so extending a prefix
costs one step. Scoring follows `context`: `sentence` scores each sequence from `<s>` with a fresh
state (the setting comparable with n-gram models); `stream` scores the corpus as one stream
(`<s>` once, then each sequence followed by `</s>`), carrying the state across sequences.

Scoring is exact and batched where exactness allows. Sentence context: sequences are independent,
so they run as length-sorted padded batches (`NeuralModel._scored_features`). Stream context: the
state at any point depends on the whole stream before it, and no finite warm-up reproduces it (a
stretch started from a zero state converges towards the carried state but never equals it), so B
parallel stretches are exact only if each starts from the state carried to it, which needs the
stretches before it computed first: they would run one after another anyway. The stream is
therefore read as one row, in chunks of STREAM_CHUNK inputs per recurrent call (the input
projections of a chunk are one matrix product; only h_{t-1} W_hh is sequential), and the output
layer, which dominates the cost with a large vocabulary, runs batched over each chunk.

The file reads top to bottom: the network (`RNNModule`, a plain `nn.Module`), then the estimators
around it. It imports torch; the registry imports it only when one of these models is made.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._checks import check_float, check_int
from ..errors import InvalidParameterError
from ..vocabulary import BOS_ID
from .adaptive import AdaptiveSoftmax, TiedAdaptiveSoftmax
from .batching import row_chunks, sentence_batches, sentence_pieces, stream_of, stream_rows
from .estimator import NeuralModel

STREAM_CHUNK = 2048   # tokens per forward call when scoring a stream (state carried across calls)


# --- the network ---------------------------------------------------------------------------------
class RNNModule(nn.Module):
    """Embedding -> dropout -> nn.RNN/LSTM/GRU (`cell`) -> dropout -> linear (or adaptive softmax).

    `forward(x, state)` maps (B, T) ids and the previous state (None: zeros) to (B, T, V) logits
    (log-probabilities with an adaptive softmax) and the new state; `forward(x, state, target)`
    returns the summed training loss instead (`computes_loss`: the adaptive softmax, which never
    builds the (B, T, V) output); `last` serves the start of generation from rows of different lengths.
    """

    def __init__(self, cell, vocab_size, embed_dim, hidden_size, n_layers, dropout, tie_weights,
                 cutoffs=None, embed_dropout=0.0, weight_drop=0.0):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.embed_dropout = embed_dropout
        self.weight_drop = weight_drop
        self.embed = nn.Embedding(vocab_size, embed_dim)
        rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        extra = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        # Time-major inside, the layout nn.RNN/LSTM/GRU compute in: batch_first copies the input
        # and output around the recurrence (measured ~4% of a CPU training step).
        self.rnn = rnn(embed_dim, hidden_size, n_layers,
                       dropout=dropout if n_layers > 1 else 0.0, **extra)
        self.computes_loss = cutoffs is not None
        if not self.computes_loss:
            self.head = nn.Linear(hidden_size, vocab_size)
        elif tie_weights:   # its word rows are the embedding's (E == H)
            self.head = TiedAdaptiveSoftmax(self.embed, cutoffs)
        else:
            self.head = AdaptiveSoftmax(hidden_size, vocab_size, cutoffs)
        # Uniform(-0.1, 0.1) embedding and output layer, as the PyTorch word-LM example.
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        if self.computes_loss:   # the clustered layer initialises its own weights (see adaptive.py)
            return
        nn.init.zeros_(self.head.bias)
        if tie_weights:
            self.head.weight = self.embed.weight   # (V, E) used as (V, H): E == H
        else:
            nn.init.uniform_(self.head.weight, -0.1, 0.1)

    def embed_words(self, x):
        """(..) ids -> (.., E) embeddings; in training, each word's row is dropped for the whole
        batch with probability `embed_dropout` (Gal & Ghahramani 2016), the rest scaled up."""
        e = self.embed(x)
        if self.training and self.embed_dropout:
            p = self.embed_dropout
            keep = torch.empty(len(self.embed.weight), device=x.device).bernoulli_(1 - p) / (1 - p)
            e = e * keep[x][..., None]
        return e

    def features(self, x, state=None):
        """What the output layer reads: (B, T) ids -> (T, B, H), time-major, and the state."""
        e = self.drop(self.embed_words(x.t()))  # (T, B, E)
        out, state = self.recur(e, state)       # (T, B, H); state (L, B, H) or a pair of them
        return self.drop(out), state

    def recur(self, e, state):
        """The recurrent stack on (T, B, E) inputs; in training with `weight_drop`, on a dropped
        copy of the hidden-to-hidden matrices (the module's own weights stay as they are)."""
        if not (self.training and self.weight_drop):
            return self.rnn(e, state)
        dropped = {name: nn.functional.dropout(w, self.weight_drop)
                   for name, w in self.rnn.named_parameters() if name.startswith("weight_hh")}
        return torch.func.functional_call(self.rnn, dropped, (e, state))

    def forward(self, x, state=None, target=None):
        h, state = self.features(x, state)      # (T, B, H)
        # A contiguous input lets nn.Linear run one addmm with the bias fused; on the strided
        # view it runs mm + add_ (A/B: 1.03-1.05x training tokens/s for a copy of B x T x H).
        h = h.transpose(0, 1).contiguous()      # (B, T, H)
        if target is not None:
            return self.head.nll(h.flatten(0, 1), target.reshape(-1)), state
        return self.head(h), state              # (B, T, V)

    def last(self, x, lengths):
        """Top-layer output after each row's last real input, and the state there."""
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(x.t()), lengths.cpu(), enforce_sorted=False)             # from (T, B, E)
        _, state = self.rnn(packed)             # state at each row's own end (L, B, H)
        top = (state[0] if isinstance(state, tuple) else state)[-1]   # (B, H)
        return self.head(top), state            # (B, V)


# --- the estimators ------------------------------------------------------------------------------
class _RecurrentModel(NeuralModel):
    """Shared estimator of the three cells; see the module docstring for the parameters' roles.

    `bptt` is the truncated back-propagation length in `stream` mode (sentence mode back-propagates
    through whole sequences). `tie_weights=True` needs `embed_dim == hidden_size`.

    With `checkpoint_dir`, a checkpoint is written after each epoch and also mid-epoch, every
    `checkpoint_every` steps and every `checkpoint_seconds` seconds (None: never), so that
    `fit(..., resume=True)` after a crash or Ctrl-C continues exactly where the run stopped.

    Good calls::

        make("lstm", epochs=5).fit(train, valid)           # early stopping on valid
        make("lstm", context="stream", optimizer="sgd", lr=20, clip=0.25, bptt=35)

    Bad calls::

        make("gru", tie_weights=True, embed_dim=100, hidden_size=200).fit(train)  # sizes differ

    Parameters
    ----------
    embed_dim : int, default 200
        Width of the word embeddings.
    hidden_size : int, default 200
        Width of each recurrent layer's state.
    n_layers : int, default 2
        Recurrent layers stacked.
    dropout : float, default 0.2
        Dropout in [0, 1) on the embeddings, between layers and before the output layer.
    tie_weights : bool or "auto", default False
        Share the embedding matrix with the output layer (Press & Wolf 2017); True needs
        embed_dim == hidden_size. With softmax="adaptive", True ties the adaptive softmax (each
        word's output row is its embedding row; `langmodels.neural.adaptive.TiedAdaptiveSoftmax`).
        "auto": tied exactly when the softmax is full and embed_dim == hidden_size.
    bptt : int, default 35
        Truncated back-propagation length in stream mode.
    embed_dropout : float, default 0.0
        Probability in [0, 1) of dropping a word's whole embedding row for a training batch
        (word-level dropout, on top of `dropout`).
    weight_drop : float, default 0.0
        DropConnect probability in [0, 1) on the hidden-to-hidden matrices in training (one mask
        per batch for every time step; AWD-LSTM's weight drop). 0 trains exactly as before.
    lr, optimizer, betas, weight_decay, epochs, max_steps, batch_size, clip, warmup, schedule
        See `NeuralModel`.
    patience, context, seed, device, compile, precision, threads, checkpoint_dir, checkpoint_every,
    checkpoint_seconds, progress, softmax, cutoffs
        See `NeuralModel`.
    """

    cell = "rnn"
    architecture = ("embed_dim", "hidden_size", "n_layers", "tie_weights", "softmax")

    # lr=1e-2 (AdamW): the best of 1e-3, 3e-3, 1e-2, 3e-2 for short runs of the LSTM on PTB-mini and
    # Shakespeare-words (benchmarks/RESULTS.md, "Default learning rate (issue #16)"). Tying, dropout
    # 0.35 and weight decay 0.1 won a small grid on PTB-mini but lost on WT2-mini at the same
    # budget, so the defaults stay (benchmarks/RESULTS.md, "Small-data recipes (issue #13)").
    def __init__(self, embed_dim: int = 200, hidden_size: int = 200, n_layers: int = 2,
                 dropout: float = 0.2, tie_weights: bool | str = False, lr: float = 1e-2,
                 optimizer: str = "adamw", betas: tuple[float, float] = (0.9, 0.999),
                 weight_decay: float = 0.01, epochs: int = 10,
                 max_steps: int | None = None, batch_size: int = 20, bptt: int = 35,
                 clip: float = 1.0, warmup: int = 0, schedule: str = "cosine",
                 patience: int | None = 3, context: str = "sentence", seed: int = 0,
                 device: str = "auto", compile: bool = False,
                 precision: str = "auto", threads: int | None = 1,
                 checkpoint_dir: str | None = None, checkpoint_every: int | None = None,
                 checkpoint_seconds: float | None = 60.0, progress: bool = True,
                 embed_dropout: float = 0.0, softmax: str = "full", cutoffs: list[int] | None = None,
                 weight_drop: float = 0.0):
        self.embed_dim = embed_dim
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.dropout = dropout
        self.embed_dropout = embed_dropout
        self.weight_drop = weight_drop
        self.softmax = softmax
        self.cutoffs = cutoffs
        self.tie_weights = tie_weights
        self.lr = lr
        self.optimizer = optimizer
        self.betas = betas
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.bptt = bptt
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
        check_int("hidden_size", self.hidden_size, low=1)
        check_float("embed_dropout", self.embed_dropout, low=0.0, high=1.0, high_open=True)
        check_float("weight_drop", self.weight_drop, low=0.0, high=1.0, high_open=True)
        check_int("bptt", self.bptt, low=1)
        if self.tie_weights is True and self.embed_dim != self.hidden_size:
            raise InvalidParameterError(
                f"tie_weights needs embed_dim == hidden_size, got {self.embed_dim} and {self.hidden_size}")

    def _new_module(self, vocab_size):
        return RNNModule(self.cell, vocab_size, self.embed_dim, self.hidden_size, self.n_layers,
                         self.dropout, self._tied(), getattr(self, "cutoffs_", None),
                         self.embed_dropout, self.weight_drop)

    def _tied(self) -> bool:
        if self.tie_weights == "auto":
            return self.softmax == "full" and self.embed_dim == self.hidden_size
        return bool(self.tie_weights)

    # --- training batches ------------------------------------------------------------------------
    def _epoch_batches(self, corpus, rng):
        if self.context == "sentence":
            return [(x, y, True) for x, y in sentence_batches(sentence_pieces(corpus), self.batch_size, rng)]
        rows = stream_rows(stream_of(corpus), self.batch_size)                 # (B, n + 1)
        return [(x, y, i == 0) for i, (x, y) in enumerate(row_chunks(rows, self.bptt))]

    # --- scoring ---------------------------------------------------------------------------------
    def _score(self, corpus):
        if self.context == "sentence":
            return self._score_rows(self._sentence_rows(corpus), corpus.n_targets)
        return self._score_stream(stream_of(corpus))

    def _sentence_rows(self, corpus):
        rows, pos = [], 0
        for seq in corpus.sequences():
            x = np.concatenate([[BOS_ID], seq])
            y = np.concatenate([seq, [corpus.vocab.eos_id]])
            rows.append((x, y, np.arange(pos, pos + len(y))))
            pos += len(y)
        return rows

    def _features(self, x):
        return self.module_.features(x)[0].transpose(0, 1)                # (B, T, H)

    def _score_stream(self, stream):
        """The stream as one row, STREAM_CHUNK inputs per recurrent call with the state carried,
        the output layer batched over each chunk (see the module docstring for why one row)."""
        dev = self._torch_device()
        out, state = [], None
        for start in range(0, len(stream) - 1, STREAM_CHUNK):
            y = torch.from_numpy(stream[start + 1:start + 1 + STREAM_CHUNK]).to(dev)      # (T,)
            x = torch.from_numpy(stream[start:start + len(y)][None]).to(dev)              # (1, T)
            h, state = self.module_.features(x, state)                                    # (T, 1, H)
            out.append(self._head_logprobs(h[:, 0], y))
        return np.concatenate(out)

    # --- incremental state: the hidden state -----------------------------------------------------
    def _start_state(self, histories):
        with self._threads(), torch.no_grad():
            dev = self._torch_device()
            x = np.zeros((len(histories), 1 + max(len(h) for h in histories)), np.int64)
            for i, h in enumerate(histories):
                x[i, 0] = BOS_ID
                x[i, 1:1 + len(h)] = h
            lengths = torch.tensor([1 + len(h) for h in histories])
            logits, state = self.module_.last(torch.from_numpy(x).to(dev), lengths)
            return state, self._logprobs(logits)

    def _advance(self, state, tokens):
        with self._threads(), torch.no_grad():
            x = torch.from_numpy(tokens[:, None]).to(self._torch_device())   # (B, 1)
            logits, state = self.module_(x, state)
            return state, self._logprobs(logits[:, 0])

    def _reorder_state(self, state, rows):
        idx = torch.from_numpy(rows).to(self._torch_device())
        if isinstance(state, tuple):
            return tuple(s.index_select(1, idx) for s in state)
        return state.index_select(1, idx)


class RNNModel(_RecurrentModel):
    """Elman RNN language model: h_t = tanh(W x_t + U h_{t-1} + b) per layer.

    Parameters
    ----------
    embed_dim, hidden_size, n_layers, dropout, tie_weights, bptt, embed_dropout, weight_drop
        See `_RecurrentModel`: the three cells share them.
    lr, optimizer, betas, weight_decay, epochs, max_steps, batch_size, clip, warmup, schedule
        See `NeuralModel`.
    patience, context, seed, device, compile, precision, threads, checkpoint_dir, checkpoint_every,
    checkpoint_seconds, progress, softmax, cutoffs
        See `NeuralModel`.
    """

    cell = "rnn"


class LSTMModel(_RecurrentModel):
    """LSTM language model (Hochreiter & Schmidhuber 1997; torch.nn.LSTM).

    Parameters
    ----------
    embed_dim, hidden_size, n_layers, dropout, tie_weights, bptt, embed_dropout, weight_drop
        See `_RecurrentModel`: the three cells share them.
    lr, optimizer, betas, weight_decay, epochs, max_steps, batch_size, clip, warmup, schedule
        See `NeuralModel`.
    patience, context, seed, device, compile, precision, threads, checkpoint_dir, checkpoint_every,
    checkpoint_seconds, progress, softmax, cutoffs
        See `NeuralModel`.
    """

    cell = "lstm"


class GRUModel(_RecurrentModel):
    """GRU language model (Cho et al. 2014; torch.nn.GRU).

    Parameters
    ----------
    embed_dim, hidden_size, n_layers, dropout, tie_weights, bptt, embed_dropout, weight_drop
        See `_RecurrentModel`: the three cells share them.
    lr, optimizer, betas, weight_decay, epochs, max_steps, batch_size, clip, warmup, schedule
        See `NeuralModel`.
    patience, context, seed, device, compile, precision, threads, checkpoint_dir, checkpoint_every,
    checkpoint_seconds, progress, softmax, cutoffs
        See `NeuralModel`.
    """

    cell = "gru"
