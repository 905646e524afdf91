"""The harness's validation split: the corpus's own, or a seeded carve of train, the same for every model."""

from __future__ import annotations

import numpy as np
import pytest

import langmodels as lm
from langmodels import registry
from langmodels.base import LanguageModel
from langmodels.baselines import UniformModel
from langmodels.bench.harness import run_benchmark
from langmodels.bench.spec import SpecError
from tests.stubs import FAST_PARAMS, TOY_TEST, TOY_TRAIN

# 20 training lines; each "line i wi" line has two words no other line has.
TRAIN = TOY_TRAIN + [f"line {i} w{i}" for i in range(12)]


class FitRecorder(UniformModel):
    """A uniform model that keeps what each `fit` received."""

    calls: list = []

    def _fit(self, corpus, valid=None):
        FitRecorder.calls.append((corpus, valid))
        super()._fit(corpus, valid)


@pytest.fixture()
def recorder(monkeypatch):
    FitRecorder.calls = []
    monkeypatch.setitem(registry._MODELS, "fit-recorder", FitRecorder)
    return FitRecorder


def write_files(tmp_path, valid_lines=None):
    splits = {"train": TRAIN, "test": TOY_TEST, **({"valid": valid_lines} if valid_lines else {})}
    for split, lines in splits.items():
        (tmp_path / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return {s: str(tmp_path / f"{s}.txt") for s in splits}


def spec(files, out, **extra):
    return {"corpus": files, "out": str(out), "metrics": {}, "progress": False,
            "models": [{"model": "fit-recorder", "label": "a"}, {"model": "fit-recorder", "label": "b"},
                       {"model": "unigram", "params": {"k": 0.5}}], **extra}


def texts(corpus):
    return [" ".join(corpus.vocab.decode(s)) for s in corpus.sequences()]


def test_a_corpus_without_valid_gets_a_seeded_tenth_of_train_and_a_vocabulary_from_the_rest(
        tmp_path, recorder):
    records = run_benchmark(spec(write_files(tmp_path), tmp_path / "out"), log=lambda line: None)
    pick = np.sort(np.random.default_rng(0).permutation(20)[:2])   # round(0.1 * 20) = 2 sequences
    want_valid = [TRAIN[i] for i in pick]
    want_train = [line for i, line in enumerate(TRAIN) if i not in pick]
    assert len(recorder.calls) == 2
    (train, valid), (train_b, valid_b) = recorder.calls
    assert train is train_b and valid is valid_b              # every model gets the very same split
    assert texts(train) == want_train and len(valid) == 2
    assert train.vocab == lm.Corpus.from_texts(want_train).vocab   # built from the carved train alone
    want_valid_ids = [train.vocab.encode(line.split()).tolist() for line in want_valid]
    assert [s.tolist() for s in valid.sequences()] == want_valid_ids
    assert valid.n_oov == sum(w not in train.vocab for line in want_valid for w in line.split())
    source = {"source": "carved", "fraction": 0.1, "seed": 0, "sequences": 2,
              "tokens": valid.n_tokens, "train_sequences_before": 20}
    for r in records:
        assert r["data"]["valid"] == source, r["label"]
        assert r["data"]["train_tokens"] == train.n_tokens
    assert "10% of train, seed 0 (2 of 20 sequences" in (tmp_path / "out" / "results.md").read_text()


def test_the_carve_is_reproducible_from_its_seed(tmp_path, recorder):
    files = write_files(tmp_path)
    for out, seed in (("s0", 0), ("again", 0), ("s1", 1)):
        run_benchmark(spec(files, tmp_path / out, valid_seed=seed, valid_fraction=0.25,
                           models=[{"model": "fit-recorder"}]), log=lambda line: None)
    (_, v0), (_, again), (_, v1) = recorder.calls
    assert len(v0) == 5 and texts(v0) == texts(again) and texts(v0) != texts(v1)


def test_a_corpus_with_valid_uses_it(tmp_path, recorder):
    files = write_files(tmp_path, valid_lines=["the cat sat", "a dog ran on the mat"])
    records = run_benchmark(spec(files, tmp_path / "out", valid_fraction=0.5), log=lambda line: None)
    (train, valid), _ = recorder.calls
    assert len(train) == 20 and texts(valid) == ["the cat sat", "a dog ran on the mat"]
    assert records[0]["data"]["valid"] == {"source": "corpus", "sequences": 2, "tokens": 9}
    report = (tmp_path / "out" / "results.md").read_text()
    assert "the corpus's validation split (2 sequences, 9 tokens)" in report


def test_valid_fraction_zero_opts_out(tmp_path, recorder):
    records = run_benchmark(spec(write_files(tmp_path), tmp_path / "out", valid_fraction=0),
                            log=lambda line: None)
    assert [(len(t), v) for t, v in recorder.calls] == [(20, None), (20, None)]
    assert records[0]["data"]["valid"] == {"source": "none"}


@pytest.mark.parametrize("value", [1, 1.5, -0.1, "0.1", True])
def test_a_bad_valid_fraction_fails_before_training(tmp_path, value):
    with pytest.raises(SpecError, match="valid_fraction: must be null or a fraction"):
        run_benchmark(spec(write_files(tmp_path), tmp_path / "out", valid_fraction=value))
    assert not (tmp_path / "out").exists()


def test_every_family_fit_receives_the_same_valid(tmp_path, monkeypatch):
    seen = {}
    original = LanguageModel.fit

    def spy(self, corpus, valid=None, **kwargs):
        seen[type(self).registry_name] = valid
        return original(self, corpus, valid, **kwargs)

    # Families that override `fit` (neural, HMM) call it through LanguageModel.fit too.
    monkeypatch.setattr(LanguageModel, "fit", spy)
    names = ["uniform", "unigram", "kneser-ney", "modified-kneser-ney", "hmm", "lstm", "transformer",
             "interpolated"]
    models = [{"model": n, "params": FAST_PARAMS.get(n, {})} for n in names]
    run_benchmark(spec(write_files(tmp_path), tmp_path / "out", models=models, seeds=[0]),
                  log=lambda line: None)
    assert set(names) <= set(seen)
    valids = {id(seen[n]) for n in names}
    assert len(valids) == 1 and len(seen["lstm"]) == 2
