"""A corpus: token-id sequences on one vocabulary, stored flat.

    ids      = [ a b c | d e | f g h i ]        one int32 array, no <s> or </s>
    offsets  = [ 0       3     5         9 ]    sequence k is ids[offsets[k]:offsets[k+1]]

Every sequence is scored from `<s>` and ends with a predicted `</s>`, so a corpus of N tokens
in S sequences has N + S counted targets (`targets()`), laid out sequence by sequence.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from .errors import EmptyCorpusError, InvalidParameterError, VocabularyMismatchError
from .reading import cache_key, cached, read_file
from .tokenize import NORMAL_FORMS, get_detokenizer, get_tokenizer, normalize_texts
from .vocabulary import EOS_ID, UNK_ID, Vocabulary


class Corpus:
    """Token-id sequences with their vocabulary.

    >>> c = Corpus.from_texts(["the cat sat", "the dog"])
    >>> len(c), c.n_tokens, c.n_targets, c.vocab.decode(c[1])
    (2, 5, 7, ['the', 'dog'])
    """

    def __init__(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        vocab: Vocabulary,
        oov_counts: np.ndarray | None = None,
        n_chars: np.ndarray | None = None,
        tokenizer: str = "whitespace",
        name: str | None = None,
    ):
        self.ids = np.ascontiguousarray(ids, dtype=np.int32)
        self.offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        self.vocab = vocab
        # OOVs (token strings the vocabulary lacks) in each sequence; a literal "<unk>" is not one.
        self.oov_counts = (np.zeros(len(self.offsets) - 1, np.int64) if oov_counts is None
                           else np.asarray(oov_counts, np.int64))
        self.tokenizer = tokenizer
        self.name = name
        lengths = np.diff(self.offsets)
        # Characters of each detokenised sequence (known only when built from text).
        self.n_chars = None if n_chars is None else np.asarray(n_chars, np.int64)
        if len(self.offsets) < 2 or self.offsets[0] != 0 or self.offsets[-1] != len(self.ids):
            raise ValueError("offsets must start at 0 and end at len(ids)")
        if (lengths < 0).any():
            raise ValueError("offsets must not decrease")
        if len(self.ids) and (self.ids.min() < 0 or self.ids.max() >= len(vocab)):
            raise ValueError(f"token id out of range for a vocabulary of {len(vocab)} tokens")

    # --- construction --------------------------------------------------------------------
    @classmethod
    def from_tokens(
        cls,
        sequences: Iterable[Sequence[str]],
        vocab: Vocabulary | None = None,
        min_count: int = 1,
        max_size: int | None = None,
        tokenizer: str = "whitespace",
        name: str | None = None,
    ) -> Corpus:
        """From lists of token strings; `vocab=None` builds the vocabulary from these sequences.

        Empty sequences are dropped (they carry no text); an empty result is an error.
        """
        seqs = [list(s) for s in sequences if len(s)]
        if not seqs:
            raise EmptyCorpusError(f"{name or 'corpus'}: no non-empty sequence")
        if vocab is None:
            vocab = Vocabulary.from_corpus(seqs, min_count=min_count, max_size=max_size)
        flat = [t for s in seqs for t in s]
        ids = vocab.encode(flat)
        oov_counts = [sum(1 for t in s if t not in vocab) for s in seqs]
        offsets = np.zeros(len(seqs) + 1, np.int64)
        np.cumsum([len(s) for s in seqs], out=offsets[1:])
        detok = get_detokenizer(tokenizer)
        n_chars = np.array([len(detok(s)) for s in seqs], np.int64)
        return cls(ids, offsets, vocab, oov_counts, n_chars, tokenizer, name)

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        vocab: Vocabulary | None = None,
        tokenizer: str = "whitespace",
        min_count: int = 1,
        max_size: int | None = None,
        name: str | None = None,
        *,
        lowercase: bool = False,
        normalize: str | None = None,
    ) -> Corpus:
        """From strings, one sequence each (blank strings are skipped).

        lowercase: lower-case every text before tokenizing.
        normalize: a Unicode normal form ("NFC", "NFKC", "NFD", "NFKD") applied first, so that
            one word typed with composed or decomposed accents becomes one vocabulary entry.
        A corpus scored on `vocab=` must be normalised the same way as the one `vocab` came from.
        """
        split = get_tokenizer(tokenizer)
        texts = normalize_texts(texts, lowercase=lowercase, normalize=normalize)
        seqs = [split(t.rstrip("\r\n")) for t in texts if t.strip()]
        return cls.from_tokens(seqs, vocab, min_count, max_size, tokenizer, name)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        vocab: Vocabulary | None = None,
        tokenizer: str = "whitespace",
        min_count: int = 1,
        max_size: int | None = None,
        *,
        lowercase: bool = False,
        normalize: str | None = None,
        cache_dir: str | os.PathLike | None = None,
    ) -> Corpus:
        """One sequence per non-empty line of a UTF-8 file; `vocab=None` builds one from it.

        The file is read in one streaming pass (blocks of lines split and encoded at once), so
        memory holds the encoded ids, not the text: the same corpus as
        `from_texts(text.splitlines(), ...)`.

        lowercase, normalize: as in `from_texts`.
        cache_dir: a folder for the encoded corpus (int32 ids and offsets as `.npy`, and the
            vocabulary), keyed by the file's SHA-256, the tokenizer, the text options and the
            vocabulary; a later call with the same key memory-maps the arrays instead of reading
            the text. None (the default) caches nothing.
        """
        if normalize is not None and normalize not in NORMAL_FORMS:
            raise InvalidParameterError(f"normalize must be one of {NORMAL_FORMS} or None, got {normalize!r}")

        def build():
            return read_file(path, vocab, tokenizer, min_count, max_size, lowercase, normalize)

        if cache_dir is None:
            ids, offsets, oov_counts, n_chars, vocab = build()
        else:
            key = cache_key(path, vocab, tokenizer, min_count, max_size, lowercase, normalize)
            ids, offsets, oov_counts, n_chars, vocab = cached(cache_dir, key, vocab, build)
        return cls(ids, offsets, vocab, oov_counts, n_chars, tokenizer, name=os.fspath(path))

    # --- access --------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of sequences."""
        return len(self.offsets) - 1

    def __getitem__(self, k: int) -> np.ndarray:
        return self.ids[self.offsets[k] : self.offsets[k + 1]]

    def sequences(self) -> Iterator[np.ndarray]:
        """Each sequence's ids, without `<s>` or `</s>`."""
        for k in range(len(self)):
            yield self[k]

    def __repr__(self) -> str:
        return (f"Corpus({self.name or 'unnamed'}: {len(self)} sequences, {self.n_tokens} tokens, "
                f"{self.n_oov} OOV, vocab {len(self.vocab)})")

    @property
    def lengths(self) -> np.ndarray:
        """Tokens in each sequence (without `</s>`)."""
        return np.diff(self.offsets)

    @property
    def n_oov(self) -> int:
        """Tokens whose string the vocabulary lacks (they are scored as `<unk>`)."""
        return int(self.oov_counts.sum())

    @property
    def n_tokens(self) -> int:
        """Tokens, not counting `</s>`."""
        return len(self.ids)

    @property
    def n_targets(self) -> int:
        """Counted (predicted) tokens: every token plus one `</s>` per sequence."""
        return len(self.ids) + len(self)

    def targets(self) -> np.ndarray:
        """The counted tokens in scoring order: each sequence's ids followed by `</s>`."""
        out = np.empty(self.n_targets, np.int32)
        out[self.eos_positions()] = EOS_ID
        out[~self.eos_mask()] = self.ids
        return out

    def eos_positions(self) -> np.ndarray:
        """Index of each sequence's `</s>` in `targets()`."""
        return self.offsets[1:] + np.arange(len(self))

    def eos_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_targets, bool)
        mask[self.eos_positions()] = True
        return mask

    def unk_count(self) -> int:
        """Tokens mapped to `<unk>` (OOVs and literal `<unk>` tokens)."""
        return int((self.ids == UNK_ID).sum())

    def decode(self, k: int) -> str:
        """Sequence k as detokenised text (OOVs shown as `<unk>`)."""
        return get_detokenizer(self.tokenizer)(self.vocab.decode(self[k]))

    def subset(self, indices: Sequence[int] | np.ndarray) -> Corpus:
        """A corpus of the chosen sequences, in the given order, on the same vocabulary."""
        idx = np.asarray(indices, np.int64)
        if len(idx) == 0:
            raise EmptyCorpusError("subset of no sequence")
        lengths = self.lengths[idx]
        offsets = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.concatenate([self[k] for k in idx])
        n_chars = None if self.n_chars is None else self.n_chars[idx]
        return Corpus(ids, offsets, self.vocab, self.oov_counts[idx], n_chars, self.tokenizer, self.name)

    def check_vocab(self, vocab: Vocabulary, what: str = "model") -> None:
        """Raise VocabularyMismatchError unless this corpus uses `vocab`."""
        if self.vocab.fingerprint != vocab.fingerprint:
            raise VocabularyMismatchError(
                f"corpus {self.name or ''} uses a vocabulary of {len(self.vocab)} tokens "
                f"(fingerprint {self.vocab.fingerprint[:12]}) but the {what} uses one of "
                f"{len(vocab)} tokens (fingerprint {vocab.fingerprint[:12]}); build the corpus "
                f"with vocab=model.vocab_"
            )


def split_corpus(
    texts: Corpus | Iterable[str],
    *,
    valid: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
    tokenizer: str = "whitespace",
    min_count: int = 1,
    max_size: int | None = None,
    lowercase: bool = False,
    normalize: str | None = None,
) -> tuple[Corpus, Corpus | None, Corpus | None]:
    """Split texts (one sequence each) into train/valid/test corpora at random, by sequence.

    The texts are split first and the vocabulary is built from the train part alone, so valid and
    test words unseen in training are `<unk>`, as they would be for new text (building the
    vocabulary before splitting would leak test words into it). All three corpora share that
    vocabulary. `valid` and `test` are fractions of the non-blank sequences (rounded to whole
    sequences); a split of fraction 0 is None. The same seed gives the same split, and each split
    keeps the texts' original order. A `Corpus` is split by its decoded tokens (its OOVs stay `<unk>`;
    lowercase and normalize apply to texts only).

    >>> train, valid, test = split_corpus([f"line {i}" for i in range(10)], valid=0.2, test=0.1, seed=0)
    >>> len(train), len(valid), len(test), train.vocab is test.vocab
    (7, 2, 1, True)
    """
    for what, frac in (("valid", valid), ("test", test)):
        if not 0 <= frac < 1:
            raise InvalidParameterError(f"{what} must be a fraction in [0, 1), got {frac!r}")
    if valid + test >= 1:
        raise InvalidParameterError(f"valid + test must leave some training text: {valid} + {test} >= 1")
    if isinstance(texts, Corpus):
        tokenizer = texts.tokenizer
        seqs = [texts.vocab.decode(s) for s in texts.sequences()]
    else:
        split = get_tokenizer(tokenizer)
        texts = normalize_texts(texts, lowercase=lowercase, normalize=normalize)
        seqs = [split(t) for t in texts if t.strip()]
    n = len(seqs)
    sizes = {"valid": round(valid * n), "test": round(test * n)}
    for what, frac in (("valid", valid), ("test", test)):
        if frac > 0 and sizes[what] == 0:
            raise EmptyCorpusError(f"{what}={frac} of {n} sequences rounds to none; give a larger fraction "
                                   f"(at least {1 / max(n, 1):.3g}) or {what}=0")
    if n - sizes["valid"] - sizes["test"] < 1:
        raise EmptyCorpusError(f"{n} sequences leave none for training")
    order = np.random.default_rng(seed).permutation(n)
    cut = np.cumsum([sizes["test"], sizes["valid"]])
    parts = dict(zip(("test", "valid", "train"), np.split(order, cut)))
    pick = {k: [seqs[i] for i in np.sort(idx)] for k, idx in parts.items()}
    train = Corpus.from_tokens(pick["train"], None, min_count, max_size, tokenizer, name="train")
    held_out = {k: Corpus.from_tokens(pick[k], train.vocab, tokenizer=tokenizer, name=k) if pick[k] else None
                for k in ("valid", "test")}
    return train, held_out["valid"], held_out["test"]
