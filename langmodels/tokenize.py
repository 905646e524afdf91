"""Tokenizers: a line of text -> a list of token strings, and back.

`whitespace` suits pre-tokenised corpora (PTB, WikiText); `treebank` is NLTK's Penn Treebank word
tokenizer (rule-based, needs no data download); `char` makes every character a token.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable

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


# --- text preparation ----------------------------------------------------------------------------
NORMAL_FORMS = ("NFC", "NFKC", "NFD", "NFKD")


def normalize_texts(texts: Iterable[str], *, lowercase: bool = False,
                    normalize: str | None = None) -> list[str]:
    """The texts as a list, Unicode-normalised and lower-cased as asked.

    A bare string or bytes is refused: iterating it would make one sequence per character.
    """
    if isinstance(texts, (str, bytes)):
        kind = "string" if isinstance(texts, str) else "bytes object"
        raise TypeError(f"texts must be a list of texts, one sequence each, not a single {kind} (which "
                        "would give one sequence per character); pass [text] for one sequence or "
                        "text.splitlines() for one a line")
    if normalize is not None and normalize not in NORMAL_FORMS:
        raise InvalidParameterError(f"normalize must be one of {NORMAL_FORMS} or None, got {normalize!r}")
    out = []
    for k, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{k}] is a {type(t).__name__}, not a string")
        if normalize:
            t = unicodedata.normalize(normalize, t)
        out.append(t.lower() if lowercase else t)
    return out
