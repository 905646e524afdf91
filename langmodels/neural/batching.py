"""Batches of token ids for the neural models (numpy only; the training loop moves them to torch).

Two ways to read a corpus, chosen by the `context` parameter:

sentence: every sequence on its own, from `<s>`, padded into length-bucketed batches

    x = <s> the cat sat  .    .        y = the cat sat </s>  -    -      (- = IGNORE, not counted)
    x = <s> a   dog sat  on   the      y = a   dog sat on   the  </s>

stream: the corpus as one token stream; the targets are exactly `corpus.targets()`

    stream = <s> the cat sat </s> a dog sat on the </s> ...
    RNN:   the stream cut into `batch_size` rows, read `bptt` columns at a time, hidden state
           carried from one chunk to the next (the PyTorch word-language-model layout)
    Transformer: non-overlapping windows of `bptt` tokens from a random offset, shuffled

    rows (batch_size = 2):  <s> the cat sat </s> a  | dog sat on the </s> ...
                            ^ chunk 1 (bptt = 3) ^ chunk 2 carries the hidden state of chunk 1
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..corpus import Corpus
from ..vocabulary import BOS_ID, EOS_ID

IGNORE = -100   # target value the loss skips (torch's cross_entropy default ignore_index)
PAD = EOS_ID    # input id under padding; its outputs are never counted


def stream_of(corpus: Corpus) -> np.ndarray:
    """`<s>` followed by the counted targets: stream[1:] == corpus.targets()."""
    return np.concatenate([[BOS_ID], corpus.targets()]).astype(np.int64)


def pad_rows(rows: list[np.ndarray], value: int) -> np.ndarray:
    """Right-pad 1-D arrays into one (B, max_len) int64 array."""
    out = np.full((len(rows), max(len(r) for r in rows)), value, np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def sentence_pieces(corpus: Corpus, max_len: int | None = None,
                    restart: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x, y) per sequence: x = <s> w1..wn, y = w1..wn </s>.

    With `max_len` (a Transformer's window) a longer sequence is cut into pieces of at most
    `max_len` inputs. With `restart`, a later piece starts again from `<s>` (the window convention
    of absolute positions: context = <s> + the last max_len - 1 tokens) and the target at that
    `<s>` is ignored; without, the pieces are consecutive (rotary positions' band attention).
    """
    pieces = []
    for seq in corpus.sequences():
        x = np.concatenate([[BOS_ID], seq]).astype(np.int64)
        y = np.concatenate([seq, [EOS_ID]]).astype(np.int64)
        if max_len is None or len(x) <= max_len:
            pieces.append((x, y))
            continue
        if not restart:
            pieces += [(x[i:i + max_len], y[i:i + max_len]) for i in range(0, len(x), max_len)]
            continue
        pieces.append((x[:max_len], y[:max_len]))
        for start in range(max_len, len(x), max_len - 1):
            # inputs <s> x[start : start+max_len-1]; what <s> itself predicts here is not data
            px = np.concatenate([[BOS_ID], x[start:start + max_len - 1]])
            py = np.concatenate([[IGNORE], y[start:start + max_len - 1]])
            pieces.append((px, py))
    return pieces


def sentence_batches(pieces, batch_size: int, rng: np.random.Generator) -> list:
    """Length-bucketed padded batches: sort by length (random tie order), cut, shuffle the batches."""
    lengths = np.array([len(x) for x, _ in pieces])
    order = rng.permutation(len(pieces))
    order = order[np.argsort(lengths[order], kind="stable")]
    batches = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batches.append((pad_rows([pieces[i][0] for i in idx], PAD),
                        pad_rows([pieces[i][1] for i in idx], IGNORE)))
    return [batches[i] for i in rng.permutation(len(batches))]


def stream_rows(stream: np.ndarray, batch_size: int) -> np.ndarray:
    """The stream cut into `batch_size` contiguous rows (B, n + 1); the tail that does not fit is dropped."""
    n = (len(stream) - 1) // batch_size
    if n < 1:
        raise ValueError(f"a stream of {len(stream)} tokens is too short for batch_size={batch_size}")
    rows = np.stack([stream[b * n:b * n + n + 1] for b in range(batch_size)])  # (B, n + 1)
    return rows


def row_chunks(rows: np.ndarray, bptt: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive (x, y) column chunks of `rows`: x = rows[:, i:i+bptt], y shifted by one."""
    n = rows.shape[1] - 1
    for i in range(0, n, bptt):
        j = min(i + bptt, n)
        yield rows[:, i:j], rows[:, i + 1:j + 1]


def stream_windows(stream: np.ndarray, window: int, batch_size: int,
                   rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Non-overlapping (x, y) windows of `window` tokens from a random offset, shuffled and batched."""
    n_win = (len(stream) - 1) // window
    if n_win < 1:
        raise ValueError(f"a stream of {len(stream)} tokens is shorter than one window of {window}")
    offset = int(rng.integers(0, len(stream) - 1 - n_win * window + 1))
    starts = offset + window * rng.permutation(n_win)
    idx = starts[:, None] + np.arange(window + 1)[None, :]          # (n_win, window + 1)
    chunks = stream[idx]
    return [(chunks[i:i + batch_size, :-1], chunks[i:i + batch_size, 1:])
            for i in range(0, n_win, batch_size)]


def sliding_windows(n: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """Windows (begin, end, first) over n inputs that score every position exactly once.

    Inputs begin..end-1 are fed; positions first..end-1 are scored (the earlier ones of a
    window only give context), as in the Hugging Face fixed-length perplexity guide:

        window 4, stride 2:  [0 1 2 3]  [2 3 4 5]  [4 5 6 7] ...   scored 0-3, 4-5, 6-7, ...
    """
    out, begin, scored = [], 0, 0
    while scored < n:
        end = min(begin + window, n)
        out.append((begin, end, scored))
        scored = end
        begin = max(0, end - window + stride) if end < n else end
        begin = min(begin, scored)
    return out
