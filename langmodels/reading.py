"""Reading a corpus file in a streaming pass, and the encoded-corpus cache.

`read_file` gives exactly what `Corpus.from_texts(text.splitlines(), ...)` gives, without ever
holding the text or a list of token strings: the file is read in blocks of whole lines, each
block is split and encoded at once, and only the int32 ids (plus a few numbers per line) stay.

Tokens are first given provisional ids in order of appearance (one look-up per token in a
defaultdict, in C through `map`); the vocabulary is built from their counts at the end and the
provisional ids are mapped to it block by block. For whitespace tokenization the tokens of a
block and the number on each line come from numpy over the block's bytes (a token starts at
a byte that is not a space, tab or newline and follows one), and their ids from a hash of
their bytes (`_HashedTokens`: no str per token, only one per new type). That holds only
when the block has no other character Python counts as whitespace or as a line break (`\\r`,
`\\x0b`, NBSP, U+2028, ...); a block that has one takes the line-by-line path, as every block
does for the other tokenizers and for `normalize`d text (normal forms can make spaces).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._io import atomic_directory
from .errors import CheckpointError, EmptyCorpusError, EncodingError
from .tokenize import get_detokenizer, get_tokenizer, normalize_texts
from .vocabulary import UNK, UNK_ID, Vocabulary

#: Bytes read at a time (rounded to whole lines): large enough that numpy's per-call cost
#: vanishes, small enough that the hashing's per-byte arrays (about 24 bytes a byte) stay small.
BLOCK_BYTES = 1 << 21

class _Encoder:
    """Provisional ids for token strings, by first appearance, and the per-line arrays."""

    def __init__(self):
        # A new token gets the next id from the dict's own __missing__, all in C under `map`.
        self.types: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        self.type_chars: list[np.ndarray] = []    # characters of each type, in provisional order
        self.blocks: list[np.ndarray] = []        # provisional int32 ids, one array per block
        self.lengths: list[np.ndarray] = []       # tokens of each kept line, one array per block
        self.n_chars: list[np.ndarray | None] = []  # characters of each detokenised line, or None

    def add(self, tokens: list[str], lengths: np.ndarray, n_chars: np.ndarray | None,
            known: int | None = None) -> None:
        """A block's tokens; `known`: the number of types before it, when some of its types were
        added already (by a hashed attempt that failed)."""
        if tokens:
            known = len(self.types) if known is None else known
            self.add_ids(np.fromiter(map(self.types.__getitem__, tokens), np.int32, count=len(tokens)),
                         lengths, n_chars, known)

    def add_ids(self, ids: np.ndarray, lengths: np.ndarray, n_chars: np.ndarray | None, known: int) -> None:
        """A block already given provisional ids; `known` types existed before it."""
        if len(ids) == 0:
            return
        new = len(self.types) - known
        if new:
            self.type_chars.append(np.fromiter(map(len, itertools.islice(self.types, known, None)),
                                               np.int64, count=new))
        self.blocks.append(ids)
        self.lengths.append(lengths)
        self.n_chars.append(n_chars)


class _HashedTokens:
    """Provisional ids of a block's whitespace tokens without making a str per token.

    With many types one dict look-up per token is the cost of reading (a cache miss in a large
    table each time), so tokens are found, hashed and looked up in numpy over the block's bytes:
    a token's hash is a polynomial in a fixed odd 64-bit base, (H[end] - H[start]) * P**-start
    from the prefix sums H[i] = sum_{j<i} byte_j P**j (all modulo 2**64, as uint64 wraps), and
    the hashes index an open-addressing table (linear probing, at most half full, every token
    of the block advancing a slot per round). Only hashes not in it yet are decoded to a str and
    given an id by the encoder's dict, so the ids are the ones the dict gives. Hashes can
    collide: every token's bytes are then compared with its id's, and a block where one differs
    goes the str way.
    """

    P = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, enc: _Encoder):
        self.enc = enc
        self.bits = 16
        self.hashes = np.zeros(1 << self.bits, np.uint64)      # the table: a hash per slot
        self.slot_ids = np.full(1 << self.bits, -1, np.int32)  # and its id (-1: empty slot)
        self.used = 0
        self.type_bytes = bytearray()              # each hashed type's bytes, one after another
        self.offset = np.full(0, -1, np.int64)     # by provisional id: where its bytes start
        self.length = np.full(0, -1, np.int64)     # and how many (-1: not hashed yet)
        self.powers = self.inverses = np.ones(1, np.uint64)

    def _powers(self, n: int) -> None:
        if len(self.powers) > n:
            return
        size = n + n // 4 + 1                # room for the next, slightly longer, blocks
        self.powers = np.cumprod(np.concatenate([[np.uint64(1)], np.full(size - 1, self.P)]))
        inverse = np.uint64(pow(int(self.P), -1, 2**64))
        self.inverses = np.cumprod(np.concatenate([[np.uint64(1)], np.full(size - 1, inverse)]))

    def _home(self, h: np.ndarray) -> np.ndarray:
        # A polynomial hash's top bits mix poorly for short tokens: scramble first (splitmix64).
        x = h ^ (h >> np.uint64(31))
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x >>= np.uint64(64 - self.bits)
        return x.astype(np.int64)

    def _find(self, h: np.ndarray) -> np.ndarray:
        """Id of each hash in the table, -1 where absent."""
        out = np.full(len(h), -1, np.int32)
        which, pos, mask = np.arange(len(h)), self._home(h), (1 << self.bits) - 1
        while len(which):
            ids = self.slot_ids[pos]
            filled = ids >= 0
            hit = filled & (self.hashes[pos] == h)
            out[which[hit]] = ids[hit]
            go = filled & ~hit                   # an empty slot ends a miss
            which, h, pos = which[go], h[go], pos[go] + 1
            pos &= mask
        return out

    def _insert(self, h: np.ndarray, ids: np.ndarray) -> None:
        """Put distinct new hashes with their ids in the table, doubling it past half full."""
        if 2 * (self.used + len(h)) > len(self.slot_ids):
            old = self.slot_ids >= 0
            old_h, old_ids = self.hashes[old], self.slot_ids[old]
            while 2 * (self.used + len(h)) > (1 << self.bits):
                self.bits += 1
            self.hashes = np.zeros(1 << self.bits, np.uint64)
            self.slot_ids = np.full(1 << self.bits, -1, np.int32)
            self.used = 0
            self._insert(old_h, old_ids)
        mask = (1 << self.bits) - 1
        pending, pos = np.arange(len(h)), self._home(h)
        while len(pending):                      # claim free slots; the losers move on
            free = self.slot_ids[pos] < 0
            cand, at = pending[free], pos[free]
            self.slot_ids[at] = cand             # an index into h for now
            won = self.slot_ids[at] == cand
            self.hashes[at[won]] = h[cand[won]]
            self.slot_ids[at[won]] = ids[cand[won]]
            pending = np.concatenate([pending[~free], cand[~won]])
            pos = np.concatenate([pos[~free], at[~won]]) + 1
            pos &= mask
        self.used += len(h)

    def ids_of(self, data: bytes, a: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
        """int32 provisional ids of the tokens a[starts[i]:ends[i]], or None on a collision."""
        n = len(a)
        self._powers(n)
        prefix = np.zeros(n + 1, np.uint64)
        np.cumsum(a * self.powers[:n], out=prefix[1:])
        h = (prefix[ends] - prefix[starts]) * self.inverses[starts]
        del prefix
        token_ids = self._find(h)
        missing = np.flatnonzero(token_ids < 0)
        if len(missing):                         # types new to the table, in order of appearance
            new, first, inverse = np.unique(h[missing], return_index=True, return_inverse=True)
            order = np.argsort(first, kind="stable")
            at = missing[first[order]]
            words = [data[x:y] for x, y in zip(starts[at].tolist(), ends[at].tolist())]
            ids = np.empty(len(new), np.int32)
            ids[order] = np.fromiter(map(self.enc.types.__getitem__, (w.decode() for w in words)),
                                     np.int32, count=len(new))
            self._keep_bytes(ids[order], words)
            self._insert(new, ids)
            token_ids[missing] = ids[inverse.ravel()]
        return token_ids if self._same_bytes(data, starts, ends, token_ids) else None

    def _keep_bytes(self, ids: np.ndarray, words: list[bytes]) -> None:
        size = len(self.enc.types)
        if size > len(self.offset):
            grow = max(size, 2 * len(self.offset)) - len(self.offset)
            self.offset = np.concatenate([self.offset, np.full(grow, -1, np.int64)])
            self.length = np.concatenate([self.length, np.full(grow, -1, np.int64)])
        for i, w in zip(ids.tolist(), words):
            if self.length[i] < 0:
                self.offset[i], self.length[i] = len(self.type_bytes), len(w)
                self.type_bytes += w

    def _same_bytes(self, data: bytes, starts, ends, token_ids) -> bool:
        """Whether each token's bytes are its id's (else two types' hashes collided), compared
        8 bytes at a time as unaligned little-endian words."""
        lens = ends - starts
        if (self.length[token_ids] != lens).any():
            return False
        words, theirs = _words(data), _words(self.type_bytes)
        mine, other = starts, self.offset[token_ids]
        while len(lens):
            if ((words[mine] ^ theirs[other]) & _MASKS[np.minimum(lens, 8)]).any():
                return False
            longer = lens > 8
            mine, other, lens = mine[longer] + 8, other[longer] + 8, lens[longer] - 8
        return True


#: _MASKS[j]: the low j bytes of a 64-bit word.
_MASKS = np.array([(1 << (8 * j)) - 1 for j in range(9)], np.uint64)


def _words(buf) -> np.ndarray:
    """w[i] = the 8 bytes of buf from i as a little-endian uint64 (zero-padded at the end)."""
    padded = bytes(buf) + bytes(8)
    return np.ndarray((len(padded) - 7,), "<u8", padded, 0, (1,))


def _lines_of(text: str, tokenizer: str, lowercase: bool, normalize: str | None):
    """(tokens, lengths, n_chars) of a block's non-blank lines, one line at a time (the
    reference behaviour the fast path reproduces)."""
    split, detok = get_tokenizer(tokenizer), get_detokenizer(tokenizer)
    lines = normalize_texts(text.splitlines(), lowercase=lowercase, normalize=normalize)
    seqs = [split(t.rstrip("\r\n")) for t in lines if t.strip()]
    seqs = [s for s in seqs if s]
    tokens = [t for s in seqs for t in s]
    lengths = np.fromiter(map(len, seqs), np.int64, count=len(seqs))
    n_chars = None if tokenizer == "whitespace" else np.array([len(detok(s)) for s in seqs], np.int64)
    return tokens, lengths, n_chars


# Every character `str.isspace()` accepts other than space, tab and newline: \x0b \x0c \r
# \x1c-\x1f, U+0085 U+00A0 (C2 xx in UTF-8), U+1680 (E1 9A 80), U+2000-U+200A U+2028 U+2029
# U+202F (E2 80 xx), U+205F (E2 81 9F), U+3000 (E3 80 80); several also break lines. A block
# holding none of them splits into lines at b"\n" and into tokens at b" \t\n", as str does.
# Bytes that need a closer look: those ASCII ones and the lead bytes of the others (a lead
# byte never occurs inside another character).
_SUSPECT = np.zeros(256, bool)
_SUSPECT[[0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0xC2, 0xE1, 0xE2, 0xE3]] = True
_SPACE = np.zeros(256, bool)
_SPACE[[0x20, 0x09, 0x0A]] = True
_LOWER = np.arange(256, dtype=np.uint8)          # ASCII lowercasing, as str.lower() does it
_LOWER[ord("A"):ord("Z") + 1] += 32


def has_other_space(a: np.ndarray) -> bool:
    """Whether valid UTF-8 bytes `a` hold whitespace other than space, tab and newline (numpy:
    one table look-up per byte, then a check of the few suspects)."""
    at = np.flatnonzero(_SUSPECT[a])
    if len(at) == 0:
        return False
    lead = a[at]
    if (lead < 0x80).any():
        return True
    padded = np.concatenate([a, np.zeros(2, np.uint8)])
    b1, b2 = padded[at + 1], padded[at + 2]
    hit = (((lead == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0)))
           | ((lead == 0xE1) & (b1 == 0x9A) & (b2 == 0x80))
           | ((lead == 0xE2) & (b1 == 0x80) & ((b2 <= 0x8A) | (b2 == 0xA8) | (b2 == 0xA9) | (b2 == 0xAF)))
           | ((lead == 0xE2) & (b1 == 0x81) & (b2 == 0x9F))
           | ((lead == 0xE3) & (b1 == 0x80) & (b2 == 0x80)))
    return bool(hit.any())


def _whitespace_block(a: np.ndarray, data: bytes, text: str, lowercase: bool, enc: _Encoder,
                      hashed: _HashedTokens) -> None:
    """Encode a block free of other whitespace: tokens found in numpy over the bytes, given ids
    by `hashed` (ASCII lowercasing is a byte table), else by `str.split` and the dict."""
    space = _SPACE[a]
    start = ~space
    start[1:] &= space[:-1]
    starts = np.flatnonzero(start)
    line_ends = np.flatnonzero(a == 10)
    per_line = np.bincount(np.searchsorted(line_ends, starts), minlength=len(line_ends) + 1)
    lengths = per_line[per_line > 0].astype(np.int64)
    known = len(enc.types)
    if not lowercase or not (a >= 0x80).any():
        end = ~space
        end[:-1] &= space[1:]
        ids = hashed.ids_of(data if not lowercase else data.lower(), _LOWER[a] if lowercase else a,
                            starts, np.flatnonzero(end) + 1)
        if ids is not None:
            enc.add_ids(ids, lengths, None, known)
            return
    tokens = (text.lower() if lowercase else text).split()
    if len(tokens) != lengths.sum():      # lower() never makes whitespace; a guard, not a path
        raise AssertionError("token count mismatch in the whitespace fast path")
    enc.add(tokens, lengths, None, known)


def _blocks(path, block_bytes: int):
    """(offset, bytes) of whole-line blocks of the file (the last may lack its newline)."""
    with open(path, "rb") as f:
        offset, rest = 0, b""
        while True:
            data = f.read(block_bytes)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            yield offset, data[:cut]
            offset += cut
            rest = data[cut:]
        if rest:
            yield offset, rest


def _decode(path, offset: int, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EncodingError(f"{path}: not valid UTF-8 at byte offset {offset + e.start} (byte "
                            f"0x{data[e.start]:02x}); re-encode the file as UTF-8") from None


def read_file(path, vocab: Vocabulary | None, tokenizer: str, min_count: int, max_size: int | None,
              lowercase: bool, normalize: str | None, block_bytes: int = BLOCK_BYTES):
    """(ids, offsets, oov_counts, n_chars, vocab) of a file, one sequence per non-blank line."""
    get_tokenizer(tokenizer)                   # an unknown name fails before the file is read
    enc = _Encoder()
    hashed = _HashedTokens(enc)
    fast = tokenizer == "whitespace" and normalize is None
    for offset, data in _blocks(path, block_bytes):
        text = _decode(path, offset, data)
        a = np.frombuffer(data, np.uint8)
        if fast and not has_other_space(a):
            _whitespace_block(a, data, text, lowercase, enc, hashed)
        else:
            enc.add(*_lines_of(text, tokenizer, lowercase, normalize))
    if not enc.blocks:
        what = "is empty" if os.path.getsize(path) == 0 else "has only blank lines"
        raise EmptyCorpusError(f"{path}: the file {what}; a corpus needs at least one line of text")
    types = list(enc.types)
    counts = np.zeros(len(types), np.int64)
    for b in enc.blocks:
        counts += np.bincount(b, minlength=len(types))
    if vocab is None:
        vocab = Vocabulary.from_counts(types, counts, min_count=min_count, max_size=max_size)
    final = vocab.encode(types)                # OOV -> <unk>
    oov = final == UNK_ID                      # but a literal "<unk>" in the text is no OOV
    if UNK in enc.types:
        oov[enc.types[UNK]] = False
    return _assemble(enc, final, oov, np.concatenate(enc.type_chars)) + (vocab,)


def _assemble(enc: _Encoder, final: np.ndarray, oov: np.ndarray, type_chars: np.ndarray):
    """Map each block to final ids into one array, freeing blocks as it goes (peak: the output
    plus one block), with each line's OOV and character counts."""
    lengths = np.concatenate(enc.lengths)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.empty(int(offsets[-1]), np.int32)
    oov_counts, n_chars = [], []
    pos = 0
    while enc.blocks:
        block, lens, chars = enc.blocks.pop(0), enc.lengths.pop(0), enc.n_chars.pop(0)
        ids[pos:pos + len(block)] = final[block]
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        oov_counts.append(np.add.reduceat(oov[block].astype(np.int64), starts))
        if chars is None:                      # whitespace: the tokens joined by single spaces
            chars = np.add.reduceat(type_chars[block], starts) + lens - 1
        n_chars.append(chars)
        pos += len(block)
    return ids, offsets, np.concatenate(oov_counts), np.concatenate(n_chars)


# --- the encoded-corpus cache -------------------------------------------------------------------
CACHE_FORMAT = 1
_ARRAYS = ("ids", "offsets", "oov_counts", "n_chars")


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def cache_key(path, vocab: Vocabulary | None, tokenizer: str, min_count: int, max_size: int | None,
              lowercase: bool, normalize: str | None) -> str:
    """Everything the encoded arrays depend on: the file's bytes, the tokenizer and text options,
    and the vocabulary (given: its fingerprint; built: the options that build it)."""
    parts = {"format": CACHE_FORMAT, "file": file_sha256(path), "tokenizer": tokenizer,
             "lowercase": lowercase, "normalize": normalize,
             "vocab": vocab.fingerprint if vocab is not None else {"min_count": min_count,
                                                                   "max_size": max_size}}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cached(cache_dir, key: str, vocab: Vocabulary | None, build: Callable[[], tuple]) -> tuple:
    """(ids, offsets, oov_counts, n_chars, vocab) from `cache_dir/key`, memory-mapped, or from
    `build()` (then stored there). A damaged entry is rebuilt."""
    where = Path(cache_dir) / key
    try:
        arrays = [np.load(where / f"{name}.npy", mmap_mode="r") for name in _ARRAYS]
        if vocab is None:
            vocab = Vocabulary.load(where / "vocab.json")
        return (*arrays, vocab)
    except (OSError, ValueError, CheckpointError) as e:
        if where.exists():
            warnings.warn(f"corpus cache {where} is unreadable ({e}); rebuilding it", stacklevel=3)
    ids, offsets, oov_counts, n_chars, built_vocab = build()
    with atomic_directory(where) as tmp:
        for name, a in zip(_ARRAYS, (ids, offsets, oov_counts, n_chars)):
            np.save(tmp / f"{name}.npy", a)
        built_vocab.save(tmp / "vocab.json")
    return ids, offsets, oov_counts, n_chars, built_vocab

