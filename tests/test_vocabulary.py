import random

import pytest

from langmodels import CheckpointError, EmptyCorpusError, InvalidParameterError, Vocabulary


def test_ids_by_frequency_then_token():
    # counts: b=3, a=2, c=2, d=1 -> b first; a and c tie, so alphabetical; specials 0..2
    v = Vocabulary.from_corpus([["a", "b", "c"], ["b", "a", "c", "b", "d"]])
    assert v.tokens == ["<unk>", "<s>", "</s>", "b", "a", "c", "d"]
    assert v.counts.tolist() == [0, 0, 0, 3, 2, 2, 1]
    assert (v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2)



@pytest.mark.parametrize("min_count, max_size", [(1, None), (2, None), (1, 40), (3, 10)])
def test_order_matches_a_sort_by_count_then_string(min_count, max_size):
    # many ties, non-ASCII, prefixes, a NUL and specials among the tokens; reference: Python's
    # sort on (-count, token) with the specials set apart
    rng = random.Random(7)
    tokens = sorted({"".join(rng.choice("ab\x00éz€<") for _ in range(rng.randint(1, 4)))
                     for _ in range(400)}) + ["</s>", "<unk>"]
    rng.shuffle(tokens)
    counts = [rng.randint(1, 6) for _ in tokens]
    v = Vocabulary.from_counts(tokens, counts, min_count=min_count, max_size=max_size)
    count_of = dict(zip(tokens, counts))
    ref = sorted((t for t in tokens if t not in ("<unk>", "</s>") and count_of[t] >= min_count),
                 key=lambda t: (-count_of[t], t))[: None if max_size is None else max_size - 3]
    assert v.tokens == ["<unk>", "<s>", "</s>"] + ref
    assert v.counts.tolist() == [count_of["<unk>"], 0, count_of["</s>"]] + [count_of[t] for t in ref]


def test_lookup_encode_decode():
    v = Vocabulary.from_corpus([["x", "y", "x"]])
    assert v["x"] == 3 and v["y"] == 4 and v["never-seen"] == 0
    assert "x" in v and "z" not in v and "<unk>" in v
    assert v.encode(["y", "z", "x"]).tolist() == [4, 0, 3]
    assert v.decode([3, 4, 2]) == ["x", "y", "</s>"]
    assert len(v) == 5
    with pytest.raises(ValueError, match="out of range"):
        v.decode([99])


def test_min_count_and_max_size():
    seqs = [["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]]
    assert Vocabulary.from_corpus(seqs, min_count=2).tokens[3:] == ["a", "b", "c"]
    assert Vocabulary.from_corpus(seqs, max_size=5).tokens[3:] == ["a", "b"]
    with pytest.raises(InvalidParameterError, match="min_count"):
        Vocabulary.from_corpus(seqs, min_count=0)
    with pytest.raises(InvalidParameterError, match="max_size"):
        Vocabulary.from_corpus(seqs, max_size=2)


def test_specials_in_text_keep_their_ids():
    v = Vocabulary.from_corpus([["<unk>", "a", "<unk>"]])
    assert v.tokens == ["<unk>", "<s>", "</s>", "a"]
    assert v.counts[0] == 2


def test_empty_corpus_is_an_error():
    with pytest.raises(EmptyCorpusError):
        Vocabulary.from_corpus([[], []])


def test_json_round_trip_and_fingerprint(tmp_path):
    v = Vocabulary.from_corpus([["é", "ß", "a b"]])
    v.save(tmp_path / "v.json")
    w = Vocabulary.load(tmp_path / "v.json")
    assert w == v and w.fingerprint == v.fingerprint
    assert Vocabulary.from_corpus([["other"]]).fingerprint != v.fingerprint


def test_corrupt_vocabulary_file(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Vocabulary.load(tmp_path / "bad.json")
    (tmp_path / "tampered.json").write_text(
        '{"tokens": ["<unk>", "<s>", "</s>", "a"], "fingerprint": "0000"}')
    with pytest.raises(CheckpointError, match="fingerprint"):
        Vocabulary.load(tmp_path / "tampered.json")
    with pytest.raises(CheckpointError, match="not found"):
        Vocabulary.load(tmp_path / "missing.json")


def test_index_in_maps_shared_words_and_sends_the_rest_to_unk():
    base = Vocabulary(["<unk>", "<s>", "</s>", "the", "cat", "sat"])
    new = Vocabulary(["<unk>", "<s>", "</s>", "sat", "dog", "the", "ran"])
    # specials -> 0, 1, 2; sat -> 5; dog -> <unk> 0; the -> 3; ran -> <unk> 0
    assert new.index_in(base).tolist() == [0, 1, 2, 5, 0, 3, 0]
    assert new.index_in(base).dtype.name == "int64"
    assert base.index_in(base).tolist() == list(range(len(base)))
    with pytest.raises(TypeError, match="Vocabulary"):
        new.index_in(["<unk>", "<s>", "</s>"])
