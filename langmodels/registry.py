"""One explicit table of model names -> "module:Class", imported only when a model is made.

Loading lazily keeps `import langmodels` fast and free of torch; users add their own classes
with `register`.
"""

from __future__ import annotations

import difflib
import importlib

from .errors import UnknownModelError

_MODELS: dict[str, str | type] = {
    # baselines
    "uniform": "langmodels.baselines:UniformModel",
    "unigram": "langmodels.baselines:UnigramModel",
    # n-gram family
    "mle": "langmodels.ngram.model:MLEModel",
    "laplace": "langmodels.ngram.model:LaplaceModel",
    "add-k": "langmodels.ngram.model:AddKModel",
    "witten-bell": "langmodels.ngram.model:WittenBellModel",
    "absolute-discount": "langmodels.ngram.model:AbsoluteDiscountModel",
    "kneser-ney": "langmodels.ngram.model:KneserNeyModel",
    "modified-kneser-ney": "langmodels.ngram.model:ModifiedKneserNeyModel",
    "katz": "langmodels.ngram.model:KatzModel",
    "arpa": "langmodels.ngram.model:ArpaModel",
    # hidden Markov model
    "hmm": "langmodels.hmm.model:HMMLanguageModel",
    # neural family
    "rnn": "langmodels.neural.rnn:RNNModel",
    "lstm": "langmodels.neural.rnn:LSTMModel",
    "gru": "langmodels.neural.rnn:GRUModel",
    "transformer": "langmodels.neural.transformer:TransformerModel",
    # combined and pretrained models
    "interpolated": "langmodels.interpolated:InterpolatedModel",
    "hf-causal": "langmodels.hf.model:HFCausalModel",
}


def available_models() -> list[str]:
    """Names accepted by `make`, in registration order."""
    return list(_MODELS)


def register(name: str, cls: type | str, overwrite: bool = False) -> None:
    """Add a model class (or a "module:Class" path) under `name`."""
    if name in _MODELS and not overwrite:
        raise ValueError(f"model name {name!r} is already registered; pass overwrite=True to replace it")
    _MODELS[name] = cls
    if isinstance(cls, type):
        cls.registry_name = name


def get_class(name: str) -> type:
    """The class registered under `name` (imported on first use)."""
    try:
        target = _MODELS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(_MODELS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}{hint} Known models: {', '.join(_MODELS)}") from None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        target.registry_name = name
        _MODELS[name] = target
    return target


def make(name: str, **params):
    """A new, unfitted model: `make("kneser-ney", order=3)`."""
    return get_class(name)(**params)
