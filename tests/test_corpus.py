import numpy as np
import pytest

from langmodels import (
    Corpus,
    EmptyCorpusError,
    EncodingError,
    InvalidParameterError,
    VocabularyMismatchError,
    split_corpus,
)


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


@pytest.mark.parametrize("text", ["the cat sat", b"the cat sat"])
def test_a_bare_string_is_refused_not_split_into_characters(text):
    with pytest.raises(TypeError, match=r"not a single (string|bytes).*\[text\].*splitlines\(\)"):
        Corpus.from_texts(text)


def test_lowercase_and_unicode_normalisation():
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    c = Corpus.from_texts([f"The {decomposed}", f"the {composed}"], lowercase=True, normalize="NFC")
    assert c.vocab.tokens == ["<unk>", "<s>", "</s>", composed, "the"]
    assert len(Corpus.from_texts([decomposed, composed]).vocab) == 5      # off by default: two words
    with pytest.raises(InvalidParameterError, match="normalize must be one of"):
        Corpus.from_texts(["a"], normalize="nfc")


def test_from_file_lowercase(tmp_path):
    (tmp_path / "a.txt").write_text("The Cat\nthe cat\n", encoding="utf-8")
    c = Corpus.from_file(tmp_path / "a.txt", lowercase=True)
    assert c.vocab.tokens[3:] == ["cat", "the"] and c.n_oov == 0


def test_split_corpus_is_seeded_by_sequence_and_builds_the_vocabulary_from_train():
    texts = [f"w{i} common" for i in range(10)]
    train, valid, test = split_corpus(texts, valid=0.2, test=0.1, seed=0)
    assert [train.decode(k) for k in range(len(train))] == [f"w{i} common" for i in (0, 1, 3, 5, 7, 8, 9)]
    # w2, w4 and w6 are held out, so the train vocabulary does not know them.
    assert train.vocab.tokens == ["<unk>", "<s>", "</s>", "common"] + [f"w{i}" for i in (0, 1, 3, 5, 7, 8, 9)]
    assert valid.vocab is train.vocab and test.vocab is train.vocab
    assert (len(valid), valid.n_oov, len(test), test.n_oov) == (2, 2, 1, 1)
    again = split_corpus(texts, valid=0.2, test=0.1, seed=0)
    assert [c.vocab.decode(c.ids) for c in again] == [c.vocab.decode(c.ids) for c in (train, valid, test)]
    other = split_corpus(texts, valid=0.2, test=0.1, seed=1)[0]
    assert other.vocab.tokens != train.vocab.tokens


def test_split_corpus_of_a_corpus_and_a_zero_fraction():
    corpus = Corpus.from_texts(["a b", "c d", "e f", "g h"], tokenizer="whitespace")
    train, valid, test = split_corpus(corpus, valid=0, test=0.25, seed=0)
    assert valid is None and (len(train), len(test)) == (3, 1) and test.n_oov == 2


@pytest.mark.parametrize("kwargs, error, message", [
    ({"valid": 0.5, "test": 0.5}, InvalidParameterError, "leave some training text"),
    ({"valid": -0.1}, InvalidParameterError, r"valid must be a fraction in \[0, 1\)"),
    ({"valid": 0.01}, EmptyCorpusError, "valid=0.01 of 10 sequences rounds to none"),
])
def test_split_corpus_refuses_fractions_it_cannot_honour(kwargs, error, message):
    with pytest.raises(error, match=message):
        split_corpus([f"w{i}" for i in range(10)], **kwargs)
