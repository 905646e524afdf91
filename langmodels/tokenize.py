"""Tokenizers: a line of text -> a list of token strings, and back.

`whitespace` suits pre-tokenised corpora (PTB, WikiText); `treebank` is NLTK's Penn Treebank word
tokenizer (rule-based, needs no data download); `char` makes every character a token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .errors import InvalidParameterError


def _whitespace(line: str) -> list[str]:
    return line.split()


def _char(line: str) -> list[str]:
    return list(line)


@functools.cache
def _treebank_tokenizer():
    from nltk.tokenize import TreebankWordTokenizer  # imported late: nltk is slow to import

    return TreebankWordTokenizer()


def _treebank(line: str) -> list[str]:
    return _treebank_tokenizer().tokenize(line)


def _join_words(tokens: list[str]) -> str:
    return " ".join(tokens)


def _join_chars(tokens: list[str]) -> str:
    return "".join(tokens)


def _treebank_detokenize(tokens: list[str]) -> str:
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    return TreebankWordDetokenizer().detokenize(tokens)


TOKENIZERS: dict[str, tuple[Callable[[str], list[str]], Callable[[list[str]], str]]] = {
    "whitespace": (_whitespace, _join_words),
    "treebank": (_treebank, _treebank_detokenize),
    "char": (_char, _join_chars),
}


def _lookup(name: str):
    try:
        return TOKENIZERS[name]
    except KeyError:
        raise InvalidParameterError(
            f"unknown tokenizer {name!r}; choose one of {sorted(TOKENIZERS)}"
        ) from None


def get_tokenizer(name: str) -> Callable[[str], list[str]]:
    """The function that splits one line into tokens."""
    return _lookup(name)[0]


def get_detokenizer(name: str) -> Callable[[list[str]], str]:
    """The function that joins tokens back into text (inverse of the tokenizer where it can be)."""
    return _lookup(name)[1]
