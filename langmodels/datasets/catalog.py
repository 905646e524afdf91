"""The table of named corpora, read from one YAML file per corpus.

The files live in the repository's top-level `data/corpora/` (data/README.md describes them and
how to add one); a built wheel carries the same files as `langmodels/datasets/corpora/`. Each file
is parsed and checked into a CorpusSpec, and a malformed one raises CatalogError naming the file
and the field. Where each checksum was verified is noted in the file's comments.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from .._io import read_utf8
from ..errors import CatalogError, UnknownDatasetError
from ..tokenize import TOKENIZERS
from .download import Resource

SPLITS = ("train", "valid", "test")
SPLIT_ALIASES = {"train": ("train",), "valid": ("valid", "validation", "val", "dev"), "test": ("test",)}
FILE_PATTERNS = ("{}.txt", "{}.tokens", "ptb.{}.txt", "wiki.{}.tokens", "{}")


@dataclass(frozen=True)
class CorpusSpec:
    """A named corpus.

    `resources` are downloaded into the cache directory `<cache>/<name>`; `files` maps each split
    to a path relative to that directory (or, for a mini protocol, relative to `data_dir`).
    `single_file` with `train_fraction` splits one text: the first fraction of its characters is
    train, the rest test (nanoGPT's Shakespeare split). `source`, `licence` and `citation` are
    for people: where the corpus comes from, its terms, and what to cite.
    """

    name: str
    description: str
    tokenizer: str = "whitespace"
    resources: tuple[Resource, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    single_file: str | None = None
    train_fraction: float = 0.9
    protocol: bool = False  # reads ready files under data_dir; nothing to download
    source: str = ""
    licence: str = "see source"
    citation: str = ""


# --- reading the catalogue files ------------------------------------------------------------------
TEXT_FIELDS = ("name", "description", "source", "licence", "citation")  # required, non-empty strings
FIELDS = set(TEXT_FIELDS) | {"tokenizer", "resources", "files", "single_file", "train_fraction", "protocol"}
RESOURCE_FIELDS = ("url", "sha256", "filename", "extract_to")
GENERATED = ("synthetic",)


def corpora_dir() -> Path:
    """The folder of catalogue files: the wheel's packaged copy, else the checkout's data/corpora."""
    packaged = Path(__file__).with_name("corpora")
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "data" / "corpora"


def read_catalog(directory: str | Path) -> dict[str, CorpusSpec]:
    """Every `*.yaml` file in `directory` parsed into a CorpusSpec, by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CatalogError(f"{directory}: the corpus catalogue folder is missing")
    return {spec.name: spec for spec in map(read_spec, sorted(directory.glob("*.yaml")))}


def read_spec(path: str | Path) -> CorpusSpec:
    """One catalogue file parsed and checked; CatalogError names the file and the bad field."""
    path = Path(path)
    try:
        entry = yaml.load(read_utf8(path), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise CatalogError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(entry, dict):
        raise CatalogError(f"{path}: expected a mapping of fields, got {type(entry).__name__}")
    check = _Checker(path)
    unknown = sorted(map(str, set(entry) - FIELDS))
    if unknown:
        raise check.error(unknown[0], f"unknown field; the fields are {', '.join(sorted(FIELDS))}")
    text = {key: check.text(key, entry.get(key)) for key in TEXT_FIELDS}
    if text["name"] != path.stem:
        raise check.error("name", f"{text['name']!r} must equal the file name {path.stem!r}")
    if text["name"] in GENERATED:
        raise check.error("name", f"{text['name']!r} is reserved for the generated corpus")
    tokenizer = entry.get("tokenizer", "whitespace")
    if tokenizer not in TOKENIZERS:
        raise check.error("tokenizer", f"{tokenizer!r} is not one of {', '.join(TOKENIZERS)}")
    protocol = entry.get("protocol", False)
    if not isinstance(protocol, bool):
        raise check.error("protocol", f"must be true or false, got {protocol!r}")
    resources = tuple(check.resource(i, r) for i, r in enumerate(check.listing("resources", entry)))
    if protocol == bool(resources):
        raise check.error("resources", "a protocol reads files under data_dir and downloads nothing"
                          if protocol else "a downloaded corpus needs at least one resource")
    files = entry.get("files") or {}
    if not isinstance(files, dict):
        raise check.error("files", f"must map splits to paths, got {type(files).__name__}")
    for split, where in files.items():
        if split not in SPLITS:
            raise check.error(f"files.{split}", f"is not a split; the splits are {', '.join(SPLITS)}")
        check.relative(f"files.{split}", where)
    single = entry.get("single_file")
    if single is not None:
        check.relative("single_file", single)
    if (single is None) == (not files):
        raise check.error("files", "give either files (one per split) or single_file, not both or neither")
    fraction = entry.get("train_fraction", 0.9)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise check.error("train_fraction", f"must be a number between 0 and 1, got {fraction!r}")
    return CorpusSpec(text["name"], text["description"], tokenizer=tokenizer, resources=resources,
                      files=dict(files), single_file=single, train_fraction=float(fraction),
                      protocol=protocol, source=text["source"], licence=text["licence"],
                      citation=text["citation"])


class _Checker:
    """Field checks for one file; every error starts with the file and the field."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, field: str, problem: str) -> CatalogError:
        return CatalogError(f"{self.path}: field {field!r}: {problem}")

    def text(self, field: str, value) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "missing" if value is None else f"must be non-empty text, got {value!r}")
        return value.strip()

    def relative(self, field: str, value) -> str:
        # a path inside the cache or data directory: never absolute, never climbing out with '..'
        p = PurePosixPath(value) if isinstance(value, str) and value else None
        if p is None or p.is_absolute() or ".." in p.parts:
            raise self.error(field, f"must be a relative path without '..', got {value!r}")
        return value

    def listing(self, field: str, entry: dict) -> list:
        value = entry.get(field) or []
        if not isinstance(value, list):
            raise self.error(field, f"must be a list, got {type(value).__name__}")
        return value

    def resource(self, i: int, value) -> Resource:
        where = f"resources[{i}]"
        if not isinstance(value, dict):
            raise self.error(where, f"must be a mapping of {', '.join(RESOURCE_FIELDS)}")
        unknown = sorted(map(str, set(value) - set(RESOURCE_FIELDS)))
        if unknown:
            raise self.error(f"{where}.{unknown[0]}",
                             f"unknown field; the fields are {', '.join(RESOURCE_FIELDS)}")
        url = value.get("url")
        if not isinstance(url, str) or not re.fullmatch(r"https?://\S+", url):
            raise self.error(f"{where}.url", f"must be an http(s) address, got {url!r}")
        sha = value.get("sha256")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise self.error(f"{where}.sha256", f"must be 64 lower-case hexadecimal digits, got {sha!r}")
        filename = self.relative(f"{where}.filename", value.get("filename"))
        extract_to = value.get("extract_to")
        if extract_to is not None:
            self.relative(f"{where}.extract_to", extract_to)
        return Resource(url, sha, filename, extract_to)


CORPORA: dict[str, CorpusSpec] = read_catalog(corpora_dir())



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
