"""One explicit table of model names -> "module:Class", imported only when a model is made.

Loading lazily keeps `import langmodels` fast and free of torch; users add their own classes
with `register`.
"""

from __future__ import annotations

import difflib
import importlib
import inspect

from .errors import InvalidParameterError, UnknownModelError

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


def _suggestion(word: str, names: list[str]) -> str:
    """"; did you mean 'x'?" for the name closest to `word`, case-insensitively, or ""."""
    folded = {n.casefold(): n for n in names}
    key = str(word).casefold()
    close = [folded[key]] if key in folded else difflib.get_close_matches(key, list(folded), n=1)
    return f"; did you mean {folded.get(close[0], close[0])!r}?" if close else ""


def get_class(name: str) -> type:
    """The class registered under `name` (imported on first use).

    Names are exact: `get_class("LSTM")` raises UnknownModelError suggesting 'lstm'."""
    try:
        target = _MODELS[name]
    except (KeyError, TypeError):
        raise UnknownModelError(f"unknown model {name!r}{_suggestion(name, list(_MODELS))} "
                                f"Known models: {', '.join(_MODELS)}") from None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        target.registry_name = name
        _MODELS[name] = target
    return target


def make(name: str, **params):
    """A new, unfitted model: `make("kneser-ney", order=3)`.

    The parameters are checked here, before any data is read (and again by `fit`, since
    `set_params` may change them): an unknown name or a value out of range raises
    InvalidParameterError naming it.
    """
    cls = get_class(name)
    signature = list(inspect.signature(cls.__init__).parameters.values())[1:]   # after self
    allowed = [p.name for p in signature if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if all(p.kind is not p.VAR_KEYWORD for p in signature):   # **kwargs: the class checks them
        for key in params:
            if key not in allowed:
                raise InvalidParameterError(
                    f"{name} has no parameter {key!r}{_suggestion(key, allowed)} "
                    f"(its parameters: {', '.join(allowed)})")
    model = cls(**params)
    check = getattr(model, "_check_params", None)
    if check is not None:
        check()
    return model
