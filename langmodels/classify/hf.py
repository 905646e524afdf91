"""`HFSequenceClassifier`: a Hugging Face sequence-classification model, fine-tuned as a
scikit-learn estimator.

    texts -> the checkpoint's own tokenizer (pieces, [CLS] ... [SEP], cut to max_length)
          -> AutoModelForSequenceClassification (a fresh head of len(classes_) outputs) -> logits

The checkpoint is read from a local directory only (`local_files_only=True`: never the network).
Training is the language models' one loop (`langmodels.neural.training`), one target per text,
as for `TextClassifier`: the same optimizer, schedule, early stopping on a held-out fraction,
progress, checkpoints, device and threads.

    clf = HFSequenceClassifier(pretrained="path/to/bert", epochs=3, lr=5e-5).fit(texts, labels)

Needs the optional `transformers` package (`pip install langmodels[hf]`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .._checks import check_float, check_int
from .._torch import check_threads, torch_threads
from ..errors import EmptyCorpusError, InvalidParameterError
from ._head import HeadPredictions
from .data import TextInput, check_labels, check_texts

# Fine-tuning defaults of BERT's paper (lr 5e-5 .. 2e-5, a few epochs, batches of 16 or 32).
PARAMS = {"pretrained": None, "max_length": 128, "validation_fraction": 0.1, "lr": 5e-5,
          "optimizer": "adamw", "betas": (0.9, 0.999), "weight_decay": 0.01, "epochs": 3,
          "max_steps": None, "batch_size": 16, "clip": 1.0, "warmup": 0, "schedule": "cosine",
          "patience": 2, "seed": 0, "device": "auto", "compile": False, "precision": "auto", "threads": 1,
          "checkpoint_dir": None, "checkpoint_every": None, "checkpoint_seconds": 300.0,
          "progress": True}


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ImportError("HFSequenceClassifier needs the optional package transformers: "
                          "pip install 'langmodels[hf]' (or pip install transformers)") from None
    return transformers


class HFSequenceClassifier(HeadPredictions, TextInput, ClassifierMixin, BaseEstimator):
    """A `transformers` sequence classifier from a local checkpoint, fine-tuned on labelled texts.

    Parameters
    ----------
    pretrained : str or path
        A local directory holding a checkpoint and its tokenizer (`save_pretrained`), e.g. a BERT;
        its classification head is new, sized to the classes of `fit`.
    max_length : int, default 128
        Pieces of a text read at most, special pieces included (also capped by the network's
        position limit).
    validation_fraction : float, default 0.1
        Fraction of the training texts held out (stratified, drawn with `seed`) for early
        stopping on the validation loss; 0 trains on everything for `epochs` epochs.
    lr, optimizer, betas, weight_decay, epochs, max_steps, batch_size, clip, warmup, schedule
        As for the neural language models (see `langmodels.neural.estimator.NeuralModel`),
        with batch_size counted in texts; the defaults are BERT's fine-tuning recipe.
    patience, seed, device, compile, precision, threads, checkpoint_dir, checkpoint_every
        As for the neural language models; `seed` also draws the validation split and the head.
    checkpoint_seconds, progress
        As for the neural language models.

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The class labels, sorted.
    tokenizer_ : transformers tokenizer
        The checkpoint's tokenizer.
    module_ : torch.nn.Module
        The fine-tuned network (`langmodels.hf.training.SequenceClassifierModule`; the
        `transformers` model is its `net`).
    history_ : list of dict
        One record per epoch (train_loss and valid_loss in nats per text).
    """

    context = "sentence"   # the training loop's mode: every batch starts from a fresh state
    target_unit = "text"   # what the loop's losses and speeds count (one label per text)

    def __init__(self, pretrained: str | os.PathLike | None = None, max_length: int = 128,
                 validation_fraction: float = 0.1, lr: float = 5e-5, optimizer: str = "adamw",
                 betas: tuple[float, float] = (0.9, 0.999), weight_decay: float = 0.01, epochs: int = 3,
                 max_steps: int | None = None, batch_size: int = 16, clip: float = 1.0, warmup: int = 0,
                 schedule: str = "cosine", patience: int | None = 2, seed: int = 0, device: str = "auto",
                 compile: bool = False,
                 precision: str = "auto", threads: int | None = 1, checkpoint_dir: str | None = None,
                 checkpoint_every: int | None = None, checkpoint_seconds: float | None = 300.0,
                 progress: bool = True):
        for name in PARAMS:   # every named argument, stored as given (scikit-learn's rule)
            setattr(self, name, locals()[name])

    def _check_params(self) -> None:
        """InvalidParameterError for a bad value; FileNotFoundError for a missing checkpoint."""
        from ..neural.training import check_training_params

        if self.pretrained is None:
            raise InvalidParameterError("pretrained is required: a local directory saved by "
                                        "save_pretrained (a checkpoint and its tokenizer)")
        if not isinstance(self.pretrained, (str, os.PathLike)):
            raise InvalidParameterError(f"pretrained must be a directory path, got {self.pretrained!r}")
        path = Path(self.pretrained)
        if not path.is_dir():
            raise FileNotFoundError(f"pretrained={str(path)!r}: no such directory; give a local "
                                    "directory saved by save_pretrained (the hub is never contacted)")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"pretrained={str(path)!r} has no config.json: not a directory "
                                    "saved by save_pretrained")
        check_int("max_length", self.max_length, low=3)
        check_float("validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True)
        check_training_params(self)
        check_threads(self.threads)

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, X, y, X_valid=None, y_valid=None, resume: bool = False) -> HFSequenceClassifier:
        """Fine-tune on texts `X` with labels `y` (one per text).

        `X_valid`, `y_valid`: a labelled development set for early stopping instead of holding
        out `validation_fraction` of X. `resume=True` continues an interrupted run from
        `checkpoint_dir`."""
        from ..neural.training import train

        self._check_params()
        texts = check_texts(X)
        y = check_labels(texts, y)
        blank = [k for k, t in enumerate(texts) if not t.strip()]
        if blank:
            raise EmptyCorpusError(f"X[{blank[0]}] is empty ({len(blank)} blank text(s)); drop empty "
                                   "texts before fitting")
        tf = _transformers()
        self.tokenizer_ = tf.AutoTokenizer.from_pretrained(str(self.pretrained), local_files_only=True)
        if self.tokenizer_.pad_token_id is None:
            raise InvalidParameterError(f"the tokenizer of {self.pretrained} has no padding piece; "
                                        "set tokenizer.pad_token and save it again")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        data, valid = self._train_and_valid(self._rows(texts), y_idx, X_valid, y_valid)
        for attr in ("module_", "history_", "partial_fit_"):
            self.__dict__.pop(attr, None)
        with torch_threads(self.threads):
            train(_Training(self), data, valid, resume=resume)
        return self

    def _rows(self, texts: list[str]) -> list[np.ndarray]:
        """Each text as the tokenizer's piece ids with its special pieces, cut to max_length."""
        limit = min(self.max_length, getattr(self.tokenizer_, "model_max_length", self.max_length))
        ids = self.tokenizer_(texts, truncation=True, max_length=limit)["input_ids"]
        return [np.asarray(r, np.int64) for r in ids]

    # --- what the training loop calls ------------------------------------------------------------
    def _new_module(self, vocab_size: int):
        from ..hf.training import SequenceClassifierModule

        tf = _transformers()
        verbosity, bars = tf.logging.get_verbosity(), tf.logging.is_progress_bar_enabled()
        # Quiet: "newly initialized: classifier.weight" is the point here, and a loading bar
        # per fit (per fold, per seed) buries the training's own progress.
        tf.logging.set_verbosity_error()
        tf.logging.disable_progress_bar()
        try:
            net = tf.AutoModelForSequenceClassification.from_pretrained(
                str(self.pretrained), local_files_only=True, num_labels=len(self.classes_),
                id2label=dict(enumerate(map(str, self.classes_))),
                label2id={str(c): k for k, c in enumerate(self.classes_)})
        finally:
            tf.logging.set_verbosity(verbosity)
            if bars:
                tf.logging.enable_progress_bar()
        return SequenceClassifierModule(net, self.tokenizer_.pad_token_id)

    @property
    def _pad_id(self) -> int:
        return self.tokenizer_.pad_token_id

    def _text_rows(self, texts: list[str]) -> list[np.ndarray]:
        return self._rows(texts)


class _Training:
    """The classifier as the training loop sees it: its attributes, plus `vocab_`, the pieces'
    size and fingerprint (a checkpoint resumes only on the same tokenizer)."""

    def __init__(self, clf: HFSequenceClassifier):
        object.__setattr__(self, "_clf", clf)
        pieces = clf.tokenizer_.get_vocab()
        digest = hashlib.sha256(json.dumps(sorted(pieces.items())).encode()).hexdigest()[:16]
        object.__setattr__(self, "vocab_", _Pieces(len(clf.tokenizer_), digest))

    def __getattr__(self, name):
        return getattr(self._clf, name)

    def __setattr__(self, name, value):
        setattr(self._clf, name, value)

    def get_params(self, deep: bool = True) -> dict:
        return {k: str(v) if isinstance(v, os.PathLike) else v for k, v in self._clf.get_params().items()}


class _Pieces:
    def __init__(self, size: int, fingerprint: str):
        self.size, self.fingerprint = size, fingerprint

    def __len__(self) -> int:
        return self.size
