"""The ARPA file format: backoff tables written out, and any ARPA file (ours, KenLM's, SRILM's)
read back into backoff tables. `ArpaModel` and `load_arpa` (in `model.py`) wrap the tables read
here as a `LanguageModel`; this module knows only the format and never imports a model.

    \\data\\                    header: number of n-grams per order
    ngram 1=5
    \\1-grams:                  log10 p(w | h)  <tab>  h w  <tab>  log10 bow(h w)
    -0.69897   </s>    0
    \\end\\

Values are log10 (we keep natural logs inside); -99 means log 0. `<s>` is never predicted: it
is written with -99 (SRILM's convention; lmplz writes 0) and read as probability 0 whatever
the file says. Numbers are written with enough digits to read back the same float64, so a
round trip through ARPA is exact.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings

import numpy as np

from .._io import atomic_path
from ..errors import CheckpointError, VocabularyMismatchError
from ..vocabulary import BOS, BOS_ID, SPECIALS, Vocabulary
from .backoff import BackoffTables
from .counts import lookup

LN10 = np.log(10.0)
LOG_ZERO = -99.0


class ArpaError(CheckpointError):
    """A malformed ARPA file; the message names the line."""


# --- writing --------------------------------------------------------------------------------------
def save_arpa(model, path: str | os.PathLike) -> None:
    """Write `model` (a fitted n-gram model: `tables_` and `vocab_`) to `path` (.gz: gzip)."""
    t: BackoffTables = model.tables_
    if t.uniform_backoff and t.order > 1:
        raise ValueError(f"{type(model).__name__} of order {t.order} cannot be written as ARPA: "
                         "add-k gives an unseen word a constant share, which a backoff to the lower "
                         "order cannot express; use model.save(directory), which is exact")
    words = np.array(model.vocab_.tokens, dtype=object)
    lines = ["\\data\\"] + [f"ngram {k + 1}={len(t.keys[k])}" for k in range(t.order)]
    ids = None
    for k in range(t.order):
        ids = t.keys[0][:, None] if k == 0 else np.column_stack(
            [ids[t.keys[k] // t.V], t.keys[k] % t.V])
        text = [" ".join(row) for row in words[ids]]
        lp = _log10_text(t.logp[k])
        if k == 0:
            lp[BOS_ID] = _fmt(LOG_ZERO)
        lines += ["", f"\\{k + 1}-grams:"]
        if k < t.order - 1:
            bow = _log10_text(t.logbow[k])
            lines += [f"{p}\t{w}\t{b}" for p, w, b in zip(lp, text, bow)]
        else:
            lines += [f"{p}\t{w}" for p, w in zip(lp, text)]
    lines += ["", "\\end\\", ""]
    data = "\n".join(lines).encode("utf-8")
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            data = gzip.compress(data, compresslevel=6, mtime=0)
        tmp.write_bytes(data)


def _fmt(x: float) -> str:
    return "0" if x == 0 else repr(float(x))


def _log10_text(ln_values: np.ndarray) -> list[str]:
    with np.errstate(invalid="ignore"):
        v = np.where(np.isneginf(ln_values), LOG_ZERO, ln_values / LN10)
    v = np.maximum(v, LOG_ZERO)
    return [_fmt(x) for x in v.tolist()]


# --- reading --------------------------------------------------------------------------------------
_HEADER = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION = re.compile(r"^\\(\d+)-grams:$")


def read_arpa(path: str | os.PathLike):
    """Parse an ARPA file: (counts per order, per order a list of (line number, fields))."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            raw = f.read().split("\n")
    except FileNotFoundError:
        raise ArpaError(f"{path}: no such ARPA file") from None
    except (UnicodeDecodeError, OSError, EOFError) as e:
        raise ArpaError(f"{path}: not a readable UTF-8 ARPA file ({e})") from None
    i, n = 0, len(raw)
    while i < n and raw[i].strip() != "\\data\\":
        if raw[i].strip():
            raise ArpaError(f"{path}, line {i + 1}: expected '\\data\\', got {raw[i].strip()[:60]!r}")
        i += 1
    if i == n:
        raise ArpaError(f"{path}: no '\\data\\' header; is this an ARPA file?")
    i += 1
    counts = {}
    while i < n and raw[i].strip():
        m = _HEADER.match(raw[i].strip())
        if not m:
            raise ArpaError(f"{path}, line {i + 1}: expected 'ngram K=N', got {raw[i].strip()[:60]!r}")
        counts[int(m.group(1))] = int(m.group(2))
        i += 1
    order = len(counts)
    if not counts or sorted(counts) != list(range(1, order + 1)):
        raise ArpaError(f"{path}, line {i}: the header must list orders 1..N, got {sorted(counts)}")
    sections = {}
    while i < n:
        line = raw[i].strip()
        i += 1
        if not line:
            continue
        if line == "\\end\\":
            break
        m = _SECTION.match(line)
        if not m or int(m.group(1)) not in counts or int(m.group(1)) in sections:
            raise ArpaError(f"{path}, line {i}: expected a '\\K-grams:' section or '\\end\\', "
                            f"got {line[:60]!r}")
        k, start = int(m.group(1)), i
        while i < n and raw[i].strip() and not raw[i].startswith("\\"):
            i += 1
        sections[k] = (start, raw[start:i])
    else:
        raise ArpaError(f"{path}: missing '\\end\\' (file truncated?)")
    for k in range(1, order + 1):
        if k not in sections:
            raise ArpaError(f"{path}: the header announces {k}-grams but there is no section")
        if len(sections[k][1]) != counts[k]:
            raise ArpaError(f"{path}, line {sections[k][0]}: the header announces {counts[k]} "
                            f"{k}-grams, the section holds {len(sections[k][1])}")
    return order, sections


def _parse_section(path, k, start, lines, has_bow):
    """(log10 p, log10 bow, (n, k) array of words) of one section; fast when every line has
    the same number of fields, line by line (to name the bad line) otherwise."""
    fields = "\n".join(lines).split()
    n = len(lines)
    for width in ((k + 2, k + 1) if has_bow else (k + 1,)):
        if len(fields) == n * width:
            table = np.array(fields, dtype=object).reshape(n, width)
            try:
                probs = table[:, 0].astype(np.float64)
                bows = table[:, k + 1].astype(np.float64) if width == k + 2 else np.zeros(n)
            except ValueError:
                break                      # some line is malformed: find it below
            return probs, bows, table[:, 1:k + 1]
    probs, bows = np.zeros(n), np.zeros(n)
    for j, line in enumerate(lines):
        f = line.split()
        if len(f) != k + 1 and not (has_bow and len(f) == k + 2):
            raise ArpaError(f"{path}, line {start + j + 1}: a {k}-gram line needs log10 p, {k} "
                            f"word(s){' and an optional backoff' if has_bow else ''}; got {line[:80]!r}")
        try:
            probs[j] = float(f[0])
            bows[j] = float(f[k + 1]) if len(f) == k + 2 else 0.0
        except ValueError:
            raise ArpaError(f"{path}, line {start + j + 1}: not a number in {line[:80]!r}") from None
    return probs, bows, np.array([ln.split()[1:k + 1] for ln in lines], dtype=object).reshape(n, k)


def read_arpa_tables(path: str | os.PathLike, vocab: Vocabulary | None = None):
    """(order, vocabulary, `BackoffTables`) of an ARPA file, on `vocab` (default: the file's own
    words, with the specials first). `<unk>` of the file is our `<unk>`; a vocabulary word the file
    lacks gets probability 0 (with a warning); a file word outside `vocab` is an error."""
    order, sections = read_arpa(path)
    start, lines = sections[1]
    p1, b1, grams1 = _parse_section(path, 1, start, lines, order > 1)
    words = grams1[:, 0].tolist()
    if vocab is None:
        vocab = Vocabulary(list(SPECIALS) + [w for w in dict.fromkeys(words) if w not in SPECIALS])
    V = len(vocab)
    index = vocab._index
    missing = [w for w in words if w not in index]
    if missing:
        raise VocabularyMismatchError(f"{path}: {len(missing)} word(s) of the ARPA file are not in "
                                      f"the vocabulary, e.g. {missing[:5]}")
    ids = np.array([index[w] for w in words], np.int64)
    logp = [np.full(V, -np.inf)]
    logbow = [np.zeros(V)]
    logp[0][ids] = _to_ln(p1)
    logbow[0][ids] = _to_ln(b1)
    logp[0][BOS_ID] = -np.inf
    absent = sorted(set(vocab.tokens) - set(words) - {BOS})
    if absent:
        warnings.warn(f"{path}: {len(absent)} vocabulary word(s) are not in the ARPA file and get "
                      f"probability 0, e.g. {absent[:5]}", stacklevel=2)
    keys = [np.arange(V, dtype=np.int64)]
    for k in range(2, order + 1):
        start, lines = sections[k]
        p, b, grams = _parse_section(path, k, start, lines, k < order)
        get = index.get
        w = np.array([get(x, -1) for x in grams.ravel().tolist()], np.int64).reshape(-1, k)
        unknown = np.flatnonzero((w < 0).any(axis=1))
        if len(unknown):
            j = unknown[0]
            word = next(x for x in grams[j] if x not in index)
            raise ArpaError(f"{path}, line {start + j + 1}: word {word!r} has no unigram")
        prefix = w[:, 0]
        for j in range(1, k - 1):
            prefix = lookup(keys[j], np.where(prefix >= 0, prefix * V + w[:, j], -1))
        bad = np.flatnonzero(prefix < 0)
        if len(bad):
            raise ArpaError(f"{path}, line {start + bad[0] + 1}: the {k}-gram's context "
                            f"{' '.join(grams[bad[0]][:-1].tolist())!r} is not listed among the "
                            f"{k - 1}-grams")
        key = prefix * V + w[:, -1]
        perm = np.argsort(key, kind="stable")
        key = key[perm]
        dup = np.flatnonzero(np.diff(key) == 0)
        if len(dup):
            raise ArpaError(f"{path}, line {start + perm[dup[0] + 1] + 1}: the {k}-gram "
                            f"{' '.join(grams[perm[dup[0] + 1]].tolist())!r} is listed twice")
        keys.append(key)
        logp.append(_to_ln(p)[perm])
        if k < order:
            logbow.append(_to_ln(b)[perm])
    return order, vocab, BackoffTables(keys, logp, logbow[:order - 1], V)


def _to_ln(log10_values: np.ndarray) -> np.ndarray:
    return np.where(log10_values <= LOG_ZERO, -np.inf, log10_values * LN10)
