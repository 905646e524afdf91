"""Fixtures of the neural tests: the Zipf-like corpus of `_zipf` (adaptive-softmax tests)."""

import pytest

from langmodels import Corpus

from ._zipf import TEXTS


@pytest.fixture(scope="module")
def zipf_train():
    return Corpus.from_texts(TEXTS)


@pytest.fixture(scope="module")
def zipf_test(zipf_train):
    return Corpus.from_texts(TEXTS[:15] + ["w0 w29 zebra w3"], vocab=zipf_train.vocab)
