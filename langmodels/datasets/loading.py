"""`load`: a named corpus, a directory, or the synthetic language -> train/valid/test corpora.

All splits share one vocabulary built from the training split only, so every model predicts the
same outcomes; words unseen in train are scored as `<unk>`.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import read_utf8
from .._maths import perplexity_from_total
from ..corpus import Corpus, split_corpus
from ..errors import DownloadError, EmptyCorpusError, InvalidParameterError, MissingSplitError
from ..vocabulary import Vocabulary
from .catalog import CORPORA, GENERATED, SPLIT_ALIASES, SPLITS, CorpusSpec, find_split_file, get_spec
from .download import cache_dir, fetch
from .synthetic import SyntheticLanguage

SYNTHETIC_SIZES = {"n_train": 9000, "n_valid": 1500, "n_test": 1500}  # about 94k / 16k / 16k tokens


@dataclass
class Dataset:
    """Train/valid/test corpora on the train vocabulary (a split not loaded is None).

    For the synthetic corpus `oracle_logprobs[split]` holds the exact ln p of each sequence
    (its `</s>` included) under the generator, and `language` the generator itself.
    """

    name: str
    train: Corpus | None = None
    valid: Corpus | None = None
    test: Corpus | None = None
    oracle_logprobs: dict[str, np.ndarray] | None = None
    language: SyntheticLanguage | None = None
    vocab_source: str = "train"  # the split the vocabulary was built from
    info: dict = field(default_factory=dict)

    @property
    def vocab(self) -> Vocabulary:
        return next(c for c in (self.train, self.valid, self.test) if c is not None).vocab

    def splits(self) -> dict[str, Corpus]:
        """The loaded splits by name."""
        return {s: getattr(self, s) for s in SPLITS if getattr(self, s) is not None}

    def oracle_perplexity(self, split: str = "test") -> float:
        """exp(-sum of oracle ln p / counted tokens) of a split: the generator's own perplexity.

        No model beats it in expectation on the exact words. Caveat: words unseen in train are
        scored as `<unk>`, one outcome that pools every unseen word, so a model may give `<unk>`
        more probability than the generator gives the particular word; with OOVs in the split the
        oracle is a floor for the exact words only (compare `corpus.n_oov`).
        """
        if self.oracle_logprobs is None:
            raise ValueError(f"{self.name} is a real corpus: only the synthetic language has an oracle")
        corpus = getattr(self, split, None)
        if corpus is None or split not in self.oracle_logprobs:
            raise ValueError(f"split {split!r} is not loaded; loaded: {sorted(self.oracle_logprobs)}")
        return perplexity_from_total(float(self.oracle_logprobs[split].sum()), corpus.n_targets)

    def __repr__(self) -> str:
        parts = ", ".join(f"{s}={len(c)} seq/{c.n_tokens} tok" for s, c in self.splits().items())
        return f"Dataset({self.name}: {parts}, vocab {len(self.vocab)} from {self.vocab_source})"


def load(name_or_dir, *, splits: Sequence[str] | None = None, tokenizer: str | None = None,
         min_count: int = 1, max_size: int | None = None, data_dir=None, download: bool = True,
         progress: bool | None = None, fractions: Sequence[float] | None = None, seed: int = 0,
         **generator_params) -> Dataset:
    """Load a corpus by name (`available_datasets()`), from a directory of split files, or from one
    text file split at random by line.

    splits: the splits wanted (default all three; a mini protocol has train and test only); a
        wanted split that is missing raises MissingSplitError naming it.
    tokenizer: "whitespace", "treebank" or "char" (default: the corpus's own).
    min_count, max_size: vocabulary cut-offs, applied to the training split.
    data_dir: a folder like ../shared/data: named corpora are read from data_dir/<name> with no
        network; mini protocols (ptb-mini, wt2-mini, shakespeare-*) need it (or $LANGMODELS_DATA).
    download: fetch a named corpus into the cache when it is not there (else DownloadError).
    seed: the synthetic generator's seed, or the shuffle of a split file.
    fractions: for one text file, the (train, valid, test) fractions of its non-blank lines,
        e.g. (0.8, 0.1, 0.1), drawn at random (see `langmodels.split_corpus`).
    generator_params: for "synthetic": n_train, n_valid, n_test (sentences) and any
        SyntheticLanguage parameter.
    """
    wanted = _check_splits(splits)
    is_name = isinstance(name_or_dir, str) and (name_or_dir in CORPORA or name_or_dir in GENERATED)
    if fractions is not None or (not is_name and Path(name_or_dir).is_file()):
        return load_file(name_or_dir, fractions, seed=seed, splits=splits, tokenizer=tokenizer,
                         min_count=min_count, max_size=max_size)
    if isinstance(name_or_dir, str) and name_or_dir in GENERATED:
        if tokenizer not in (None, "whitespace"):
            raise InvalidParameterError("the synthetic corpus is word-level: tokenizer must be 'whitespace'")
        return load_synthetic(splits=wanted, min_count=min_count, max_size=max_size, seed=seed,
                              **generator_params)
    if generator_params:
        raise InvalidParameterError(f"unexpected parameters {sorted(generator_params)}: only the "
                                    "synthetic corpus takes generator parameters")
    named = isinstance(name_or_dir, str) and name_or_dir in CORPORA
    looks_like_path = not isinstance(name_or_dir, str) or "/" in name_or_dir or os.sep in name_or_dir
    if not named and (looks_like_path or Path(name_or_dir).is_dir()):
        path = Path(name_or_dir)
        texts = _directory_texts(path, wanted, splits is not None)
        return _build(str(path), texts, wanted, tokenizer or "whitespace", min_count, max_size)
    spec = get_spec(name_or_dir)
    if splits is None and spec.single_file is None and spec.files:
        wanted = tuple(s for s in SPLITS if s in spec.files)  # a protocol's own splits
    elif splits is None and spec.single_file is not None:
        wanted = ("train", "test")
    texts = _spec_texts(spec, wanted, splits is not None, data_dir, download, progress)
    return _build(spec.name, texts, wanted, tokenizer or spec.tokenizer, min_count, max_size)


def load_file(path, fractions: Sequence[float] | None, *, seed: int = 0, splits: Sequence[str] | None = None,
              tokenizer: str | None = None, min_count: int = 1, max_size: int | None = None) -> Dataset:
    """One UTF-8 text file, one sequence a line, split by line into train/valid/test at random.

    fractions: (train, valid, test), summing to 1, e.g. (0.8, 0.1, 0.1); a zero fraction leaves
    that split out. The file is split before the vocabulary is built from train (`split_corpus`).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingSplitError(f"{path}: no such file")
    if fractions is None:
        raise MissingSplitError(f"{path} is a single file: pass fractions=(0.8, 0.1, 0.1) to split it by "
                                "line at random (`langmodels train --split 0.8,0.1,0.1`; to score the whole "
                                "file: `langmodels evaluate MODEL_DIR --file FILE`)")
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0) \
            or fractions[0] == 0:
        raise InvalidParameterError(f"fractions must be three non-negative numbers (train, valid, test) that "
                                    f"sum to 1 with train > 0, e.g. (0.8, 0.1, 0.1); got {fractions!r}")
    lines = read_utf8(path).splitlines()
    if not any(line.strip() for line in lines):
        raise EmptyCorpusError(f"{path}: the file has no line of text")
    parts = split_corpus(lines, valid=fractions[1], test=fractions[2], seed=seed,
                         tokenizer=tokenizer or "whitespace", min_count=min_count, max_size=max_size)
    ds = Dataset(str(path), info={"file": str(path), "fractions": fractions, "seed": seed,
                                  "tokenizer": tokenizer or "whitespace"})
    wanted = splits is not None and _check_splits(splits)
    for split, corpus in zip(SPLITS, parts):
        if corpus is not None:
            corpus.name = f"{path}[{split}]"
        if wanted and split not in wanted:
            continue
        if wanted and corpus is None:
            raise MissingSplitError(f"{path}: the {split} split is empty (its fraction is 0)")
        setattr(ds, split, corpus)
    return ds


def download(name: str, cache_dir: str | os.PathLike | None = None, progress: bool | None = None) -> Path:
    """Fetch a named corpus into the cache (verified by SHA-256); return its directory."""
    spec = get_spec(name) if name not in GENERATED else None
    if spec is None or spec.protocol:
        raise InvalidParameterError(f"{name!r} has nothing to download "
                                    f"({'it is generated' if spec is None else 'it reads data_dir'})")
    directory = _cache_root(cache_dir) / spec.name
    for resource in spec.resources:
        fetch(resource, directory, progress)
    return directory


def load_synthetic(*, splits=SPLITS, min_count: int = 1, max_size: int | None = None, seed: int = 0,
                   n_train: int = SYNTHETIC_SIZES["n_train"], n_valid: int = SYNTHETIC_SIZES["n_valid"],
                   n_test: int = SYNTHETIC_SIZES["n_test"], **language_params) -> Dataset:
    """Sample the synthetic language; each split has its own random stream (seed, k), so changing
    n_train leaves valid and test unchanged. The vocabulary comes from train as always."""
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    for split, n in sizes.items():
        if not isinstance(n, int) or n < (1 if split == "train" or split in splits else 0):
            raise InvalidParameterError(f"n_{split} must be a positive number of sentences, got {n!r}")
    known = set(inspect.signature(SyntheticLanguage).parameters)
    unknown = sorted(set(language_params) - known)
    if unknown:
        raise InvalidParameterError(f"unknown synthetic-language parameters {unknown}; known: "
                                    f"n_train, n_valid, n_test, {', '.join(sorted(known))}")
    lang = SyntheticLanguage(seed=seed, **language_params)
    samples = {s: lang.sample(sizes[s], rng=np.random.default_rng([seed, 1 + k]))
               for k, s in enumerate(SPLITS) if s == "train" or s in splits}
    vocab = Vocabulary.from_corpus(samples["train"][0], min_count=min_count, max_size=max_size)
    ds = Dataset("synthetic", language=lang, oracle_logprobs={},
                 info={"seed": seed, **sizes, **language_params})
    for split in splits:
        sents, logp = samples[split]
        setattr(ds, split, Corpus.from_tokens(sents, vocab=vocab, name=f"synthetic/{split}"))
        ds.oracle_logprobs[split] = logp
    return ds


# --- helpers ------------------------------------------------------------------------------
def _check_splits(splits) -> tuple[str, ...]:
    if splits is None:
        return SPLITS
    if isinstance(splits, str):
        splits = (splits,)
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise InvalidParameterError(f"splits must be a non-empty subset of {SPLITS}, got {splits!r}")
    return tuple(s for s in SPLITS if s in splits)


def _cache_root(root) -> Path:
    return Path(root) if root is not None else cache_dir()


def _missing(where, split: str, present: Sequence[str], explicit: bool) -> MissingSplitError:
    looked = ", ".join(f"{a}.txt" for a in SPLIT_ALIASES[split])
    hint = ("" if explicit or not present else
            f"; to load only what is there pass splits={tuple(present)!r} (`langmodels bench`: "
            f"--set corpus_params.splits=[{','.join(present)}]; `langmodels train` loads those present)")
    return MissingSplitError(f"{where}: the {split} split is missing (looked for {looked}, "
                             f"ptb.{split}.txt, wiki.{split}.tokens){hint}")


def _directory_texts(path: Path, wanted, explicit: bool) -> dict[str, tuple[str, str]]:
    """split -> (source name, text) for the wanted splits, plus train for the vocabulary if present."""
    if not path.is_dir():
        raise MissingSplitError(f"{path}: no such directory")
    found = {s: find_split_file(path, s) for s in SPLITS}
    present = [s for s in SPLITS if found[s] is not None]
    for split in wanted:
        if found[split] is None:
            raise _missing(path, split, present, explicit)
    keep = [s for s in SPLITS if s in wanted or (s == "train" and found[s] is not None)]
    return {s: (str(found[s]), read_utf8(found[s])) for s in keep}


def _spec_texts(spec: CorpusSpec, wanted, explicit, data_dir, download, progress):
    if data_dir is None and spec.protocol:
        data_dir = os.environ.get("LANGMODELS_DATA")
        if not data_dir:
            raise MissingSplitError(f"{spec.name} reads the shared benchmark folder: pass data_dir= "
                                    "(e.g. ../shared/data) or set $LANGMODELS_DATA")
    if data_dir is not None and not spec.protocol:
        local = Path(data_dir) / spec.name  # a ready copy: no network
        if spec.single_file is None:
            return _directory_texts(local, wanted, explicit)
        return _split_single(spec, local / spec.single_file, wanted)
    if spec.protocol:
        root = Path(data_dir)
    else:
        root = cache_dir() / spec.name
        if not all((root / r.filename).exists() for r in spec.resources):
            if not download:
                raise DownloadError(f"{spec.name} is not in the cache ({root}); call with download=True, "
                                    "or pass data_dir= where a copy lives")
        for resource in spec.resources:
            fetch(resource, root, progress)
    if spec.single_file is not None:
        return _split_single(spec, root / spec.single_file, wanted)
    present = [s for s in SPLITS if s in spec.files and (root / spec.files[s]).is_file()]
    for split in wanted:
        if split not in present:
            where = root / spec.files[split] if split in spec.files else f"{spec.name} (no {split} split)"
            raise _missing(where, split, present, explicit)
    keep = [s for s in SPLITS if s in wanted or (s == "train" and s in present)]
    return {s: (str(root / spec.files[s]), read_utf8(root / spec.files[s])) for s in keep}


def _split_single(spec: CorpusSpec, path: Path, wanted):
    if not path.is_file():
        raise MissingSplitError(f"{path}: not found ({spec.name} is split from this one file)")
    if "valid" in wanted:
        raise MissingSplitError(f"{spec.name}: the valid split is missing (train = first "
                                f"{spec.train_fraction:.0%} of the characters, test = the rest)")
    text = read_utf8(path)
    cut = int(len(text) * spec.train_fraction)
    return {"train": (f"{path}[:{cut}]", text[:cut]), "test": (f"{path}[{cut}:]", text[cut:])}


def _build(name: str, texts: dict[str, tuple[str, str]], wanted, tokenizer, min_count, max_size) -> Dataset:
    """Corpora from texts (one sequence per non-empty line); the vocabulary comes from train when
    there is one, else from the first split wanted. Only the wanted splits are kept."""
    source = "train" if "train" in texts else wanted[0]
    ds = Dataset(name, vocab_source=source,
                 info={"files": {s: texts[s][0] for s in wanted}, "tokenizer": tokenizer})
    where, text = texts[source]
    base = Corpus.from_texts(text.splitlines(), tokenizer=tokenizer, min_count=min_count,
                             max_size=max_size, name=where)
    for split in wanted:
        where, text = texts[split]
        corpus = base if split == source else Corpus.from_texts(text.splitlines(), base.vocab,
                                                                tokenizer=tokenizer, name=where)
        setattr(ds, split, corpus)
    return ds
