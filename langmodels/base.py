"""The `LanguageModel` contract every family obeys.

A model is a scikit-learn-style estimator: the constructor stores keyword hyper-parameters,
`fit(corpus)` learns and returns `self`, learned state ends in `_`. Once fitted it answers one
question, `next_logprobs(histories)`: the natural-log distribution of the next token over the
shared vocabulary after `<s>` + history. Everything else — `token_logprobs`, perplexity,
generation — is derived from that question (or a faster path that must agree with it), so no
model can be scored by different rules from another. Three descriptive queries complete what
evaluation may ask: `scoring_context`, `n_parameters()` and `learning_curve()`.

What does not depend on the query — parameters, `fit`, the fitted-state checks, `save` and
`load` — lives in `Estimator`, which the masked models' contract (`langmodels.masked`) shares.

Subclasses implement `_fit`, `_next_logprobs` and optionally `_token_logprobs` (a vectorised
path), `_get_state`/`_set_state` (arrays for `save`), the incremental-state hooks, and
override the descriptive queries where the defaults do not describe them.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ._io import atomic_directory, params_from_json, params_to_json, read_utf8, write_json_atomic
from ._io import to_jsonable as _jsonable
from ._version import __version__
from .corpus import Corpus
from .errors import CheckpointError, InvalidParameterError, NotFittedError, VocabularyMismatchError
from .vocabulary import BOS_ID, EOS_ID, Vocabulary

FORMAT_VERSION = 1
ARRAYS_FILE = "arrays.safetensors"


class Estimator(ABC):
    """What every registered model shares, causal or masked: scikit-learn-style parameters,
    `fit` (which adopts the corpus's vocabulary and tokenizer), the fitted-state checks, the
    descriptive queries `n_parameters` and `learning_curve`, and `save` (config.json, vocab.json
    and safetensors arrays; `load` reads any of them back). A family subclasses `LanguageModel`
    (the next-token contract) or `langmodels.masked.MaskedLanguageModel`, never this directly.
    """

    registry_name: ClassVar[str | None] = None  # set by the registry
    #: The name of the tokenizer (`langmodels.tokenize`) of the text the model was fitted on:
    #: `generate` splits string prompts and joins outputs with it. `fit` adopts the corpus's,
    #: `load` restores it; a model built another way (an ARPA file, given parameters) and a model
    #: saved before it was recorded read whitespace-separated text.
    tokenizer_name_: str = "whitespace"
    #: The keyword options `fit` accepts besides `corpus` and `valid` (e.g. "init", "resume",
    #: "on_epoch_end"); `fit` refuses any other, and the CLI reads this to offer --init/--resume.
    fit_options: ClassVar[frozenset[str]] = frozenset()

    # --- scikit-learn-style parameters -------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's parameter names, in signature order (what `get_params` returns)."""
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    # The families' own spelling; code outside a family uses `param_names`.
    _param_names = param_names

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's keyword arguments, as stored."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params) -> Estimator:
        valid = self.param_names()
        for name, value in params.items():
            if name not in valid:
                raise InvalidParameterError(
                    f"{type(self).__name__} has no parameter {name!r}; its parameters are {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(shown)})"

    def check_params(self) -> Estimator:
        """Validate the hyper-parameters without fitting (as `fit` does first); returns `self`.

        Raises InvalidParameterError naming the bad parameter, so a command can fail before it
        loads any data.
        """
        self._check_params()
        return self

    def _check_params(self) -> None:
        """Validate hyper-parameters; raise InvalidParameterError naming the bad one."""

    # --- fitting ---------------------------------------------------------------------------
    def fit(self, corpus: Corpus, valid: Corpus | None = None, **kwargs) -> Estimator:
        """Learn from `corpus` (and `valid`, for early stopping where the family uses it).

        Replaces any earlier fit; the model adopts `corpus.vocab` and `corpus.tokenizer`.
        Returns `self`. Keyword options outside the class's `fit_options` raise TypeError
        before anything changes.
        """
        if not isinstance(corpus, Corpus):
            raise TypeError(f"fit expects a langmodels.Corpus, got {type(corpus).__name__}")
        if valid is not None:
            if not isinstance(valid, Corpus):
                raise TypeError(f"valid must be a langmodels.Corpus, got {type(valid).__name__}")
            valid.check_vocab(corpus.vocab, what="training corpus")
        self._check_params()
        unsupported = sorted(set(kwargs) - set(self.fit_options))
        if unsupported:
            supported = ", ".join(sorted(self.fit_options)) or "none"
            raise TypeError(f"{type(self).__name__}.fit has no option {unsupported[0]!r}; "
                            f"the options it supports: {supported}")
        self._clear_fitted_state()
        self.vocab_ = corpus.vocab
        self.tokenizer_name_ = corpus.tokenizer
        try:
            self._fit(corpus, valid, **kwargs)
        except BaseException:
            # Never a half-trained model that looks fitted: unless the family kept a usable
            # state and marked it partial (Ctrl-C after an epoch; see `is_partial_fit`).
            if not self.is_partial_fit:
                self._clear_fitted_state()
            raise
        return self

    def _clear_fitted_state(self) -> None:
        # A refit must equal a fresh fit: drop every learned attribute first.
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)

    @abstractmethod
    def _fit(self, corpus: Corpus, valid: Corpus | None, **kwargs) -> None:
        """Learn the model's state from `corpus` (self.vocab_ is already set)."""

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "vocab_")

    @property
    def is_partial_fit(self) -> bool:
        """True when `fit` was interrupted (Ctrl-C) after some training and the model kept the best
        state reached so far; `partial_fit_` then says how far it got. Saved and loaded with it."""
        return getattr(self, "partial_fit_", None) is not None

    def check_is_fitted(self) -> None:
        """Raise NotFittedError unless the model is fitted (or loaded), as scikit-learn's
        `check_is_fitted` does; code that takes a model checks with this before using it."""
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(corpus) or langmodels.load(dir)")

    # The families' own spelling; code outside a family uses `check_is_fitted`.
    _check_fitted = check_is_fitted

    @property
    def vocab_size(self) -> int:
        self._check_fitted()
        return len(self.vocab_)

    # --- descriptive queries ------------------------------------------------------------------
    def n_parameters(self) -> int:
        """The number of learned numbers the model stores. The default counts every entry of the
        arrays it saves; families whose saved arrays hold more than that (indices, a tokenizer)
        or less say what they count instead."""
        self._check_fitted()
        arrays, _ = self._get_state()
        return int(sum(np.asarray(a).size for a in arrays.values()))

    def learning_curve(self) -> list[dict[str, Any]]:
        """One dict per training epoch or iteration, in order, holding at least `train_nll` and
        `valid_nll`: the mean negative log-likelihood in nats per counted token on the training
        and the validation corpus (None where it was not measured). Families may add their own
        keys (the epoch, the learning rate, ...). Empty for a model fitted in one pass."""
        self._check_fitted()
        return []

    # --- persistence -------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays (saved as safetensors) and JSON-able learned values."""
        return {}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Restore what `_get_state` returned (self.vocab_ is already set)."""

    def save(self, directory: str | os.PathLike) -> Path:
        """Write `config.json`, `vocab.json` and the arrays; the directory appears whole or not at all."""
        self._check_fitted()
        if self.registry_name is None:
            raise CheckpointError(f"{type(self).__name__} is not registered; register it to save it")
        arrays, meta = self._get_state()
        directory = Path(directory)
        with atomic_directory(directory) as tmp:
            write_json_atomic(tmp / "config.json", {
                "model": self.registry_name,
                "params": params_to_json(self.get_params()),
                "state": _jsonable(meta),
                "vocab_fingerprint": self.vocab_.fingerprint,
                "tokenizer": self.tokenizer_name_,
                **({"partial_fit": self.partial_fit_} if self.is_partial_fit else {}),
                "langmodels_version": __version__,
                "format_version": FORMAT_VERSION,
            }, sort_keys=False)  # parameter dicts load in the order they were given
            self.vocab_.save(tmp / "vocab.json")
            if arrays:
                from safetensors.numpy import save_file

                save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp / ARRAYS_FILE))
            self._save_extra(tmp)
        return directory

    def _save_extra(self, directory: Path) -> None:
        """Families may write further files (e.g. ARPA) into the checkpoint directory."""


class LanguageModel(Estimator):
    """Base class of every model. See the module docstring for the contract.

    Good calls::

        model = make("kneser-ney", order=3).fit(train)      # fit returns the model
        model.next_logprobs([[], [5, 9]])                    # (2, V): after <s>, after <s> 5 9
        model.token_logprobs(test)                           # test built on model.vocab_

    Bad calls::

        model.next_logprobs([[BOS_ID, 5]])   # histories exclude <s>: error
        model.token_logprobs(other_vocab)    # VocabularyMismatchError
    """

    #: Families whose scores depend on an incremental state can say so; the default state is
    #: the list of histories, re-scored from scratch at each step.
    has_incremental_state: ClassVar[bool] = False

    # --- what evaluation may ask besides the query --------------------------------------------
    # Metrics, the benchmark harness and the CLI read a model through these three and the query
    # below, never through a family's own attributes.
    @property
    def scoring_context(self) -> str:
        """How `token_logprobs` reads a corpus: "sentence" (each sequence from `<s>`, the
        default) or "stream" (the corpus as one text, each token seeing the ones before it);
        a mixture whose components disagree says "mixed"."""
        self._check_fitted()
        return "sentence"

    # --- the query -------------------------------------------------------------------------
    def next_logprobs(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        """ln p(next token | <s> + history) for each history: an array (B, len(vocab)).

        Each row sums to 1 in probability; `<s>` always has log-probability -inf. A history may
        be empty, hold unseen ids such as `<unk>`, or be longer than the model's context.
        """
        self._check_fitted()
        hs = self.check_histories(histories)
        if not hs:
            return np.zeros((0, len(self.vocab_)))
        out = self._next_logprobs(hs)
        return out

    def check_histories(self, histories: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """The histories as int64 arrays, checked as `next_logprobs` checks them: a list of id
        sequences, every id inside the vocabulary, no `<s>`. Raises ValueError otherwise."""
        self._check_fitted()
        if isinstance(histories, np.ndarray) and histories.ndim == 1:
            raise ValueError("histories is a list of id sequences; wrap a single history in a list")
        V = len(self.vocab_)
        out = []
        for h in histories:
            a = np.asarray(h, dtype=np.int64).reshape(-1)
            if len(a):
                if a.min() < 0 or a.max() >= V:
                    raise ValueError(f"history {a.tolist()[:10]} has an id outside 0..{V - 1}")
                if (a == BOS_ID).any():
                    raise ValueError("histories are the tokens after <s>: they must not contain <s> "
                                     f"(id {BOS_ID})")
            out.append(a)
        return out

    # The families' own spelling; code outside a family uses `check_histories`.
    _check_histories = check_histories

    @abstractmethod
    def _next_logprobs(self, histories: list[np.ndarray]) -> np.ndarray:
        """(B, V) log-probabilities for validated int64 histories."""

    def token_logprobs(self, corpus: Corpus) -> np.ndarray:
        """ln p of every counted token of `corpus`, in `corpus.targets()` order.

        Each sequence is scored from `<s>` and its `</s>` is included; the values equal those
        `next_logprobs` gives (families vectorise this where they can).
        """
        self._check_fitted()
        if not isinstance(corpus, Corpus):
            raise TypeError(f"token_logprobs expects a langmodels.Corpus, got {type(corpus).__name__}")
        corpus.check_vocab(self.vocab_)
        return self._token_logprobs(corpus)

    def _token_logprobs(self, corpus: Corpus, batch_size: int = 256) -> np.ndarray:
        # Generic path: one history per target, scored in batches through _next_logprobs.
        targets = corpus.targets()
        out = np.empty(len(targets))
        pos = 0
        pending: list[np.ndarray] = []
        for seq in corpus.sequences():
            for t in range(len(seq) + 1):
                pending.append(seq[:t].astype(np.int64))
                if len(pending) == batch_size:
                    pos = self._score_pending(pending, targets, out, pos)
        if pending:
            self._score_pending(pending, targets, out, pos)
        return out

    def _score_pending(self, pending, targets, out, pos) -> int:
        lp = self._next_logprobs(pending)
        n = len(pending)
        out[pos:pos + n] = lp[np.arange(n), targets[pos:pos + n]]
        pending.clear()
        return pos + n

    def target_distributions(self, corpus: Corpus, max_floats: int = 4_000_000):
        """Yield (lp, targets) chunks that cover every counted token of `corpus` once, in no fixed
        order: lp (n, V) holds ln p(. | <s> h) at each target's history h, targets (n,) the ids.
        About `max_floats` scores are held at a time. Ranking metrics read whole distributions."""
        self._check_fitted()
        if not isinstance(corpus, Corpus):
            raise TypeError(f"target_distributions expects a langmodels.Corpus, got {type(corpus).__name__}")
        corpus.check_vocab(self.vocab_)
        return self._target_distributions(corpus, max(1, int(max_floats)))

    def _target_distributions(self, corpus: Corpus, max_floats: int):
        # Generic path: a batch of sequences (longest first) advanced a token at a time through
        # the incremental state. Families with a whole-sequence forward pass override this.
        order = np.argsort(-corpus.lengths, kind="stable")
        batch = max(1, max_floats // len(self.vocab_))
        for start in range(0, len(order), batch):
            seqs = [corpus[k] for k in order[start:start + batch]]
            lengths = np.array([len(s) for s in seqs])
            state, lp = self.start_state([[] for _ in seqs])
            alive = np.arange(len(seqs))
            for t in range(int(lengths.max()) + 1):
                target = np.array([seqs[r][t] if t < lengths[r] else EOS_ID for r in alive])
                yield np.asarray(lp), target
                keep = np.nonzero(lengths[alive] > t)[0]
                if len(keep) == 0:
                    break
                if len(keep) < len(alive):
                    state = self.reorder_state(state, keep)
                    alive = alive[keep]
                state, lp = self.advance(state, target[keep])

    # --- incremental state (generation extends prefixes without re-scoring them) ------------
    def start_state(self, histories: Sequence[Sequence[int]]) -> tuple[Any, np.ndarray]:
        """Begin scoring `histories`: returns (state, next_logprobs(histories))."""
        self._check_fitted()
        hs = self.check_histories(histories)
        return self._start_state(hs)

    def advance(self, state: Any, tokens: Sequence[int]) -> tuple[Any, np.ndarray]:
        """Append one token to each history of `state`: returns (new state, next log-probs)."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        if (tokens == BOS_ID).any():
            raise ValueError("cannot advance with <s>: it is never predicted")
        return self._advance(state, tokens)

    def reorder_state(self, state: Any, rows: Sequence[int]) -> Any:
        """Keep (and repeat) the chosen rows of `state`, e.g. the surviving beams."""
        return self._reorder_state(state, np.asarray(rows, dtype=np.int64))

    def _start_state(self, histories: list[np.ndarray]) -> tuple[Any, np.ndarray]:
        return list(histories), self._next_logprobs(histories)

    def _advance(self, state: Any, tokens: np.ndarray) -> tuple[Any, np.ndarray]:
        new = [np.append(h, t) for h, t in zip(state, tokens)]
        return new, self._next_logprobs(new)

    def _reorder_state(self, state: Any, rows: np.ndarray) -> Any:
        return [state[r] for r in rows]

    # --- generation (delegates to the shared implementation) --------------------------------
    def generate(self, prompts, **kwargs):
        """Continue `prompts`; see `langmodels.generate` for the parameters."""
        from .generation import generate

        return generate(self, prompts, **kwargs)


def load(directory: str | os.PathLike) -> Estimator:
    """Load a model saved by `save`: a `LanguageModel` or a masked one, whichever was saved.
    Runs no code from the files."""
    from .registry import make

    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such model directory")
    try:
        config = json.loads(read_utf8(directory / "config.json"))
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: config.json is missing; is this a saved model?") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{directory}/config.json: not valid JSON ({e})") from None
    for key in ("model", "params", "vocab_fingerprint"):
        if key not in config:
            raise CheckpointError(f"{directory}/config.json: missing field {key!r}")
    if config.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise CheckpointError(f"{directory}: saved by a newer langmodels (format "
                              f"{config['format_version']}); upgrade to load it")
    try:
        model = make(config["model"], **params_from_json(config["params"]))
    except InvalidParameterError as e:
        raise CheckpointError(f"{directory}/config.json: {e}") from None
    vocab = Vocabulary.load(directory / "vocab.json")
    if vocab.fingerprint != config["vocab_fingerprint"]:
        raise VocabularyMismatchError(f"{directory}: vocab.json does not match the vocabulary the "
                                      "model was saved with (files from different checkpoints?)")
    arrays: dict[str, np.ndarray] = {}
    path = directory / ARRAYS_FILE
    if path.exists():
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            arrays = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: corrupt array file ({e})") from None
    model.vocab_ = vocab
    model.tokenizer_name_ = _saved_tokenizer(directory, config)
    if config.get("partial_fit"):
        model.partial_fit_ = config["partial_fit"]
    try:
        model._set_state(arrays, config.get("state", {}))
    except CheckpointError as e:
        raise CheckpointError(f"{directory}: {e}") from None
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{directory}: arrays do not fit a {config['model']} model "
                              f"with these parameters ({type(e).__name__}: {e})") from None
    return model


def _saved_tokenizer(directory: Path, config: dict) -> str:
    from .tokenize import TOKENIZERS

    name = config.get("tokenizer", "whitespace")   # absent from models saved by 0.1.0
    if name not in TOKENIZERS:
        raise CheckpointError(f"{directory}/config.json: unknown tokenizer {name!r}; this langmodels "
                              f"knows {sorted(TOKENIZERS)}")
    return name


def clone(model: Estimator) -> Estimator:
    """A new unfitted model with the same class and parameters, as scikit-learn's `clone` makes it.

    Each parameter is deep-copied, so the twin shares no list or dict with `model` (immutable
    values come back as the same objects). A constructor that does not store its arguments
    unchanged cannot be cloned faithfully: that is an error in the model class.
    """
    params = {name: copy.deepcopy(value) for name, value in model.get_params().items()}
    twin = type(model)(**params)
    for name, value in twin.get_params().items():
        if value is not params[name]:
            raise RuntimeError(f"cannot clone {type(model).__name__}: its constructor does not store "
                               f"the parameter {name!r} unchanged")
    return twin

