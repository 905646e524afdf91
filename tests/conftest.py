"""Shared fixtures: small corpora the tests build themselves (no ../shared/data needed)."""

from __future__ import annotations

import pytest

from langmodels import Corpus
from tests.stubs import TOY_TEST, TOY_TRAIN


@pytest.fixture(scope="session")
def toy_train() -> Corpus:
    return Corpus.from_texts(TOY_TRAIN, name="toy-train")


@pytest.fixture(scope="session")
def toy_test(toy_train) -> Corpus:
    return Corpus.from_texts(TOY_TEST, vocab=toy_train.vocab, name="toy-test")
