"""Streaming `Corpus.from_file` equals `from_texts` on the file's lines; the encoded-corpus cache."""

import numpy as np
import pytest

from langmodels import Corpus, EncodingError
from langmodels.reading import has_other_space, read_file

# Lines that exercise every path: blank and space-only lines, tabs, \r\n, NBSP, U+2028 (a line
# break for str.splitlines), a form feed, a literal <unk>, non-ASCII words and a last line
# without its newline.
TRICKY = ("the cat  sat\n\n   \nthe\tdog <unk>\r\nCafé naïve\u00a0x\nend\u2028more words\n"
          "\x0cfeed ok\nΣίσυφος ΟΔΟΣ\nlast line")


def same_corpus(a: Corpus, b: Corpus) -> bool:
    return (a.vocab == b.vocab and np.array_equal(a.vocab.counts, b.vocab.counts)
            and np.array_equal(a.ids, b.ids) and np.array_equal(a.offsets, b.offsets)
            and np.array_equal(a.oov_counts, b.oov_counts) and np.array_equal(a.n_chars, b.n_chars))


def reference(text: str, **kw) -> Corpus:
    return Corpus.from_texts(text.splitlines(), **kw)


@pytest.mark.parametrize("kw", [{}, {"lowercase": True}, {"min_count": 2}, {"max_size": 6},
                                {"tokenizer": "char"}, {"tokenizer": "treebank"},
                                {"normalize": "NFKC"}])
@pytest.mark.parametrize("block_bytes", [7, 64, 1 << 20])
def test_streaming_equals_reading_the_lines(tmp_path, kw, block_bytes):
    text = TRICKY + "\n" + "\n".join(f"w{i % 7} the w{i % 3} Café" for i in range(60))
    p = tmp_path / "c.txt"
    p.write_bytes(text.encode("utf-8"))
    ids, offsets, oov, n_chars, vocab = read_file(p, None, kw.get("tokenizer", "whitespace"),
                                                  kw.get("min_count", 1), kw.get("max_size"),
                                                  kw.get("lowercase", False), kw.get("normalize"),
                                                  block_bytes=block_bytes)
    ref = reference(text, **kw)
    assert same_corpus(Corpus(ids, offsets, vocab, oov, n_chars), ref)


def test_streaming_on_a_given_vocabulary_counts_oovs_but_not_a_literal_unk(tmp_path):
    train = Corpus.from_texts(["the cat", "the dog"])
    p = tmp_path / "test.txt"
    p.write_text("the bird <unk>\na cat\n", encoding="utf-8")
    test = Corpus.from_file(p, vocab=train.vocab)
    assert test.vocab is train.vocab
    assert test.oov_counts.tolist() == [1, 1] and test.unk_count() == 3
    assert same_corpus(test, Corpus.from_texts(["the bird <unk>", "a cat"], vocab=train.vocab))


def test_other_whitespace_is_found_exactly_where_python_splits_or_breaks_lines():
    def found(text):
        return has_other_space(np.frombuffer(text.encode("utf-8"), np.uint8))

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    other = [c for c in chars if c.isspace() and c not in " \t\n"]
    # Only ASCII and the lead bytes C2, E1, E2, E3 are looked at: every other character is
    # passed over without a look, so check those exhaustively.
    looked_at = [c for c in chars if c < "\x80" or c.encode("utf-8")[0] in (0xC2, 0xE1, 0xE2, 0xE3)]
    assert set(other) <= set(looked_at)
    assert [c for c in looked_at if found(f"a{c}b")] == other
    assert not found("plain words, café — “quoted” 中文\tand\n") and not found("𝔘😀")


def test_a_bad_byte_is_reported_at_its_offset_in_the_file(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes(b"ok line\n" * 20 + "caf\xe9\n".encode("latin-1"))
    with pytest.raises(EncodingError, match=r"latin1.txt.*byte offset 163 \(byte 0xe9\)"):
        read_file(p, None, "whitespace", 1, None, False, None, block_bytes=16)


def test_cache_memory_maps_the_encoded_corpus_and_keys_on_content_and_options(tmp_path):
    p, cache = tmp_path / "c.txt", tmp_path / "cache"
    p.write_text("b a b\nc b\n", encoding="utf-8")
    first = Corpus.from_file(p, cache_dir=cache)
    assert len(list(cache.iterdir())) == 1
    second = Corpus.from_file(p, cache_dir=cache)
    assert isinstance(second.ids.base, np.memmap) or isinstance(second.ids, np.memmap)
    assert same_corpus(first, second) and second.vocab.tokens[3:] == ["b", "a", "c"]
    Corpus.from_file(p, cache_dir=cache, lowercase=True)               # other options: other entry
    Corpus.from_file(p, vocab=first.vocab, cache_dir=cache)            # a given vocabulary too
    assert len(list(cache.iterdir())) == 3
    p.write_text("b a b\nc b d\n", encoding="utf-8")                   # new content: not the old entry
    changed = Corpus.from_file(p, cache_dir=cache)
    assert changed.n_tokens == 6 and "d" in changed.vocab
    assert len(list(cache.iterdir())) == 4


def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(tmp_path):
    p, cache = tmp_path / "c.txt", tmp_path / "cache"
    p.write_text("x y\n", encoding="utf-8")
    Corpus.from_file(p, cache_dir=cache)
    entry = next(cache.iterdir())
    (entry / "ids.npy").write_bytes(b"not an array")
    with pytest.warns(UserWarning, match="unreadable.*rebuilding"):
        again = Corpus.from_file(p, cache_dir=cache)
    assert again.vocab.decode(again.ids) == ["x", "y"]
    assert same_corpus(Corpus.from_file(p, cache_dir=cache), again)


@pytest.mark.parametrize("kw", [{}, {"lowercase": True}])
def test_colliding_token_hashes_fall_back_to_exact_reading(tmp_path, monkeypatch, kw):
    from langmodels import reading

    # With base 1 a token's hash is the sum of its bytes: anagrams ("ab", "ba") and, as
    # sums, "ad" and "bc" collide; the bytes check must catch every one.
    monkeypatch.setattr(reading._HashedTokens, "P", np.uint64(1))
    text = "\n".join(["ab ba AB ad bc", "ba ab", "bc ad da", "x ab"] * 5)
    p = tmp_path / "c.txt"
    p.write_bytes(text.encode("utf-8"))
    for block_bytes in (8, 40, 1 << 20):
        got = read_file(p, None, "whitespace", 1, None, kw.get("lowercase", False), None,
                        block_bytes=block_bytes)
        assert same_corpus(Corpus(got[0], got[1], got[4], got[2], got[3]), reference(text, **kw))


def test_hashed_tokens_give_the_ids_of_the_dict(tmp_path):
    from langmodels import reading

    rng = np.random.default_rng(0)
    words = [f"t{i}" for i in range(3000)] + ["Ünïcode", "日本"]
    text = "\n".join(" ".join(rng.choice(words, rng.integers(1, 30))) for _ in range(2000))
    p = tmp_path / "c.txt"
    p.write_bytes(text.encode("utf-8"))
    seen = []
    original = reading._HashedTokens.ids_of

    def spy(self, *args):
        out = original(self, *args)
        seen.append(out is not None)
        return out

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(reading._HashedTokens, "ids_of", spy)
    try:
        got = read_file(p, None, "whitespace", 1, None, False, None, block_bytes=4096)
    finally:
        monkeypatch.undo()
    assert len(seen) > 5 and all(seen)                # every block went the hashed way
    assert same_corpus(Corpus(got[0], got[1], got[4], got[2], got[3]), reference(text))
