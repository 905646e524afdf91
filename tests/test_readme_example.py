"""The README's "Adding a model" example really is a working model: its code block, registered
under a temporary name, passes every check of the contract suite.

The checks are the contract suite's own test functions, called with this model's name, so a check
added there applies here too. (This is the one test module that imports another: copying the
checks would let the two drift apart.)
"""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import numpy as np
import pytest

import langmodels as lm
from langmodels import registry
from tests import test_contract as contract

README = Path(__file__).resolve().parents[1] / "README.md"
NAME = "readme-cache-test"


def readme_example() -> str:
    """The first python code block of the README's "Adding a model" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Adding a model\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def example_class():
    module = types.ModuleType("readme_cache_example")
    exec(compile(readme_example(), f"{README}: Adding a model", "exec"), module.__dict__)
    cls = module.CacheModel
    lm.register(NAME, cls)
    try:
        yield cls
    finally:
        registry._MODELS.pop(NAME)


@pytest.fixture(scope="module")
def models(example_class, toy_train):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = contract.fitted(name, toy_train)
        return cache[name]

    return get


CHECKS = [f for n, f in vars(contract).items()
          if n.startswith("test_") and "name" in inspect.signature(f).parameters]


@pytest.mark.parametrize("check", CHECKS, ids=[f.__name__ for f in CHECKS])
def test_the_readme_model_passes_the_contract(check, example_class, models, toy_train, toy_test, tmp_path):
    given = {"name": NAME, "models": models, "toy_train": toy_train, "toy_test": toy_test,
             "tmp_path": tmp_path}
    wanted = list(inspect.signature(check).parameters)
    missing = [p for p in wanted if p not in given]
    assert not missing, f"{check.__name__} needs {missing}: pass them here too"
    check(**{p: given[p] for p in wanted})


def test_the_core_checks_are_among_them():
    names = {f.__name__ for f in CHECKS}
    assert {"test_rows_are_distributions", "test_token_logprobs_agree_with_next_logprobs",
            "test_save_then_load_gives_back_the_original"} <= names


def test_the_cache_does_what_the_formula_says(example_class, toy_train):
    model = lm.make(NAME, lam=0.5).fit(toy_train)
    v = toy_train.vocab
    p = np.exp(model.next_logprobs([[], [v["cat"], v["cat"], v["dog"]]]))
    np.testing.assert_allclose(p[1], 0.5 * p[0] + 0.5 * np.bincount(
        [v["cat"], v["cat"], v["dog"]], minlength=len(v)) / 3)
    assert p[1, v["cat"]] == pytest.approx(0.5 * p[0, v["cat"]] + 1 / 3)
    with pytest.raises(lm.InvalidParameterError, match="lam"):
        lm.make(NAME, lam=1.0).fit(toy_train)
