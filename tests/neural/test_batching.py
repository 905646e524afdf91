"""Batching layouts, with the expected arrays worked by hand."""

import numpy as np

from langmodels import Corpus
from langmodels.neural.batching import (
    IGNORE,
    row_chunks,
    sentence_batches,
    sentence_pieces,
    sliding_windows,
    stream_of,
    stream_rows,
    stream_windows,
)


def corpus(texts):
    return Corpus.from_texts(texts)


def test_stream_is_bos_then_targets():
    c = corpus(["a b", "c"])                       # ids: a=3 b=4 c=5 (equal counts: by string)
    np.testing.assert_array_equal(stream_of(c), [1, 3, 4, 2, 5, 2])   # <s> a b </s> c </s>
    np.testing.assert_array_equal(stream_of(c)[1:], c.targets())


def test_stream_rows_and_chunks():
    rows = stream_rows(stream_of(corpus(["a b", "c"])), 2)
    # n = (6 - 1) // 2 = 2 columns of targets per row: rows [0:3] and [2:5] of the stream
    np.testing.assert_array_equal(rows, [[1, 3, 4], [4, 2, 5]])
    chunks = list(row_chunks(rows, 1))
    np.testing.assert_array_equal(chunks[0][0], [[1], [4]])
    np.testing.assert_array_equal(chunks[0][1], [[3], [2]])
    np.testing.assert_array_equal(chunks[1][0], [[3], [2]])
    np.testing.assert_array_equal(chunks[1][1], [[4], [5]])


def test_long_sentence_pieces_cover_each_target_once():
    c = corpus(["a b c d"])                        # x = <s> a b c d = 1 3 4 5 6, y = 3 4 5 6 2
    pieces = sentence_pieces(c, max_len=3)
    np.testing.assert_array_equal(pieces[0][0], [1, 3, 4])
    np.testing.assert_array_equal(pieces[0][1], [3, 4, 5])
    # second piece: <s> + x[3:5] = <s> c d; the target at <s> is ignored, then y[3:5] = d </s>
    np.testing.assert_array_equal(pieces[1][0], [1, 5, 6])
    np.testing.assert_array_equal(pieces[1][1], [IGNORE, 6, 2])
    assert len(pieces) == 2


def test_sentence_batches_bucket_by_length_and_pad():
    c = corpus(["a", "a b c d", "a b", "a b c"])   # inputs of length 2, 5, 3, 4
    batches = sentence_batches(sentence_pieces(c), 2, np.random.default_rng(0))
    shapes = sorted(x.shape for x, _ in batches)
    assert shapes == [(2, 3), (2, 5)]              # {2, 3} and {4, 5} bucketed together
    for x, y in batches:
        real = (y != IGNORE).sum(axis=1)
        assert sorted(real.tolist()) in ([2, 3], [4, 5])
        assert (x[:, 0] == 1).all()                # every row starts from <s>


def test_stream_windows_cover_disjoint_spans():
    stream = np.arange(23)
    batches = stream_windows(stream, 5, 3, np.random.default_rng(1))   # (23 - 1) // 5 = 4 windows
    xs = np.concatenate([x for x, _ in batches])
    ys = np.concatenate([y for _, y in batches])
    assert xs.shape == (4, 5) and [len(x) for x, _ in batches] == [3, 1]
    np.testing.assert_array_equal(ys, xs + 1)
    starts = np.sort(xs[:, 0])
    np.testing.assert_array_equal(np.diff(starts), [5, 5, 5])


def test_sliding_windows_score_each_position_once():
    # window 4, stride 2 over 8 inputs: [0 1 2 3] scores 0-3, [2..5] scores 4-5, [4..7] scores 6-7
    assert sliding_windows(8, 4, 2) == [(0, 4, 0), (2, 6, 4), (4, 8, 6)]
    assert sliding_windows(3, 4, 2) == [(0, 3, 0)]
    for n, w, s in [(10, 4, 1), (11, 5, 3), (7, 7, 7)]:
        scored = np.concatenate([np.arange(first, end) for _, end, first in sliding_windows(n, w, s)])
        np.testing.assert_array_equal(scored, np.arange(n))
        assert all(end - begin <= w for begin, end, _ in sliding_windows(n, w, s))


def test_long_sentence_pieces_without_restart_are_consecutive():
    c = corpus(["a b c d"])                        # x = 1 3 4 5 6, y = 3 4 5 6 2
    pieces = sentence_pieces(c, max_len=2, restart=False)
    assert [p[0].tolist() for p in pieces] == [[1, 3], [4, 5], [6]]
    assert [p[1].tolist() for p in pieces] == [[3, 4], [5, 6], [2]]
