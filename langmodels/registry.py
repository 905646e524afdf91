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
# Masked (BERT-style) models obey `langmodels.masked.MaskedLanguageModel`, not the causal contract:
# `make` builds them, but `available_models()` (what the contract suite and the harness's default
# iterate) lists only the causal ones.
_MASKED: dict[str, str | type] = {
    "bert": "langmodels.neural.bert:BertModel",
    "hf-masked": "langmodels.hf.masked:HFMaskedModel",
}
KINDS = ("causal", "masked")


def _table(kind: str) -> dict[str, str | type]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return _MODELS if kind == "causal" else _MASKED


def available_models(kind: str = "causal") -> list[str]:
    """Names accepted by `make`, in registration order: the causal models (`LanguageModel`), or
    with kind="masked" the masked ones (`langmodels.masked.MaskedLanguageModel`)."""
    return list(_table(kind))


def register(name: str, cls: type | str, overwrite: bool = False, kind: str | None = None) -> None:
    """Add a model class (or a "module:Class" path) under `name`.

    `kind` ("causal" or "masked") says which list it joins; None reads it from a class (a
    `MaskedLanguageModel` subclass is masked) and means "causal" for a path.
    """
    if kind is None:
        from .masked import MaskedLanguageModel

        kind = "masked" if isinstance(cls, type) and issubclass(cls, MaskedLanguageModel) else "causal"
    table = _table(kind)
    if (name in _MODELS or name in _MASKED) and not overwrite:
        raise ValueError(f"model name {name!r} is already registered; pass overwrite=True to replace it")
    (_MASKED if table is _MODELS else _MODELS).pop(name, None)
    table[name] = cls
    if isinstance(cls, type):
        cls.registry_name = name


def _suggestion(word: str, names: list[str]) -> str:
    """"; did you mean 'x'?" for the name closest to `word`, case-insensitively, or ""."""
    folded = {n.casefold(): n for n in names}
    key = str(word).casefold()
    close = [folded[key]] if key in folded else difflib.get_close_matches(key, list(folded), n=1)
    return f"; did you mean {folded.get(close[0], close[0])!r}?" if close else ""


def get_class(name: str) -> type:
    """The class registered under `name` (imported on first use), causal or masked.

    Names are exact: `get_class("LSTM")` raises UnknownModelError suggesting 'lstm'."""
    table = _MASKED if isinstance(name, str) and name in _MASKED else _MODELS
    try:
        target = table[name]
    except (KeyError, TypeError):
        known = [*_MODELS, *_MASKED]
        raise UnknownModelError(f"unknown model {name!r}{_suggestion(name, known)} "
                                f"Known models: {', '.join(known)}") from None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        target.registry_name = name
        table[name] = target
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
