"""Docstring examples in the core modules run as tests (the README's run through pytest's doctest-glob)."""

import doctest

import pytest

import langmodels.corpus
import langmodels.generation
import langmodels.vocabulary


@pytest.mark.parametrize("module", [langmodels.vocabulary, langmodels.corpus, langmodels.generation])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
