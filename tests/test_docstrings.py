"""Every estimator documents its constructor in numpydoc form, so `help(make("lstm"))` answers
"what does this parameter do?" — and a new parameter without a line there fails here.

A class may leave shared parameters to a documented base class (the n-gram and neural families
do); the check reads the `Parameters` sections along the class's MRO inside langmodels.
"""

import inspect
import re

import pytest

from langmodels.classify import HFSequenceClassifier, LMClassifier, TextClassifier
from langmodels.registry import available_models, get_class

ENTRY = re.compile(r"^(\w+(?:, \w+)*)(?: : .+)?$")  # "name : type" or "a, b : type", unindented


def section(doc: str | None, title: str) -> list[str]:
    """The names a numpydoc section lists (an entry line is unindented; its text is indented)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    names: list[str] = []
    for i, line in enumerate(lines):
        if line == title and i + 1 < len(lines) and set(lines[i + 1]) == {"-"}:
            for entry in lines[i + 2:]:
                if entry and set(entry) == {"-"}:      # the next section's underline
                    names.pop()                         # its title was read as an entry
                    break
                m = ENTRY.match(entry)
                if m:
                    names += m.group(1).split(", ")
            return names
    return []


def documented(cls, title: str) -> set[str]:
    return {name for k in cls.__mro__ if k.__module__.startswith("langmodels")
            for name in section(k.__dict__.get("__doc__"), title)}


def constructor_params(cls) -> list[str]:
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


ESTIMATORS = [pytest.param(name, id=name) for name in available_models() + available_models("masked")]


def _class(name):
    return {"classifier": LMClassifier, "text-classifier": TextClassifier,
            "hf-classifier": HFSequenceClassifier}.get(name) or get_class(name)


@pytest.mark.parametrize("name", [*ESTIMATORS, pytest.param("classifier", id="LMClassifier"),
                                  pytest.param("text-classifier", id="TextClassifier"),
                                  pytest.param("hf-classifier", id="HFSequenceClassifier")])
def test_every_constructor_parameter_is_documented(name):
    cls = _class(name)
    assert cls.__dict__.get("__doc__"), f"{cls.__name__} has no docstring of its own"
    missing = [p for p in constructor_params(cls) if p not in documented(cls, "Parameters")]
    assert not missing, (f"{cls.__name__}: add {missing} to the numpydoc Parameters section of its "
                         "docstring (or of the base class that documents the family's parameters)")


@pytest.mark.parametrize("name", [*ESTIMATORS, pytest.param("classifier", id="LMClassifier"),
                                  pytest.param("text-classifier", id="TextClassifier"),
                                  pytest.param("hf-classifier", id="HFSequenceClassifier")])
def test_documented_parameters_exist_and_attributes_are_learned_ones(name):
    cls = _class(name)
    own = section(cls.__dict__["__doc__"], "Parameters")
    stale = [p for p in own if p not in constructor_params(cls)]
    assert not stale, f"{cls.__name__} documents parameters it does not have: {stale}"
    attributes = documented(cls, "Attributes")
    assert attributes, f"{cls.__name__}: document its main learned attributes under Attributes"
    assert all(a.endswith("_") for a in attributes), sorted(attributes)


def test_the_parser_reads_numpydoc_sections():
    doc = """Summary.

    Parameters
    ----------
    order : int, default 3
        Words of context.
    a, b : float
        Two at once.
    flag
        No type.

    Attributes
    ----------
    counts_ : ndarray
    """
    assert section(doc, "Parameters") == ["order", "a", "b", "flag"]
    assert section(doc, "Attributes") == ["counts_"]
    assert section(doc, "Returns") == []
