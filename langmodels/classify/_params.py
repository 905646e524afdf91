"""scikit-learn parameters for a classifier that passes extra keywords to a model family.

`LMClassifier(model="kneser-ney", order=3)` and `TextClassifier(encoder="lstm", hidden_size=64)`
take their own named arguments plus any keyword of the family they build. scikit-learn's
`get_params` reads only the signature, so the extra keywords live in `params` and are listed here.
"""

from __future__ import annotations


class FamilyKeywords:
    """Mixin: `get_params`/`set_params` over the class's own names (`own_params`) and the family
    keywords in `self.params`, which also read as attributes (`clf.order`)."""

    own_params: tuple[str, ...] = ()

    def get_params(self, deep: bool = True) -> dict:
        return {**{name: getattr(self, name) for name in self.own_params}, **self.params}

    def set_params(self, **params):
        for name, value in params.items():
            if name in self.own_params:
                setattr(self, name, value)
            else:
                self.params = {**self.params, name: value}
        return self

    def __getattr__(self, name: str):
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
