"""The network of a neural text classifier: a language model's encoder, pooled, then a linear layer.

    <s> w1 ... wn -> encoder features (B, T, C) -> pool over the real positions -> dropout -> linear -> logits

The encoder is the module of a neural language-model family minus its output layer, so a
fitted language model's weights start it (pre-training, then fine-tuning). `ENCODERS` maps an
encoder name to its registry family; a family plugs in with one line there when its module has
`features(x)` returning (B, T, C) (the recurrent module returns time-major features and its state,
which `token_features` turns around). Rows are padded with NO_TOKEN on the right; every family
here is causal (left to right), so padding never changes the features of a real position; a
bidirectional one must take `features(x, mask=...)` to ignore it.
"""

from __future__ import annotations

import contextlib
import inspect

import torch
from torch import nn

from .rnn import RNNModule

#: encoder name -> registry name of the language-model family whose module encodes the text, or
#: "cnn": Kim's convolutional encoder (langmodels.neural.cnn), which is no language model.
ENCODERS = {"rnn": "rnn", "lstm": "lstm", "gru": "gru", "transformer": "transformer", "bert": "bert",
            "cnn": "cnn"}
#: encoder name -> the language-model family a harness pre-trains for it (the CNN takes an LSTM's
#: word vectors).
PRETRAIN_FAMILIES = {**ENCODERS, "cnn": "lstm"}
POOLINGS = ("mean", "max", "last")
NO_TOKEN = -1   # input id of padding


def token_features(encoder, x, real):
    """(B, T) ids -> (B, T, C) features of every position, whatever the family. A module whose
    `features` takes `mask` (a bidirectional encoder, which would otherwise attend to padding) gets
    the (B, T) mask of real positions."""
    if isinstance(encoder, RNNModule):
        return encoder.features(x)[0].transpose(0, 1)       # time-major (T, B, H) inside
    if "mask" in inspect.signature(encoder.features).parameters:
        return encoder.features(x, mask=real)
    return encoder.features(x)


def encoder_class(name: str) -> type:
    """The class whose instances describe the encoder `name` (its architecture parameters,
    `_new_module`, `_base_weights`): a language-model family's, or the CNN's."""
    if name == "cnn":
        from .cnn import CNNEncoder

        return CNNEncoder
    from ..registry import get_class

    return get_class(ENCODERS[name])


def pool(h, real, how: str):
    """(B, T, C) features and the (B, T) mask of real positions -> (B, C)."""
    if how == "mean":
        m = real.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1)
    if how == "max":
        return h.masked_fill(~real.unsqueeze(-1), -torch.inf).amax(1)
    last = real.sum(1) - 1                                     # index of each row's last real position
    return h[torch.arange(len(h), device=h.device), last]


class ClassifierModule(nn.Module):
    """forward(x (B, T), state) -> (logits (B, 1, n_classes), None), the shape the training loop
    reads as one target per row. While `frozen`, the encoder runs without gradients (its weights
    stay as they are: gradual unfreezing trains the head first). `max_norm` (None: none) bounds
    the L2 norm of each output weight row (`constrain`)."""

    def __init__(self, encoder, n_classes: int, pooling: str, dropout: float, max_norm: float | None = None):
        super().__init__()
        head = getattr(encoder, "head", None)
        if isinstance(head, nn.Linear):
            width = head.in_features
            encoder.head = nn.Identity()                       # the language model's output layer is unused
        elif hasattr(encoder, "n_features"):                   # the CNN
            width = encoder.n_features
        else:                                                  # BERT: features() never reaches its head
            width = encoder.embed.embedding_dim
        self.encoder = encoder
        self.pooling = pooling
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(width, n_classes)
        self.max_norm = max_norm
        self.frozen = False

    def constrain(self) -> None:
        """Kim's (2014) max-norm constraint: rescale each class's output weight row to L2 norm at
        most `max_norm` (the training loop calls this after every optimizer step)."""
        if self.max_norm is not None:
            with torch.no_grad():
                self.out.weight.copy_(torch.renorm(self.out.weight, 2, 0, self.max_norm))

    def forward(self, x, state=None):
        real = x != NO_TOKEN
        with torch.no_grad() if self.frozen else contextlib.nullcontext():
            # padding as the encoder's own padding id where it has one (BERT masks those keys)
            ids = torch.where(real, x, getattr(self.encoder, "pad_id", 0))
            h = token_features(self.encoder, ids, real)                  # (B, T, C)
        return self.out(self.drop(pool(h, real, self.pooling))).unsqueeze(1), None


def pretrained_start(model, init) -> tuple:
    """(state_dict, vocabulary) of the fitted language model `init` (or a directory it was saved
    to), to start the encoder of `model`, an unfitted model of the same family and architecture
    (checked as `NeuralModel.fit(init=)` checks it)."""
    return model._base_weights(init)


def new_classifier_module(model, vocab, n_classes: int, pooling: str, dropout: float,
                          start: tuple | None = None, max_norm: float | None = None) -> ClassifierModule:
    """A ClassifierModule whose encoder is `model`'s network for `vocab`, built under the caller's
    seeded torch RNG; from `start` (see `pretrained_start`) with its rows carried over to `vocab`
    (weights `start` lacks, such as the CNN's filters, keep their random initialisation; an
    adaptive softmax's output layers in `start` are dropped)."""
    from .estimator import carry_over

    encoder = model._new_module(len(vocab))
    if start is not None:
        state, base_vocab = start
        own = encoder.state_dict()
        # A language model's adaptive softmax has output layers this encoder (built with a plain
        # output layer, which the classifier replaces) lacks or shapes otherwise (a tied one's
        # bias has a row per cluster too): they are of no use here. A tied `head.weight` is kept:
        # it is the embedding.
        state = carry_over(state, base_vocab, vocab, model.vocab_rows)
        state = {k: v for k, v in state.items()
                 if not k.startswith("head.") or (k in own and v.shape == own[k].shape)}
        encoder.load_state_dict({**own, **state})
    return ClassifierModule(encoder, n_classes, pooling, dropout, max_norm)
