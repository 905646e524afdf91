"""`datasets.load`: the synthetic corpus with its oracle, local directories, named corpora."""

from __future__ import annotations

import math

import numpy as np
import pytest

import langmodels
from langmodels import datasets
from langmodels.errors import InvalidParameterError, MissingSplitError, UnknownDatasetError
from tests.stubs import shared_data_or_skip

SMALL = dict(seed=0, n_train=600, n_valid=150, n_test=150)


@pytest.fixture(scope="module")
def synthetic():
    return datasets.load("synthetic", **SMALL)


def test_available_datasets_start_with_the_synthetic_corpus():
    names = datasets.available_datasets()
    assert names[0] == "synthetic"
    assert {"ptb", "wikitext-2", "tinyshakespeare", "ptb-mini", "shakespeare-char"} <= set(names)


def test_synthetic_splits_share_the_train_vocabulary_and_carry_oracle_logprobs(synthetic):
    ds = synthetic
    assert ds.valid.vocab is ds.train.vocab is ds.test.vocab
    for split in ("train", "valid", "test"):
        corpus, logp = getattr(ds, split), ds.oracle_logprobs[split]
        assert logp.shape == (len(corpus),) and (logp < 0).all()
        # one </s> per sequence is counted: ppl = exp(-sum ln p / (tokens + sequences))
        expected = math.exp(-logp.sum() / (corpus.n_tokens + len(corpus)))
        assert ds.oracle_perplexity(split) == pytest.approx(expected)
    assert ds.train.n_oov == 0 and ds.test.n_oov > 0  # rare words of the Zipfian tail


def test_oracle_logprobs_are_those_of_the_sentences_in_the_corpus(synthetic):
    ds = synthetic
    for k in range(0, len(ds.test), 37):
        tokens = ds.test.vocab.decode(ds.test[k])
        if "<unk>" not in tokens:
            assert ds.language.logprob(tokens) == pytest.approx(ds.oracle_logprobs["test"][k])


def test_the_oracle_beats_the_unigram_baseline(synthetic):
    model = langmodels.make("unigram", k=1.0).fit(synthetic.train)  # add-one: <unk> gets mass
    unigram = langmodels.perplexity(model, synthetic.test)
    assert math.isfinite(unigram) and synthetic.oracle_perplexity("test") < 0.5 * unigram


def test_synthetic_is_deterministic_and_splits_are_independent_of_train_size(synthetic):
    again = datasets.load("synthetic", **SMALL)
    assert np.array_equal(again.test.ids, synthetic.test.ids)
    bigger = datasets.load("synthetic", **dict(SMALL, n_train=900))
    assert np.array_equal(bigger.oracle_logprobs["test"], synthetic.oracle_logprobs["test"])
    other = datasets.load("synthetic", **dict(SMALL, seed=1))
    assert not np.array_equal(other.oracle_logprobs["test"], synthetic.oracle_logprobs["test"])


def test_synthetic_only_the_splits_asked_for(synthetic):
    ds = datasets.load("synthetic", splits=("test",), **SMALL)
    assert ds.train is None and ds.valid is None
    assert ds.test.vocab == synthetic.train.vocab  # still the train vocabulary
    assert list(ds.oracle_logprobs) == ["test"]
    with pytest.raises(ValueError, match="not loaded"):
        ds.oracle_perplexity("valid")


def test_generator_parameters_reach_the_language():
    ds = datasets.load("synthetic", seed=0, n_train=50, n_valid=10, n_test=10, lemmas=(5, 5, 5, 5, 5),
                       n_classes=(1, 1, 1, 1, 1), p_rc=0.0, p_paren=0.0)
    words = {t for c in ds.splits().values() for s in c.sequences() for t in c.vocab.decode(s)}
    assert "that" not in words and "(" not in words
    assert len(ds.train.vocab) <= 3 + 5 + 5 * 2 * 3 + 5 + 9


def _write(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("pattern", ["{}.txt", "ptb.{}.txt", "wiki.{}.tokens"])
def test_local_directory_loads_without_network(tmp_path, pattern):
    _write(tmp_path, {pattern.format("train"): "a b a\nb c\n", pattern.format("valid"): "a z\n",
                      pattern.format("test"): "\nc c\n"})
    ds = datasets.load(tmp_path)
    # vocabulary from train only: a:2, b:2, c:1 (ties by token)
    assert ds.train.vocab.tokens == ["<unk>", "<s>", "</s>", "a", "b", "c"]
    assert ds.valid.n_oov == 1 and len(ds.test) == 1 and ds.oracle_logprobs is None
    with pytest.raises(ValueError, match="real corpus"):
        ds.oracle_perplexity("test")


def test_missing_split_is_named_unless_only_present_splits_are_asked(tmp_path):
    _write(tmp_path, {"train.txt": "a b\n", "test.txt": "b a\n"})
    with pytest.raises(MissingSplitError, match="valid split is missing.*splits=\\('train', 'test'\\)"):
        datasets.load(str(tmp_path))
    ds = datasets.load(tmp_path, splits=("train", "test"))
    assert ds.valid is None and len(ds.test) == 1


def test_without_train_the_vocabulary_comes_from_the_first_split_asked(tmp_path):
    _write(tmp_path, {"valid.txt": "x y\n", "test.txt": "y z\n"})
    ds = datasets.load(tmp_path, splits=("valid", "test"))
    assert ds.vocab_source == "valid" and ds.test.n_oov == 1


def test_bad_files_are_named(tmp_path):
    from langmodels.errors import EmptyCorpusError, EncodingError

    _write(tmp_path, {"train.txt": "a b\n", "valid.txt": "\n  \n", "test.txt": "ok\n"})
    with pytest.raises(EmptyCorpusError, match="valid.txt"):
        datasets.load(tmp_path)
    (tmp_path / "valid.txt").write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(EncodingError, match="valid.txt.*byte offset 9"):  # "fine\n" is 5 bytes, "bad " 4
        datasets.load(tmp_path)
    with pytest.raises(MissingSplitError, match="no such directory"):
        datasets.load(str(tmp_path / "nowhere"))


def test_bad_names_and_parameters():
    with pytest.raises(UnknownDatasetError, match="did you mean 'wikitext-2'.*synthetic"):
        datasets.load("wikitext2")
    with pytest.raises(InvalidParameterError, match="n_train"):
        datasets.load("ptb", n_train=5)
    with pytest.raises(InvalidParameterError, match="p_relative.*p_rc"):
        datasets.load("synthetic", p_relative=0.2)
    with pytest.raises(InvalidParameterError, match="n_valid"):
        datasets.load("synthetic", n_valid=0)
    with pytest.raises(InvalidParameterError, match="splits"):
        datasets.load("synthetic", splits=("dev",))
    with pytest.raises(InvalidParameterError, match="nothing to download"):
        datasets.download("synthetic")


def test_mini_protocols_need_a_data_dir(monkeypatch):
    monkeypatch.delenv("LANGMODELS_DATA", raising=False)
    with pytest.raises(MissingSplitError, match="data_dir"):
        datasets.load("ptb-mini")


def test_ptb_mini_from_the_shared_folder():
    root = shared_data_or_skip("ptb").parent
    ds = datasets.load("ptb-mini", data_dir=root)
    # 3370 validation and 3761 test sentences (Hugging Face's ptb_text_only split sizes)
    assert (len(ds.train), len(ds.test), ds.valid) == (3370, 3761, None)
    assert ds.train.n_tokens == sum(len(line.split()) for line in (root / "ptb/valid.txt").open())


def test_shakespeare_char_is_nanogpts_90_10_character_split():
    root = shared_data_or_skip("tinyshakespeare").parent
    ds = datasets.load("shakespeare-char", data_dir=root)
    text = (root / "tinyshakespeare/input.txt").read_text()
    cut = int(len(text) * 0.9)
    assert ds.train.n_tokens == len(text[:cut].replace("\n", ""))
    assert ds.test.n_tokens == len(text[cut:].replace("\n", ""))
    assert len(ds.train.vocab) <= 3 + 65


SHARED_COPIES = [("ptb", {"ptb.valid.txt": "ptb/valid.txt", "ptb.test.txt": "ptb/test.txt"}),
                 ("tinyshakespeare", {"input.txt": "tinyshakespeare/input.txt"})]


@pytest.mark.parametrize("name, files", SHARED_COPIES)
def test_registered_checksums_match_the_shared_copies(name, files):
    import hashlib

    from langmodels.datasets.catalog import CORPORA

    sha = {r.filename: r.sha256 for r in CORPORA[name].resources}
    for filename, local in files.items():
        path = shared_data_or_skip(*local.split("/"))
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha[filename]


def test_one_file_is_split_by_line_with_the_vocabulary_from_train(tmp_path):
    path = tmp_path / "my.txt"
    path.write_text("".join(f"w{i} common\n" for i in range(10)), encoding="utf-8")
    ds = datasets.load(path, fractions=(0.7, 0.2, 0.1), seed=0)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (7, 2, 1)
    assert ds.vocab is ds.test.vocab and ds.valid.n_oov == 2 and ds.test.n_oov == 1
    assert ds.train.name == f"{path}[train]"
    # The same as split_corpus on the lines: one rule for Python and the command line.
    train, _, _ = langmodels.split_corpus(path.read_text().splitlines(), valid=0.2, test=0.1, seed=0)
    assert ds.train.vocab.tokens == train.vocab.tokens
    assert datasets.load(path, fractions=(0.9, 0, 0.1), splits=("test",)).train is None


def test_one_file_without_fractions_says_how_to_split_it(tmp_path):
    path = tmp_path / "my.txt"
    path.write_text("a b\n", encoding="utf-8")
    with pytest.raises(MissingSplitError, match=r"fractions=\(0.8, 0.1, 0.1\).*--split 0.8,0.1,0.1"):
        datasets.load(str(path))
    with pytest.raises(InvalidParameterError, match="sum to 1"):
        datasets.load(path, fractions=(0.8, 0.3, 0.1))
