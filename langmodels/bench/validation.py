"""The validation split every comparison selects and stops on.

A corpus that has a validation split keeps it. One that has none gets a seeded `valid_fraction` of
its training sequences carved off (the spec's field; 0.1 when it is not given, 0 opts out), and
the vocabulary is then rebuilt from the carved training part alone, with the spec's `min_count`
and `max_size`, so that a word seen only in the carved validation sequences is `<unk>` there, as
an unseen word is on new text. Test (and valid) are mapped onto that vocabulary by id, so their
character counts (for bits per character) are kept. Every model then gets the same train and
valid, and the record says which valid it was.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..corpus import Corpus
from ..errors import EmptyCorpusError
from ..vocabulary import SPECIALS, UNK_ID, Vocabulary

DEFAULT_VALID_FRACTION = 0.1


def with_validation(data, fraction: float | None, seed: int, min_count: int = 1,
                    max_size: int | None = None):
    """`data` with the validation split the harness uses and `valid_source` saying which it is.

    fraction: None takes the corpus's validation split if it has one, else
    `DEFAULT_VALID_FRACTION` of the training sequences; a number carves that fraction when the
    corpus has no validation split (0: no validation at all). A corpus's own split always wins.
    """
    valid = getattr(data, "valid", None)
    if valid is not None:
        return _annotated(data, data.train, valid, data.test,
                          {"source": "corpus", "sequences": len(valid), "tokens": valid.n_tokens})
    fraction = DEFAULT_VALID_FRACTION if fraction is None else fraction
    if fraction == 0:
        return _annotated(data, data.train, None, data.test, {"source": "none"})
    train, valid, test = carve(data.train, data.test, fraction, seed, min_count, max_size)
    return _annotated(data, train, valid, test,
                      {"source": "carved", "fraction": fraction, "seed": seed, "sequences": len(valid),
                       "tokens": valid.n_tokens, "train_sequences_before": len(data.train)})


def carve(train: Corpus, test: Corpus, fraction: float, seed: int, min_count: int = 1,
          max_size: int | None = None) -> tuple[Corpus, Corpus, Corpus]:
    """(train, valid, test): round(fraction * len(train)) training sequences, drawn by
    `numpy.random.default_rng(seed)`, become valid; the vocabulary is rebuilt from the rest.
    Each part keeps the corpus's order."""
    n = len(train)
    k = round(fraction * n)
    if k < 1 or k >= n:
        raise EmptyCorpusError(f"valid_fraction {fraction} of {n} training sequences leaves "
                               f"{k} for validation and {n - k} for training; both need at least one")
    order = np.random.default_rng(seed).permutation(n)
    valid_part, train_part = train.subset(np.sort(order[:k])), train.subset(np.sort(order[k:]))
    counts = np.bincount(train_part.ids, minlength=len(train.vocab))
    words = range(len(SPECIALS), len(train.vocab))
    vocab = Vocabulary.from_counts([train.vocab.tokens[i] for i in words], counts[len(SPECIALS):],
                                   min_count, max_size)
    return tuple(_remap(c, vocab, name) for c, name in
                 ((train_part, train.name), (valid_part, f"{train.name} (valid carve)"), (test, test.name)))


def _remap(corpus: Corpus, vocab: Vocabulary, name) -> Corpus:
    """`corpus` on `vocab`: a token `vocab` lacks becomes `<unk>` and counts as an OOV."""
    new_id = corpus.vocab.index_in(vocab)[corpus.ids]
    lost = (new_id == UNK_ID) & (corpus.ids != UNK_ID)
    seq = np.repeat(np.arange(len(corpus)), corpus.lengths)
    oov = corpus.oov_counts + np.bincount(seq[lost], minlength=len(corpus))
    return Corpus(new_id, corpus.offsets, vocab, oov, corpus.n_chars, corpus.tokenizer, name)


def _annotated(data, train, valid, test, source: dict):
    return SimpleNamespace(train=train, valid=valid, test=test, valid_source=source,
                           oracle_logprobs=getattr(data, "oracle_logprobs", None),
                           language=getattr(data, "language", None),
                           name=getattr(data, "name", None) or train.name)


def describe(source: dict | None) -> str:
    """One line for the report: which validation split the models got."""
    if not source:
        return "not recorded"
    if source["source"] == "corpus":
        return (f"the corpus's validation split ({source['sequences']:,} sequences, "
                f"{source['tokens']:,} tokens)")
    if source["source"] == "none":
        return "none (valid_fraction: 0)"
    return (f"{source['fraction']:.0%} of train, seed {source['seed']} ({source['sequences']:,} of "
            f"{source['train_sequences_before']:,} sequences, {source['tokens']:,} tokens; the vocabulary "
            "comes from the rest)")
