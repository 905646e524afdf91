import numpy as np
import pytest

from langmodels import Corpus, EmptyCorpusError, EncodingError, VocabularyMismatchError


def test_flat_storage_and_targets():
    c = Corpus.from_texts(["a b c", "", "d e"])          # the blank line is skipped
    v = c.vocab
    assert len(c) == 2 and c.n_tokens == 5 and c.n_targets == 7
    assert c.offsets.tolist() == [0, 3, 5]
    assert [v.decode(s) for s in c.sequences()] == [["a", "b", "c"], ["d", "e"]]
    assert v.decode(c.targets()) == ["a", "b", "c", "</s>", "d", "e", "</s>"]
    assert c.eos_positions().tolist() == [3, 6]
    assert c.ids.dtype == np.int32


def test_shared_vocabulary_and_oov_counts():
    train = Corpus.from_texts(["the cat", "the dog"])
    test = Corpus.from_texts(["the bird <unk>", "a cat"], vocab=train.vocab)
    assert test.vocab is train.vocab
    # "bird" and "a" are OOV; a literal "<unk>" in the text is a vocabulary token, not an OOV.
    assert test.n_oov == 2 and test.unk_count() == 3
    assert test.oov_counts.tolist() == [1, 1]
    assert test.subset([1]).n_oov == 1


def test_from_file_tokenizers(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("Hello, world!\n\n  ab  \n", encoding="utf-8")
    words = Corpus.from_file(p)
    assert [words.vocab.decode(s) for s in words.sequences()] == [["Hello,", "world!"], ["ab"]]
    tb = Corpus.from_file(p, tokenizer="treebank")
    assert tb.vocab.decode(tb[0]) == ["Hello", ",", "world", "!"]
    chars = Corpus.from_file(p, tokenizer="char")
    assert chars.vocab.decode(chars[1]) == list("  ab  ")
    assert chars.decode(1) == "  ab  "
    assert words.n_chars.tolist() == [13, 2]


def test_min_count_maps_rare_words_to_unk():
    c = Corpus.from_texts(["a a b", "a c"], min_count=2)
    assert c.vocab.tokens == ["<unk>", "<s>", "</s>", "a"]
    assert c.vocab.decode(c[0]) == ["a", "a", "<unk>"] and c.n_oov == 2


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file_is_an_error(tmp_path, content):
    p = tmp_path / "empty.txt"
    p.write_text(content)
    with pytest.raises(EmptyCorpusError, match="empty.txt"):
        Corpus.from_file(p)


def test_non_utf8_file_names_file_and_offset(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("ok line\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(EncodingError, match=r"latin1.txt.*byte offset 11"):
        Corpus.from_file(p)


def test_empty_texts_and_tokens():
    with pytest.raises(EmptyCorpusError):
        Corpus.from_texts(["", "   "])
    with pytest.raises(EmptyCorpusError):
        Corpus.from_tokens([[]])


def test_check_vocab():
    a, b = Corpus.from_texts(["x y"]), Corpus.from_texts(["y z"])
    a.check_vocab(a.vocab)
    with pytest.raises(VocabularyMismatchError, match="fingerprint"):
        b.check_vocab(a.vocab)
