"""Kim's (2014) convolutional sentence encoder, for `TextClassifier(encoder="cnn")`.

    <s> w1 ... wn -> word vectors (B, T, E) -> convolutions of widths 3, 4, 5 (n_filters maps each), ReLU
                  -> features (B, T, n_filters * len(widths))

The classifier's head then takes the maximum over time (Kim's max-over-time pooling with
`pooling="max"`), drops out (Kim: 0.5) and maps to classes. The convolution at position t reads
the `width` positions ending at t, with zero vectors before the text (Kim pads sentences with
zeros), so no real position ever reads the padding on the right of a batch: padding never
changes a text's scores.

It is not a language model: `init` (pre-training) may be a fitted causal neural language model
(RNN / LSTM / GRU / Transformer) with the same `embed_dim`, of which only the word vectors are
taken, as Kim's CNN-non-static starts from word2vec.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int
from ..errors import InvalidParameterError


class CNNModule(nn.Module):
    """features(x (B, T)) -> (B, T, n_features): the ReLU maps of every width at every position."""

    def __init__(self, vocab_size: int, embed_dim: int, n_filters: int, widths: tuple[int, ...]):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        nn.init.uniform_(self.embed.weight, -0.25, 0.25)   # Kim's CNN-rand: N(0, 1) rows swamp the filters
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, n_filters, w) for w in widths)
        self.n_features = n_filters * len(widths)

    def features(self, x):
        e = self.embed(x).transpose(1, 2)                                   # (B, E, T)
        # left-padding by width - 1: the map at t covers t - width + 1 .. t, never the right padding
        maps = [F.relu(conv(F.pad(e, (conv.kernel_size[0] - 1, 0)))) for conv in self.convs]
        return torch.cat(maps, 1).transpose(1, 2)                           # (B, T, n_features)


class CNNEncoder:
    """The CNN encoder's architecture, with what `TextClassifier` asks of an encoder family.

    Parameters
    ----------
    embed_dim : int, default 300
        Size of the word vectors (Kim: 300).
    n_filters : int, default 100
        Feature maps per filter width (Kim: 100).
    widths : tuple of int, default (3, 4, 5)
        The filter widths, in words (Kim: 3, 4, 5).
    """

    #: state_dict entries with one row per vocabulary id (see `langmodels.neural.estimator.carry_over`).
    vocab_rows = ("embed.weight",)

    def __init__(self, embed_dim: int = 300, n_filters: int = 100, widths: tuple[int, ...] = (3, 4, 5)):
        self.embed_dim = embed_dim
        self.n_filters = n_filters
        self.widths = widths

    @classmethod
    def param_names(cls) -> list[str]:
        return ["embed_dim", "n_filters", "widths"]

    def check_params(self) -> CNNEncoder:
        check_int("embed_dim", self.embed_dim, low=1)
        check_int("n_filters", self.n_filters, low=1)
        if not isinstance(self.widths, (list, tuple)) or not self.widths:
            raise InvalidParameterError(f"widths must be a non-empty list of filter widths, "
                                        f"got {self.widths!r}")
        for w in self.widths:
            check_int("widths[]", w, low=1)
        return self

    def _new_module(self, vocab_size: int) -> CNNModule:
        return CNNModule(vocab_size, self.embed_dim, self.n_filters, tuple(self.widths))

    def _base_weights(self, init) -> tuple:
        """({"embed.weight": the word vectors}, vocabulary) of the fitted neural language model `init`
        (or a directory it was saved to)."""
        from ..base import load
        from .estimator import NeuralModel

        if isinstance(init, (str, os.PathLike)):
            init = load(init)
        if not isinstance(init, NeuralModel):
            raise InvalidParameterError(f"the cnn encoder starts from a fitted neural language model "
                                        f"(rnn, lstm, gru, transformer), got {type(init).__name__}")
        init._check_fitted()
        if init.embed_dim != self.embed_dim:
            raise InvalidParameterError(f"init has embed_dim={init.embed_dim!r} but this cnn encoder has "
                                        f"embed_dim={self.embed_dim!r}; the word vectors must be the "
                                        "same size")
        vectors = init.module_.state_dict()["embed.weight"][:len(init.vocab_)]
        return {"embed.weight": vectors.detach().cpu().clone()}, init.vocab_
