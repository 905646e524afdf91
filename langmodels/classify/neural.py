"""`TextClassifier`: a neural encoder with a pooled classification head, as a scikit-learn estimator.

    texts -> tokens -> ids over a vocabulary (from the training texts, or the pre-trained model's)
          -> <s> w1 ... wn -> encoder (LSTM / GRU / RNN / Transformer) -> mean | max | last -> linear

The encoder is the network of a neural language-model family, so `init=` a fitted language model
of that family (or a directory it was saved to) starts it from pre-trained weights, the
vocabulary carried over as `NeuralModel.fit(init=)` does; `freeze_epochs` and `encoder_lr` add
ULMFiT's gradual unfreezing (the head alone first) and discriminative learning rates.

Training is the language models' loop (`langmodels.neural.training`), one target per row: the
same optimizer, schedule, early stopping on a held-out fraction (`validation_fraction`, on the
validation loss in nats per example), progress, checkpoints, device and threads.

    clf = TextClassifier(encoder="lstm", hidden_size=128, n_layers=1).fit(texts, labels)
    lm = make("lstm", hidden_size=128, n_layers=1).fit(Corpus.from_texts(unlabelled))
    TextClassifier(encoder="lstm", init=lm).fit(texts, labels)       # pre-trained, then fine-tuned
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .._checks import check_choice, check_float, check_int
from .._io import read_utf8
from .._torch import check_threads, torch_threads
from ..errors import EmptyCorpusError, InvalidParameterError
from ..registry import make
from ..tokenize import get_tokenizer
from ..vocabulary import BOS_ID, Vocabulary
from ._head import HeadPredictions
from ._params import FamilyKeywords
from .data import TextInput, check_labels, check_texts

# The training parameters the loop reads, with the classifier's defaults (the neural families' own
# meanings; see `NeuralModel`).
TRAINING = {"lr": 1e-3, "optimizer": "adamw", "betas": (0.9, 0.999), "weight_decay": 0.01, "epochs": 10,
            "max_steps": None, "batch_size": 32, "clip": 1.0, "warmup": 0, "schedule": "cosine",
            "patience": 3, "seed": 0, "device": "auto", "compile": False, "precision": "auto", "threads": 1,
            "checkpoint_dir": None, "checkpoint_every": None, "checkpoint_seconds": 300.0,
            "progress": True}
OWN = {"encoder": "lstm", "pooling": "max", "init": None, "vocab": "train", "tokenizer": "whitespace",
       "min_count": 2, "max_size": None, "max_length": None, "head_dropout": 0.3, "max_norm": None,
       "validation_fraction": 0.1, "freeze_epochs": 0, "encoder_lr": 1.0, **TRAINING}
# Rows per scoring batch, and padded positions per batch at most.


class TextClassifier(FamilyKeywords, HeadPredictions, TextInput, ClassifierMixin, BaseEstimator):
    """A neural text classifier: a language-model encoder, pooled over the text, then a linear layer.

    Parameters
    ----------
    encoder : {"lstm", "gru", "rnn", "transformer", "bert", "cnn"}, default "lstm"
        The neural family whose network encodes the text (`langmodels.neural.classifier.ENCODERS`),
        or "cnn": Kim's (2014) convolutional encoder (`langmodels.neural.cnn`; with
        `pooling="max"`, `head_dropout=0.5`, Kim's CNN), whose `init` is a neural language model
        of any causal family with the same `embed_dim`, of which it takes the word vectors.
    pooling : {"max", "mean", "last"}, default "max"
        How the features of the positions become one vector: their maximum or mean over the
        text, or the features after its last token.
    init : LanguageModel, str or None, default None
        A fitted language model of the encoder's family, or a directory one was saved to, whose
        weights start the encoder (its architecture parameters are used; any given here must
        match). None: random initialisation. The model itself is never modified.
    vocab : {"train", "init"}, default "train"
        The vocabulary: built from the training texts, or `init`'s own (words only the
        pre-training text saw keep their embeddings for test time).
    tokenizer : str, default "whitespace"
        How texts are split into words (a name `langmodels.tokenize.get_tokenizer` knows).
    min_count : int, default 2
        With vocab="train", words seen fewer times in the training texts become `<unk>` (so
        `<unk>`'s embedding is trained on rare words, as test-time unknown words need).
    max_size : int or None, default None
        With vocab="train", keep at most this many vocabulary entries, the most frequent first.
    max_length : int or None, default None
        Read at most this many tokens of a text (None: all; a Transformer reads at most its
        `block_size` - 1 after `<s>`).
    head_dropout : float, default 0.3
        Dropout in [0, 1) on the pooled vector before the output layer.
    max_norm : float or None, default None
        Kim's (2014) constraint: after every optimizer step, each class's row of the output
        layer's weights is rescaled to L2 norm at most this (Kim: 3). None: no constraint.
    validation_fraction : float, default 0.1
        Fraction of the training texts held out (stratified, drawn with `seed`) for early stopping
        on the validation loss; 0 trains on everything for `epochs` epochs.
    freeze_epochs : int, default 0
        Gradual unfreezing: train only the head for this many epochs, then everything.
    encoder_lr : float, default 1.0
        Discriminative learning rates: the encoder's learning rate is `lr` times this factor.
    lr, optimizer, betas, weight_decay, epochs, max_steps, batch_size, clip, warmup, schedule
        As for the neural language models (see `langmodels.neural.estimator.NeuralModel`),
        with batch_size counted in texts.
    patience, seed, device, compile, precision, threads, checkpoint_dir, checkpoint_every
        As for the neural language models; `seed` also draws the validation split.
    checkpoint_seconds, progress
        As for the neural language models.
    **params
        The encoder family's architecture parameters (e.g. `hidden_size=128, n_layers=1`,
        `dropout`); unset ones take the family's defaults, or `init`'s values.

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The class labels, sorted.
    vocab_ : Vocabulary
        The vocabulary texts are mapped to.
    module_ : torch.nn.Module
        The trained network (`langmodels.neural.classifier.ClassifierModule`).
    history_ : list of dict
        One record per epoch (train_loss and valid_loss in nats per text; "tokens" are texts).
    """

    context = "sentence"   # the training loop's mode: every batch starts from a fresh state
    target_unit = "text"   # what the loop's losses and speeds count (one label per text)

    def __init__(self, encoder: str = "lstm", pooling: str = "max", init=None, vocab: str = "train",
                 tokenizer: str = "whitespace", min_count: int = 2, max_size: int | None = None,
                 max_length: int | None = None, head_dropout: float = 0.3, max_norm: float | None = None,
                 validation_fraction: float = 0.1, freeze_epochs: int = 0, encoder_lr: float = 1.0,
                 lr: float = 1e-3, optimizer: str = "adamw", betas: tuple[float, float] = (0.9, 0.999),
                 weight_decay: float = 0.01, epochs: int = 10, max_steps: int | None = None,
                 batch_size: int = 32, clip: float = 1.0, warmup: int = 0, schedule: str = "cosine",
                 patience: int | None = 3, seed: int = 0, device: str = "auto", compile: bool = False,
                 precision: str = "auto",
                 threads: int | None = 1, checkpoint_dir: str | None = None,
                 checkpoint_every: int | None = None, checkpoint_seconds: float | None = 300.0,
                 progress: bool = True, **params):
        for name in OWN:   # every named argument, stored as given (scikit-learn's rule)
            setattr(self, name, locals()[name])
        self.params = params  # the encoder's architecture, kept apart so scikit-learn can clone

    own_params = tuple(OWN)   # the rest of get_params() is the family's keywords

    def __sklearn_clone__(self):
        # `init` is passed by reference: scikit-learn would rebuild a fitted language model
        # unfitted from its parameters, and fitting never modifies it.
        from sklearn.base import clone

        return type(self)(**{k: v if k == "init" else clone(v, safe=False)
                             for k, v in self.get_params().items()})

    # --- checks ------------------------------------------------------------------------------
    def _family(self) -> str:
        from ..neural.classifier import ENCODERS

        check_choice("encoder", self.encoder, list(ENCODERS))
        return ENCODERS[self.encoder]

    def _encoder_class(self) -> type:
        from ..neural.classifier import encoder_class

        self._family()
        return encoder_class(self.encoder)

    def _check_params(self) -> None:
        from ..neural.classifier import POOLINGS
        from ..neural.training import check_training_params

        self._family()
        check_choice("pooling", self.pooling, list(POOLINGS))
        check_choice("vocab", self.vocab, ["train", "init"])
        if self.vocab == "init" and self.init is None:
            raise InvalidParameterError("vocab='init' needs init: a pre-trained model whose "
                                        "vocabulary to use")
        get_tokenizer(self.tokenizer)
        check_int("min_count", self.min_count, low=1)
        if self.max_size is not None:
            check_int("max_size", self.max_size, low=3)
        if self.max_length is not None:
            check_int("max_length", self.max_length, low=1)
        check_float("head_dropout", self.head_dropout, low=0.0, high=1.0, high_open=True)
        if self.max_norm is not None:
            check_float("max_norm", self.max_norm, low=0.0, low_open=True)
        check_float("validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True)
        check_int("freeze_epochs", self.freeze_epochs, low=0)
        check_float("encoder_lr", self.encoder_lr, low=0.0)
        check_training_params(self)
        check_threads(self.threads)
        allowed = sorted(set(self._encoder_class().param_names()) - set(TRAINING)
                         - {"context", "bptt", "stride"})
        bad = sorted(set(self.params) - set(allowed))
        if bad:
            raise InvalidParameterError(f"the {self.encoder} encoder has no parameter {bad[0]!r}; its "
                                        f"architecture parameters are {allowed}")

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, X, y, X_valid=None, y_valid=None, resume: bool = False) -> TextClassifier:
        """Train on texts `X` with labels `y` (one per text).

        `X_valid`, `y_valid`: a labelled development set for early stopping (e.g. SST-2's dev
        split) instead of holding out `validation_fraction` of X. `resume=True` continues an
        interrupted run from `checkpoint_dir`."""
        from ..neural.training import train

        self._check_params()
        texts = check_texts(X)
        y = check_labels(texts, y)
        self._encoder_, start = self._make_encoder()
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        split = get_tokenizer(self.tokenizer)
        tokens = [split(t) for t in texts]
        blank = [k for k, t in enumerate(tokens) if not t]
        if blank:
            raise EmptyCorpusError(f"X[{blank[0]}] is empty (no token after tokenising; {len(blank)} "
                                   "such text(s)); drop empty texts before fitting")
        if self.vocab == "init":
            self.vocab_ = start[1]
        else:
            self.vocab_ = Vocabulary.from_corpus(tokens, self.min_count, self.max_size)
        self._start_ = start
        data, valid = self._train_and_valid(self._rows(tokens), y_idx, X_valid, y_valid)
        for attr in ("module_", "history_", "partial_fit_"):
            self.__dict__.pop(attr, None)
        with torch_threads(self.threads):
            train(TextClassifierTraining(self), data, valid, resume=resume, on_epoch_end=self._unfreeze)
        del self._start_
        return self

    def _make_encoder(self):
        """The encoder family's (unfitted) model, and (state_dict, vocabulary) to start from or None."""
        from ..neural.classifier import pretrained_start

        family, init = self._family(), self.init
        if family == "cnn":
            encoder = self._encoder_class()(**self.params).check_params()
            return encoder, None if init is None else pretrained_start(encoder, init)
        if init is None:
            return make(family, **self.params).check_params(), None
        if isinstance(init, (str, os.PathLike)):
            from ..base import load

            init = load(init)
        arch = {k: v for k, v in init.get_params().items() if k not in TRAINING} \
            if init.registry_name == family else {}
        encoder = make(family, **{**arch, **self.params})
        return encoder, pretrained_start(encoder, init)   # checks family, fit and architecture

    def _rows(self, tokens: list[list[str]]) -> list[np.ndarray]:
        """Each text as `<s>` + ids, cut to the encoder's reach."""
        limit = self.max_length
        window = getattr(self._encoder_, "block_size", None)
        if window is not None:
            limit = window - 1 if limit is None else min(limit, window - 1)
        return [np.concatenate([[BOS_ID], self.vocab_.encode(t[:limit])]).astype(np.int64) for t in tokens]

    def _unfreeze(self, record: dict) -> None:
        self.module_.frozen = record["epoch"] < self.freeze_epochs

    # --- what the training loop calls ------------------------------------------------------------
    def _new_module(self, vocab_size: int):
        from ..neural.classifier import new_classifier_module

        module = new_classifier_module(self._encoder_, self.vocab_, len(self.classes_), self.pooling,
                                       self.head_dropout, self._start_, self.max_norm)
        module.frozen = self.freeze_epochs > 0 and self._epochs_done() < self.freeze_epochs
        return module

    def _epochs_done(self) -> int:
        """Epochs a checkpoint in checkpoint_dir has finished (0 without one): a resumed run
        continues frozen or not as the interrupted one was."""
        from ..neural.training import STATE_FILE

        path = Path(self.checkpoint_dir or "") / STATE_FILE
        if not self.checkpoint_dir or not path.exists():
            return 0
        return json.loads(read_utf8(path))["loop"]["epoch"]

    def lr_scale_of(self, name: str) -> float:
        """The learning-rate factor of a module parameter: `encoder_lr` in the encoder, 1 in the head."""
        return self.encoder_lr if name.startswith("encoder.") else 1.0

    @property
    def _pad_id(self) -> int:
        from ..neural.classifier import NO_TOKEN  # the network's module imports torch

        return NO_TOKEN

    def _text_rows(self, texts: list[str]) -> list[np.ndarray]:
        split = get_tokenizer(self.tokenizer)
        return self._rows([split(t) for t in texts])


class TextClassifierTraining:
    """The classifier as the training loop sees it: its attributes, with parameters that a
    checkpoint can store as JSON (`init` described, not the model object)."""

    def __init__(self, clf: TextClassifier):
        object.__setattr__(self, "_clf", clf)

    def __getattr__(self, name):
        return getattr(self._clf, name)

    def __setattr__(self, name, value):
        setattr(self._clf, name, value)

    def get_params(self, deep: bool = True) -> dict:
        params = dict(self._clf.get_params())
        init = params["init"]
        if init is not None and not isinstance(init, (str, os.PathLike)):
            params["init"] = f"fitted {type(init).__name__} on vocabulary {init.vocab_.fingerprint}"
        return {k: str(v) if isinstance(v, os.PathLike) else v for k, v in params.items()}

