"""`NeuralModel`: what RNNs and the Transformer share around their `nn.Module`.

A family supplies four things — `_new_module(V)` (a plain `nn.Module` whose `forward(x, state)`
returns `(logits (B, T, V), state)`), `_epoch_batches` (training batches for its `context`),
`_score` (ln p of each counted target) and the incremental-state hooks — and this class adds
the parameter checks, the one training loop (`training.train`), save/load and the contract's
normalisation: every distribution is `log_softmax` over the logits with `<s>` set to -inf.
`ModuleState` is the part the masked `bert` (`langmodels.neural.bert`) shares with them: the torch
runtime, the parameter count, the learning curve and the module's weights as saved arrays.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from .._checks import check_choice, check_float, check_int, check_stored_shape
from .._torch import check_threads, resolve_device, torch_threads
from ..base import Estimator, LanguageModel
from ..corpus import Corpus
from ..errors import CheckpointError, InvalidParameterError
from ..vocabulary import BOS_ID
from .batching import IGNORE, pad_rows
from .training import check_training_params

# Scoring batches hold at most SCORE_TOKENS positions (larger batches only lose cache locality);
# the output layer runs HEAD_ROWS positions at a time (see `NeuralModel._head_logprobs`).
SCORE_TOKENS, HEAD_ROWS = 4096, 128


# The state_dict entries with one row per vocabulary id (shared by the RNN and Transformer modules).
VOCAB_ROWS = ("embed.weight", "head.weight", "head.bias")


def carry_over(state: dict, base_vocab, vocab, rows: tuple[str, ...] = VOCAB_ROWS) -> dict:
    """A state_dict for `vocab` from one for `base_vocab`: the vocabulary rows of the entries named in
    `rows` gathered through `vocab.index_in(base_vocab)` (unknown words take `<unk>`'s row), rows
    past the vocabulary (a network's own ids, such as BERT's [MASK]) kept after them, the rest as is."""
    import torch

    idx = torch.from_numpy(vocab.index_in(base_vocab))
    V = len(base_vocab)

    def gather(v):
        return torch.cat([v.index_select(0, idx), v[V:]]) if len(v) > V else v.index_select(0, idx)

    return {k: gather(v) if k in rows else v.clone() for k, v in state.items()}


class ModuleState:
    """What every estimator around one trained `nn.Module` (`module_`, with `history_` from the
    training loop) shares, causal or masked: the torch runtime, the parameter count, the learning
    curve, and save / load of the module's weights as arrays."""

    def _threads(self):
        """The block runs with `threads` torch CPU threads (None: one; see langmodels._torch)."""
        return torch_threads(self.threads)

    def _torch_device(self):
        return resolve_device(self.device)

    def n_parameters(self) -> int:
        """The trainable numbers of the network: the sizes of its parameters, a tied weight
        counted once (fixed buffers such as sinusoidal positions are not parameters)."""
        self._check_fitted()
        return int(sum(p.numel() for p in self.module_.parameters()))

    def learning_curve(self) -> list[dict]:
        """The `history_` records, one per epoch (epoch, step, lr, train_loss, train_tokens_per_s
        and valid_loss when validated), each with `train_nll` = train_loss (the mean training
        loss of the epoch, measured while the weights changed) and `valid_nll` = valid_loss
        (measured after the epoch), both in nats per counted token."""
        self._check_fitted()
        return [{**r, "train_nll": r.get("train_loss"), "valid_nll": r.get("valid_loss")}
                for r in self.history_]

    #: state_dict entries with one row per vocabulary id (see `carry_over`).
    vocab_rows: tuple[str, ...] = VOCAB_ROWS

    def _base_weights(self, init) -> tuple:
        """(state_dict copy, vocabulary) of the model to fine-tune from, checked against self."""
        import os

        from ..base import load

        if isinstance(init, (str, os.PathLike)):
            init = load(init)
        if not isinstance(init, Estimator):
            raise TypeError(f"init must be a fitted {type(self).__name__} or a saved model directory, "
                            f"got {type(init).__name__}")
        if type(init) is not type(self):
            raise InvalidParameterError(
                f"init is a {type(init).__name__} ({init.registry_name!r}), not a "
                f"{type(self).__name__} ({self.registry_name!r}): only the same model family can "
                f"start its training")
        init._check_fitted()
        self._check_params()
        for name in self.architecture:
            if getattr(init, name) != getattr(self, name):
                raise InvalidParameterError(
                    f"init has {name}={getattr(init, name)!r} but this model has "
                    f"{name}={getattr(self, name)!r}; architecture parameters must match")
        state = {k: v.detach().cpu().clone() for k, v in init.module_.state_dict().items()}
        return state, init.vocab_

    # --- persistence ---------------------------------------------------------------------------
    def _get_state(self):
        arrays = {k: v.detach().float().cpu().numpy() for k, v in self.module_.state_dict().items()}
        return arrays, {"history": self.history_}

    def _set_state(self, arrays, meta):
        import torch

        # Compare shapes on a module built on the meta device, which allocates nothing: an edited
        # config (hidden_size=10**9) fails here instead of asking torch for terabytes.
        try:
            with torch.device("meta"):
                expected = self._new_module(len(self.vocab_)).state_dict()
        except RuntimeError as e:   # sizes whose element count overflows int64, even on meta
            sizes = ", ".join(f"{k}={getattr(self, k)!r}" for k in getattr(self, "architecture", ()))
            raise CheckpointError(f"the saved parameters ({sizes}) imply weights too large to describe "
                                  f"({e}); an edited config.json?") from None
        for name in arrays:
            if name not in expected:
                raise CheckpointError(f"saved array {name!r} is not a weight of a {type(self).__name__} "
                                      f"with these parameters")
        for name, tensor in expected.items():
            check_stored_shape(name, arrays, tuple(tensor.shape))
        torch.manual_seed(self.seed)
        module = self._new_module(len(self.vocab_))
        module.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()})
        self.module_ = module.to(self._torch_device()).eval()
        self.history_ = list(meta.get("history", []))


class NeuralModel(ModuleState, LanguageModel):
    """Base of the neural estimators; see the module docstring. Subclasses define `__init__`.

    The training and runtime parameters the RNN, LSTM, GRU and Transformer models share are
    documented here once (the Hugging Face model reads the same ones); each class documents its
    architecture. Where the defaults differ, the RNN family's comes first.

    Parameters
    ----------
    lr : float, default 1e-3
        Peak learning rate, > 0.
    optimizer : {"adamw", "sgd"}, default "adamw"
        AdamW (no weight decay on 1-D weights, as nanoGPT) or plain SGD.
    betas : (float, float), default (0.9, 0.999)
        AdamW's moment decay rates.
    weight_decay : float, default 0.01 (RNN family), 0.1 (Transformer)
        Decoupled weight decay (AdamW) or L2 penalty (SGD).
    epochs : int, default 10
        Passes over the training corpus at most; 0 trains nothing (a fine-tuning start as is).
    max_steps : int or None, default None
        Optimizer steps to train for instead of `epochs` (None: `epochs` decides).
    batch_size : int, default 20 (RNN family), 32 (Transformer)
        Rows per optimizer step (sequences in sentence mode, parallel streams in stream mode).
    clip : float, default 1.0
        Gradient norm clipping threshold (0: none).
    warmup : int, default 0 (RNN family), 100 (Transformer)
        Steps of linear learning-rate warmup from lr / warmup to lr.
    schedule : {"cosine", "plateau", "constant"}, default "cosine"
        After warmup: cosine decay to lr / 10 over the run; x 1/4 after each epoch whose
        validation loss did not improve; or constant.
    patience : int or None, default 3
        Early stopping: stop after this many epochs without a better validation loss and keep
        the best weights (None: never stop early; only used when `fit` gets `valid`).
    context : {"sentence", "stream"}, default "sentence"
        Train and score each sequence from `<s>` with a fresh state ("sentence", comparable with
        n-gram models), or the corpus as one stream with the state carried across sequences.
    seed : int, default 0
        Seeds the initial weights, dropout and the data order of every epoch.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default "auto"
        Where to train and score ("auto": CUDA when present).
    compile : bool, default False
        Train through `torch.compile`.
    precision : {"auto", "bf16", "fp32"}, default "auto"
        Arithmetic of the training forward pass: "bf16" runs it under bfloat16 autocast (matrix
        products in bf16; weights, optimizer state and loss in float32), "fp32" in float32, "auto"
        in bf16 on CUDA and float32 on the CPU (the CPU's results then do not depend on its
        instruction set). On a CPU with bf16 matrix instructions (AVX512-BF16, AMX) "bf16" trains
        2.6-2.9x faster, to the same perplexity (benchmarks/precision.py, RESULTS.md); elsewhere it
        is slower. Scoring is float32 whatever this says.
    threads : int or None, default 1
        torch CPU threads during fit and scoring (None: 1; see `langmodels._torch`).
    checkpoint_dir : str or None, default None
        Directory for a checkpoint after every epoch, from which `fit(..., resume=True)`
        continues an interrupted run (to the same weights as a straight run).
    checkpoint_every : int or None, default None
        Also checkpoint every this many optimizer steps within an epoch (needs `checkpoint_dir`).
    checkpoint_seconds : float or None, default 60
        Also checkpoint when this many seconds have passed since the last checkpoint, so a killed
        process loses at most that much work (needs `checkpoint_dir`; None: only at epoch ends
        and every `checkpoint_every` steps).
    progress : bool, default True
        Show a tqdm bar over training steps (on a terminal); one INFO line per epoch goes to the
        `langmodels` logger either way.
    softmax : {"full", "adaptive"}, default "full"
        The output layer: one softmax over the whole vocabulary, or the adaptive softmax
        (`langmodels.neural.adaptive`: the frequent words in a head cluster, the rare ones in
        cheaper tail clusters; still an exact distribution over the vocabulary). "adaptive" is
        tied to the embedding with tie_weights=True only ("auto" leaves it untied): the words'
        output rows are then their embedding rows, read by each tail through a d x d projection
        (on WT2-mini's tied LSTM recipe: 2.6x less training CPU than the tied full softmax, but
        25% higher test perplexity after 15 epochs; benchmarks/RESULTS.md).
    cutoffs : list of int or None, default None
        The adaptive softmax's cluster boundaries in vocabulary ids (ids are sorted by training
        frequency): strictly increasing, the first at least 3, the last below the vocabulary size.
        None: the ranks covering 80% and 95% of the training tokens. Only with softmax="adaptive".

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (the best weights when early stopping).
    history_ : list of dict
        One record per epoch: epoch, step, lr, train_loss, train_tokens_per_s and, when
        validated, valid_loss (losses in nats per counted token).
    vocab_ : Vocabulary
        The training corpus's vocabulary.
    cutoffs_ : list of int or None
        The adaptive softmax's cutoffs used (None: a full softmax).
    """

    has_incremental_state = True
    fit_options = frozenset({"init", "resume", "on_epoch_end"})

    # --- parameters --------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_training_params(self)
        check_int("embed_dim", self.embed_dim, low=1)
        check_int("n_layers", self.n_layers, low=1)
        check_float("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        if self.bptt is not None:
            check_int("bptt", self.bptt, low=1)
        check_choice("context", self.context, ["sentence", "stream"])
        check_threads(self.threads)
        self._check_output_layer()
        self._check_family()

    def _check_output_layer(self) -> None:
        from .adaptive import check_cutoffs

        check_choice("softmax", self.softmax, ["full", "adaptive"])
        check_choice("tie_weights", self.tie_weights, [True, False, "auto"])
        check_cutoffs(self.cutoffs)
        if self.cutoffs is not None and self.softmax != "adaptive":
            raise InvalidParameterError(f"cutoffs={list(self.cutoffs)} only apply to softmax='adaptive' "
                                        f"(got softmax={self.softmax!r})")

    def _output_cutoffs(self, vocab) -> list[int] | None:
        """The adaptive softmax's cutoffs for `vocab` (None: a full softmax): `cutoffs`, checked
        against its size, or the defaults from its training counts."""
        from .adaptive import check_cutoffs, frequency_cutoffs

        if self.softmax != "adaptive":
            return None
        if self.cutoffs is None:
            return frequency_cutoffs(vocab.counts)
        check_cutoffs(self.cutoffs, len(vocab))
        return [int(c) for c in self.cutoffs]

    def _check_family(self) -> None:
        """Family-specific checks (hidden sizes, heads, window)."""

    # --- what a family provides ----------------------------------------------------------------
    @abstractmethod
    def _new_module(self, vocab_size: int):
        """A freshly initialised nn.Module (built under the seeded torch RNG)."""

    @abstractmethod
    def _epoch_batches(self, corpus: Corpus, rng: np.random.Generator) -> list:
        """The epoch's global batches: (x, y, reset) int64 arrays, reset = start from a fresh state."""

    @abstractmethod
    def _features(self, x):
        """(B, T) ids -> (B, T, d): what `module_.head` reads at each position, from `<s>`."""

    @abstractmethod
    def _sentence_rows(self, corpus: Corpus) -> list:
        """Rows (x, y, where) scoring every target of `corpus` as next_logprobs does, from `<s>`."""

    @abstractmethod
    def _score(self, corpus: Corpus) -> np.ndarray:
        """ln p of every counted target of `corpus` in `corpus.targets()` order, in the context mode."""

    # The constructor parameters that fix the module's shapes: `init` must share them.
    architecture: tuple[str, ...] = ()

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, corpus: Corpus, valid: Corpus | None = None, resume: bool = False,
            on_epoch_end=None, init=None) -> NeuralModel:
        """Train on `corpus` (early stopping on `valid` when given).

        `resume=True` continues an interrupted run from `checkpoint_dir`; `on_epoch_end(record)`
        is called after each epoch (returning True stops training there, keeping the best
        weights so far). `init` (pre-training then fine-tuning): a fitted model of the
        same class, or a directory saved by `save`, with the same architecture parameters;
        training starts from its weights carried over to `corpus.vocab`: the embedding and
        output rows (and output bias) are gathered through `corpus.vocab.index_in(base.vocab_)`,
        so a word the base never saw starts from the base's `<unk>` row (all such words share
        `<unk>`'s logit until training separates them); every other weight is copied. The
        optimizer, schedule and `history_` start afresh and training uses this model's own
        hyper-parameters (`epochs=0` keeps the carried-over weights as they are). The base model
        is not modified.
        """
        start = None
        if init is not None:
            if resume:
                raise InvalidParameterError("resume=True and init are exclusive: resume continues an "
                                            "interrupted run from checkpoint_dir, init starts a new one "
                                            "from a fitted model")
            start = self._base_weights(init)
        return super().fit(corpus, valid, resume=resume, on_epoch_end=on_epoch_end, init=start)

    def _fit(self, corpus: Corpus, valid: Corpus | None = None, resume: bool = False,
             on_epoch_end=None, init: tuple | None = None) -> None:
        """Train with the shared loop, from `init`'s (state_dict, vocabulary) when given."""
        from .training import train

        self.cutoffs_ = self._output_cutoffs(self.vocab_)   # before training: they shape the module
        if init is not None:
            state, base_vocab = init
            init = carry_over(state, base_vocab, self.vocab_, self.vocab_rows)
            if self.cutoffs_ is not None:
                from .adaptive import carry_over_adaptive

                init = carry_over_adaptive(init, self.vocab_.index_in(base_vocab), self.cutoffs_)
        with self._threads():
            train(self, corpus, valid, resume=resume, on_epoch_end=on_epoch_end, init=init)

    # --- persistence: the adaptive softmax's cutoffs shape the module ----------------------------
    def _get_state(self):
        arrays, meta = super()._get_state()
        return arrays, {**meta, "cutoffs": self.cutoffs_}

    def _set_state(self, arrays, meta):
        # Saved before the adaptive softmax existed: a full softmax.
        self.cutoffs_ = meta.get("cutoffs")
        super()._set_state(arrays, meta)

    # --- scoring -------------------------------------------------------------------------------
    def _token_logprobs(self, corpus: Corpus) -> np.ndarray:
        import torch

        with self._threads(), torch.no_grad():
            return self._score(corpus)

    def _next_logprobs(self, histories: list[np.ndarray]) -> np.ndarray:
        return self._start_state(histories)[1]

    def _logprobs(self, logits) -> np.ndarray:
        """(B, V) logits -> float64 ln p with `<s>` at -inf, renormalised over the rest."""
        import torch

        logits = logits.detach().double()
        logits[:, BOS_ID] = -torch.inf
        return torch.log_softmax(logits, dim=-1).cpu().numpy()

    def _score_rows(self, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_out: int,
                    max_tokens: int = SCORE_TOKENS) -> np.ndarray:
        """ln p of the scored targets of independent rows (x, y, where), into an array of n_out."""
        out = np.full(n_out, np.nan)
        for features, y, where in self._scored_features(rows, max_tokens):
            out[where] = self._head_logprobs(features, y)
        return out

    def _head_logprobs(self, features, y) -> np.ndarray:
        """ln p(y_i) from the output layer at (n, d) `features`, `<s>` masked.

        The output layer runs HEAD_ROWS rows at a time so that each (rows, V) block of logits stays
        in cache while it is reduced; one (n, V) block of a large vocabulary (4096 x 13,778 floats
        = 225 MB) is written and read back from memory several times, which cost about a third of
        the LSTM's scoring time on WT2-mini (benchmarks/RESULTS.md, "Exact batched scoring").
        float32 throughout, as the cross-entropy it replaces (equal to it to ~1e-6). An adaptive
        softmax reads only each target's cluster (`target_logprobs`), as in training."""
        import torch

        if hasattr(self.module_.head, "target_logprobs"):
            return self.module_.head.target_logprobs(features, y).cpu().numpy()
        out = torch.empty(len(y), dtype=torch.float32, device=y.device)
        for s in range(0, len(y), HEAD_ROWS):
            z = self.module_.head(features[s:s + HEAD_ROWS]).float()          # (rows, V)
            z[:, BOS_ID] = -torch.inf
            # log_softmax then gather: one fused pass (measured ~8% faster than z_y - logsumexp(z))
            out[s:s + HEAD_ROWS] = torch.log_softmax(z, 1).gather(1, y[s:s + HEAD_ROWS, None])[:, 0]
        return out.cpu().numpy()

    def _target_distributions(self, corpus, max_floats):
        # next_logprobs reads each sequence from <s>: so do the sentence rows, in whole-row passes.
        if self.context != "sentence":
            yield from super()._target_distributions(corpus, max_floats)
            return
        import torch

        with self._threads(), torch.no_grad():
            for logits, y, _ in self._scored_logits(self._sentence_rows(corpus), max_floats):
                yield self._logprobs(logits), y.cpu().numpy()

    def _scored_logits(self, rows, max_logits: int):
        """As `_scored_features`, with the output layer's (n, V) float32 logits in place of the
        features, at most max_logits of them at a time."""
        V = len(self.vocab_)
        for features, y, where in self._scored_features(rows):
            step = max(1, max_logits // V)
            for s in range(0, len(y), step):
                yield self.module_.head(features[s:s + step]).float(), y[s:s + step], where[s:s + step]

    def _scored_features(self, rows, max_tokens: int = SCORE_TOKENS):
        """For rows (x, y, where) — y the targets (IGNORE where not scored), `where` an output index
        per scored target — yield (features (n, d), targets (n,), where (n,)) a batch at a time,
        the features only at scored positions (a window that only gives context costs no output
        layer). Rows are length-sorted and batched within max_tokens inputs (padding included)."""
        import torch

        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
        dev = self._torch_device()
        start = 0
        while start < len(order):
            stop = start + 1
            while stop < len(order) and (stop - start + 1) * len(rows[order[stop]][0]) <= max_tokens:
                stop += 1
            idx = order[start:stop]
            x = torch.from_numpy(pad_rows([rows[i][0] for i in idx], 0)).to(dev)
            y = torch.from_numpy(pad_rows([rows[i][1] for i in idx], IGNORE)).to(dev)
            keep = y != IGNORE                                                # (B, T)
            yield self._features(x)[keep], y[keep], np.concatenate([rows[i][2] for i in idx])
            start = stop

    # --- the descriptive queries ---------------------------------------------------------------
    @property
    def scoring_context(self) -> str:
        """The `context` hyper-parameter: "sentence" or "stream" (see `langmodels.neural.batching`)."""
        self._check_fitted()
        return self.context
