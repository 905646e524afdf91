"""The classification benchmark: a `task: classification` spec checked before training, run on
k-fold CV or train/dev/test files, with results.md/.csv/.jsonl and confusion.png."""

import json

import pytest
import yaml

from langmodels.bench.classification import check_classification_spec, run_classification
from langmodels.bench.harness import run_benchmark
from langmodels.bench.spec import SpecError, load_spec
from langmodels.cli import main

NEURAL = {"embed_dim": 16, "hidden_size": 16, "n_layers": 1, "epochs": 3, "lr": 0.01, "progress": False,
          "device": "cpu", "batch_size": 16}


def write_tsv(path, n, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    keys = {"0": ["bad", "awful", "dull"], "1": ["good", "great", "fine"]}
    lines = []
    for k in range(n):
        label = str(k % 2)
        words = list(rng.choice(["the", "film", "was", "a", "plot"], 4)) + [str(rng.choice(keys[label]))]
        lines.append(f"{label}\t{' '.join(words)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    write_tsv(d / "all.tsv", 120, 0)
    write_tsv(d / "train.tsv", 120, 1)
    write_tsv(d / "dev.tsv", 30, 2)
    write_tsv(d / "test.tsv", 40, 3)
    return d


@pytest.mark.slow
def test_kfold_run_writes_every_report_and_resumes(corpus, tmp_path):
    spec = check_classification_spec({
        "task": "classification", "name": "tiny", "data_dir": str(corpus), "corpus": {"all": "all.tsv"},
        "protocol": {"kfold": 3, "folds": 2}, "seeds": [0, 1], "out": str(tmp_path / "out"),
        "classifiers": [{"classifier": "tfidf-lr"},
                        {"classifier": "lm", "params": {"model": "unigram", "k": 0.5}},
                        {"classifier": "text", "label": "lstm-pre", "params": NEURAL,
                         "pretrain": {"corpus": ["train"], "params": {"epochs": 1}}}]})
    log = []
    records = run_classification(spec, log=log.append)
    # Seedless classifiers run once, the text classifiers once per seed.
    assert [(r["label"], r["seed"]) for r in records] == [
        ("tfidf-lr", None), ("lm-unigram", None), ("lstm-pre", 0), ("lstm-pre", 1)]
    for r in records:
        assert r["kind"] == "classifier" and len(r["fold_accuracy"]) == 2
        assert r["metrics"]["n"] == 80 and r["metrics"]["labels"] == ["0", "1"]   # 2 folds of 40
        assert sum(map(sum, r["metrics"]["confusion"])) == 80
    assert records[0]["accuracy_mean"] == 1.0     # the keywords separate the classes
    out = tmp_path / "out"
    md = (out / "results.md").read_text()
    assert "| tfidf-lr | 1 | 100.00 |" in md and "## lstm-pre (seed 1)" in md
    assert (out / "results.csv").read_text().splitlines()[0].startswith("classifier,seeds,accuracy %")
    assert (out / "confusion.png").stat().st_size > 0
    assert len((out / "results.jsonl").read_text().splitlines()) == 4
    log.clear()
    again = run_classification(spec, log=log.append)
    assert all("done earlier, kept" in line for line in log)
    assert [r["accuracy_mean"] for r in again] == [r["accuracy_mean"] for r in records]


def test_train_dev_test_through_the_cli(corpus, tmp_path, capsys):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({
        "task": "classification", "name": "split",
        "corpus": {"train": "data/train.tsv", "dev": "data/dev.tsv", "test": "data/test.tsv"},
        "classifiers": [{"classifier": "tfidf-lr"}, {"classifier": "text", "params": NEURAL}],
        "out": str(tmp_path / "out2")}))
    assert load_spec(spec_file)["protocol"] == {"split": "test"}   # paths relative to the spec file
    assert main(["bench", str(spec_file), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "| tfidf-lr | 1 | 100.00 |" in printed
    records = [json.loads(line) for line in (tmp_path / "out2" / "results.jsonl").read_text().splitlines()]
    assert records[0]["metrics"]["n"] == 40 and records[0]["dev_accuracy"] == 1.0
    # run_benchmark, the harness's one entry point, dispatches on the task.
    assert len(run_benchmark({**yaml.safe_load(spec_file.read_text()), "data_dir": str(tmp_path)},
                             log=lambda line: None)) == 2


def test_the_cli_sets_jobs_of_a_classification_spec(corpus, tmp_path, capsys):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({
        "task": "classification", "name": "split", "corpus": {"all": "data/all.tsv"},
        "classifiers": [{"classifier": "tfidf-lr"}], "out": str(tmp_path / "out3")}))
    for argv, jobs in ((["--jobs", "2"], 2), (["--set", "jobs=3"], 3), ([], 1)):
        assert main(["bench", str(spec_file), "--print-spec", *argv]) == 0
        assert yaml.safe_load(capsys.readouterr().out)["jobs"] == jobs


@pytest.mark.parametrize("change, message", [
    ({"task": "regression"}, "task: must be 'classification'"),
    ({"corpus": {"all": "nope.tsv"}}, "corpus.all: .*nope.tsv: no such file"),
    ({"protocol": {"kfold": 1}}, "protocol.kfold: must be an integer >= 2"),
    ({"protocol": {"split": "test"}}, "protocol.split: unknown setting"),
    ({"classifiers": [{"classifier": "svm"}]}, r"classifiers\[0\]: each entry .* tfidf-lr, nb-lr, lm, text"),
    ({"classifiers": [{"classifier": "nb-lr", "params": {"c": 1}}]}, "nb-lr has no parameter 'c'"),
    ({"classifiers": [{"classifier": "nb-lr", "params": {"C": -1}}]}, "C must be a number in"),
    ({"classifiers": ["nb-lr", {"classifier": "vote", "members": ["nb-lr", "lstm"]}]},
     r"classifiers\[1\].members: 'lstm' is not the label of a \(non-vote\) classifier above"),
    ({"classifiers": ["nb-lr", {"classifier": "vote", "members": ["nb-lr"]}]},
     "two or more classifier labels"),
    ({"classifiers": ["nb-lr", "tfidf-lr", {"classifier": "vote", "members": ["nb-lr", "tfidf-lr"],
                                             "params": {"weights": [1]}}]}, "must be 2 non-negative numbers"),
    ({"classifiers": [{"classifier": "nb-lr", "members": ["x", "y"]}]}, "only a vote entry has members"),
    ({"classifiers": [{"classifier": "tfidf-lr", "params": {"c": 1}}]}, "tfidf-lr has no parameter 'c'"),
    ({"classifiers": [{"classifier": "text", "params": {"encoder": "svm"}}]}, "encoder must be one of"),
    ({"classifiers": [{"classifier": "lm", "params": {"model": "unigram", "order": 3}}]},
     "unigram has no parameter 'order'"),
    ({"classifiers": [{"classifier": "lm", "pretrain": {"corpus": ["train"]}}]},
     "only a text classifier is pre-trained"),
    ({"classifiers": [{"classifier": "text", "pretrain": {"corpus": ["missing.txt"]}}]},
     r"classifiers\[0\].pretrain.corpus: .*missing.txt: no such file"),
    ({"classifiers": [{"classifier": "text", "pretrain": {"corpus": ["train"], "params": {"epoch": 1}}}]},
     "lstm has no parameter 'epoch'"),
    ({"classifiers": [{"classifier": "text", "pretrain": {"corpus": ["train"], "seed": "0"}}]},
     r"pretrain.seed: must be null .* or an integer"),
    ({"classifiers": [{"classifier": "text",
                       "pretrain": {"corpus": ["train"], "then": {"corpus": ["x.txt"]}}}]},
     r"classifiers\[0\].pretrain.then.corpus: .*x.txt: no such file"),
    ({"classifiers": [{"classifier": "text", "pretrain": {"corpus": ["train"], "then": {"epochs": 1}}}]},
     r"pretrain.then.epochs: unknown setting"),
    ({"classifiers": [{"classifier": "text", "pretrain": {
        "corpus": ["train"], "then": {"corpus": ["train"], "params": {"lrr": 1}}}}]},
     r"pretrain.then.params.lrr: lstm has no parameter 'lrr'"),
    ({"classifiers": [{"classifier": "text", "pretrain": {"corpus": ["train"], "valid": 1}}]},
     r"pretrain.valid: must be a fraction in \[0, 1\)"),
    ({"classifiers": [{"classifier": "text", "pretrain": {
        "corpus": ["train"], "then": {"corpus": ["train"], "valid": "10%"}}}]},
     r"pretrain.then.valid: must be a fraction"),
    ({"classifiers": ["tfidf-lr", "tfidf-lr"]}, "'tfidf-lr' is used twice"),
    ({"metrics": {}}, "unknown field"),
    ({"jobs": 0}, "jobs: must be an integer >= 1"),
])
def test_spec_errors_name_the_field(corpus, change, message):
    raw = {"task": "classification", "data_dir": str(corpus), "corpus": {"all": "all.tsv"},
           "classifiers": ["tfidf-lr"], **change}
    with pytest.raises(SpecError, match=message):
        check_classification_spec(raw)


def test_an_hf_entry_without_transformers_fails_the_check_saying_why(corpus, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "transformers"
                        else real(name, *a))
    raw = {"task": "classification", "data_dir": str(corpus), "corpus": {"all": "all.tsv"},
           "classifiers": ["tfidf-lr", {"classifier": "hf", "params": {"pretrained": "bert-dir"}}]}
    with pytest.raises(SpecError, match=r"classifiers\[1\]: classifier: hf needs the optional package "
                                        "transformers"):
        check_classification_spec(raw)


def test_an_hf_entry_without_a_local_checkpoint_is_skipped_saying_why(corpus, tmp_path):
    pytest.importorskip("transformers")
    missing = str(tmp_path / "no-bert")
    spec = check_classification_spec({
        "task": "classification", "data_dir": str(corpus), "out": str(tmp_path / "out"),
        "corpus": {"train": "train.tsv", "test": "test.tsv"},
        "classifiers": ["tfidf-lr", {"classifier": "hf", "params": {"pretrained": missing}}]})
    log = []
    records = run_classification(spec, log=log.append)
    assert [(r["label"], r["kind"]) for r in records] == [("tfidf-lr", "classifier"), ("hf", "skipped")]
    assert any("hf seed 0: SKIPPED: no local checkpoint at" in line for line in log)
    assert "skipped: no local checkpoint at" in (tmp_path / "out" / "results.md").read_text()


@pytest.mark.slow
def test_parallel_fits_give_the_serial_accuracies_and_say_so(corpus, tmp_path):
    # Four folds of a seedless LM classifier and a seeded neural one, in 2 spawned workers.
    raw = {"task": "classification", "name": "tiny", "data_dir": str(corpus), "corpus": {"all": "all.tsv"},
           "protocol": {"kfold": 4}, "seeds": [0],
           "classifiers": [{"classifier": "lm", "params": {"model": "unigram", "k": 0.5}},
                           {"classifier": "text", "label": "gru", "params": {**NEURAL, "encoder": "gru"}}]}
    serial = run_classification(check_classification_spec({**raw, "out": str(tmp_path / "a")}),
                                log=lambda line: None)
    parallel = run_classification(check_classification_spec({**raw, "jobs": 2, "out": str(tmp_path / "b")}),
                                  log=lambda line: None)
    for s, p in zip(serial, parallel, strict=True):
        assert p["label"] == s["label"] and p["fold_accuracy"] == s["fold_accuracy"]
        assert p["metrics"] == s["metrics"] and (s["jobs"], p["jobs"]) == (1, 2)
    assert "(jobs: 2)" in (tmp_path / "b" / "results.md").read_text()
    assert "(jobs: 1)" in (tmp_path / "a" / "results.md").read_text()


@pytest.mark.slow
def test_a_failing_fit_in_a_worker_is_recorded_and_the_others_finish(corpus, tmp_path):
    # The pre-training file is there when the spec is checked and gone when the worker reads it.
    text = corpus / "unlabelled.txt"
    text.write_text("the film was good\n", encoding="utf-8")
    spec = check_classification_spec({
        "task": "classification", "data_dir": str(corpus), "corpus": {"all": "all.tsv"},
        "protocol": {"kfold": 3}, "jobs": 2, "out": str(tmp_path / "out"),
        "classifiers": ["tfidf-lr", {"classifier": "text", "params": NEURAL,
                                     "pretrain": {"corpus": [str(text)]}}]})
    text.unlink()
    log = []
    records = run_classification(spec, log=log.append)
    assert [r["kind"] for r in records] == ["classifier", "failed"]
    assert "unlabelled.txt" in records[1]["error"] and len(records[0]["fold_accuracy"]) == 3
    assert any("FAILED" in line for line in log)
    stored = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["kind"] for line in stored) == ["classifier", "failed"]


def test_nb_lr_runs_beside_the_baseline_on_a_train_test_split(corpus, tmp_path):
    spec = check_classification_spec({
        "task": "classification", "data_dir": str(corpus), "protocol": {"split": "test"},
        "corpus": {"train": "train.tsv", "test": "test.tsv"}, "seeds": [0, 1], "out": str(tmp_path / "o"),
        "classifiers": ["tfidf-lr", {"classifier": "nb-lr", "params": {"C": 2.0}}]})
    records = run_classification(spec)
    # seedless: one record each, the keywords separate the classes
    assert [(r["label"], r["seed"], r["accuracy_mean"]) for r in records] == [
        ("tfidf-lr", None, 1.0), ("nb-lr", None, 1.0)]
    assert "| nb-lr | 1 | 100.00 |" in (tmp_path / "o" / "results.md").read_text()


def test_a_vote_averages_its_members_probabilities_seed_by_seed(corpus, tmp_path):
    import numpy as np

    from langmodels.classify import read_labelled

    spec = check_classification_spec({
        "task": "classification", "data_dir": str(corpus), "protocol": {"split": "test"},
        "corpus": {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}, "seeds": [0, 1],
        "out": str(tmp_path / "o"),
        "classifiers": ["nb-lr", {"classifier": "text", "label": "lstm", "params": NEURAL},
                        {"classifier": "vote", "members": ["lstm", "nb-lr"], "params": {"weights": [3, 1]}}]})
    records = run_classification(spec)
    assert [(r["label"], r["seed"]) for r in records] == [
        ("nb-lr", None), ("lstm", 0), ("lstm", 1), ("vote-lstm+nb-lr", 0), ("vote-lstm+nb-lr", 1)]
    nb, by = records[0], {(r["label"], r["seed"]): r for r in records}
    for seed in (0, 1):
        vote, lstm = by["vote-lstm+nb-lr", seed], by["lstm", seed]
        for split in ("test", "dev"):
            expected = 0.75 * np.array(lstm["proba"][split]) + 0.25 * np.array(nb["proba"][split])
            np.testing.assert_allclose(vote["proba"][split], expected, atol=2e-6)
        labels = np.array(vote["classes"])[np.argmax(vote["proba"]["test"], axis=1)]
        assert vote["accuracy_mean"] == np.mean(labels == np.array(read_labelled(corpus / "test.tsv")[1]))
        assert vote["fit_cpu_seconds"] == lstm["fit_cpu_seconds"] + nb["fit_cpu_seconds"]
        assert "dev_accuracy" in vote
    assert "| vote-lstm+nb-lr | 2 |" in (tmp_path / "o" / "results.md").read_text()
    log = []
    again = run_classification(spec, only=["nb-lr"], log=log.append)   # nothing refitted, votes recomputed
    assert [r["proba"] for r in again] == [r["proba"] for r in records]
    assert sum("done earlier, kept" in line for line in log) == 1
    assert sum("[vote]" in line for line in log) == 2


@pytest.mark.slow
def test_general_text_pretraining_is_fitted_once_and_shared_by_every_fold(corpus, tmp_path):
    # The first stage reads a file only (the same for every fold), the second (`then`) each
    # fold's own training texts; `pretrain.seed` fixes the first stage's seed across seeds.
    text = corpus / "general.txt"
    text.write_text("the film was good\nthe plot was bad\na dull plot\n" * 20, encoding="utf-8")

    def spec(out, jobs, fixed):
        return check_classification_spec({
            "task": "classification", "data_dir": str(corpus), "corpus": {"all": "all.tsv"},
            "protocol": {"kfold": 3}, "seeds": [0, 1], "jobs": jobs, "out": str(tmp_path / out),
            "classifiers": [{"classifier": "text", "label": "pre", "params": NEURAL,
                             "pretrain": {"corpus": ["general.txt"], "seed": fixed, "params": {"epochs": 1},
                                          "then": {"corpus": ["train"], "params": {"epochs": 1}}}}]})

    log = []
    one = run_classification(spec("one", 1, None), log=log.append)
    assert sum("pre-training shared by every fold" in line for line in log) == 2   # once per seed
    assert len(list((tmp_path / "one" / "pretrained").glob("lstm-seed*-*/config.json"))) == 2
    assert all(r["pretrain_cpu_seconds"] > 0 and len(r["fold_accuracy"]) == 3 for r in one)
    assert "Pre-training shared by every fold" in (tmp_path / "one" / "results.md").read_text()
    # In worker processes: the same accuracies; with a fixed pre-training seed, one model for both seeds.
    two = run_classification(spec("two", 2, 0), log=log.append)
    assert len(list((tmp_path / "two" / "pretrained").glob("lstm-seed0-*/config.json"))) == 1
    assert "for pre seed 0, pre seed 1" in (tmp_path / "two" / "results.md").read_text()
    assert two[0]["fold_accuracy"] == one[0]["fold_accuracy"]
    # A later run (records not kept) loads the saved model instead of fitting it again.
    config = next((tmp_path / "one" / "pretrained").glob("lstm-seed0-*/config.json"))
    saved = config.stat().st_mtime_ns
    again = run_classification(spec("one", 1, None), resume=False, log=log.append)
    assert config.stat().st_mtime_ns == saved
    assert again[0]["pretrain_model"] == config.parent.name
    assert [r["fold_accuracy"] for r in again] == [r["fold_accuracy"] for r in one]
    assert again[0]["pretrain_cpu_seconds"] == one[0]["pretrain_cpu_seconds"]


def test_results_md_names_the_entry_selected_on_dev_with_its_test_accuracy(corpus, tmp_path):
    # A heavily smoothed bigram model is poor on dev (and test); the two that tie at the top of
    # dev are both named, each with its own test accuracy, and the poor one is not.
    spec = check_classification_spec({
        "task": "classification", "data_dir": str(corpus), "out": str(tmp_path / "out"),
        "corpus": {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
        "classifiers": [{"classifier": "tfidf-lr"},
                        {"classifier": "lm", "params": {"model": "unigram", "k": 0.5}},
                        {"classifier": "lm", "label": "smoothed", "params": {"model": "add-k", "order": 2,
                                                                             "k": 200.0}}]})
    records = run_classification(spec, log=lambda line: None)
    assert [round(100 * r["dev_accuracy"], 2) for r in records] == [100.0, 100.0, 33.33]
    md = (tmp_path / "out" / "results.md").read_text()
    assert ("Selected on dev (the highest mean dev accuracy, 100.00 %): **tfidf-lr**, test accuracy "
            "100.00 % (sd 0.00); **lm-unigram**, test accuracy 100.00 % (sd 0.00).") in md
    assert "**smoothed**" not in md
    # Without a dev split (k-fold) nothing is selected on dev.
    kfold = check_classification_spec({"task": "classification", "classifiers": spec["classifiers"],
                                       "data_dir": str(corpus), "corpus": {"all": "all.tsv"},
                                       "protocol": {"kfold": 2}, "out": str(tmp_path / "kfold")})
    run_classification(kfold, log=lambda line: None)
    assert "Selected on dev" not in (tmp_path / "kfold" / "results.md").read_text()


def test_a_pretraining_stage_with_valid_stops_early_on_held_out_texts(corpus, tmp_path):
    import math

    from langmodels.bench.classification import fit_shared_pretraining, pretrain

    text = corpus / "general.txt"
    lines = "".join(f"the film {w} was good\nthe plot was {w}\n" for w in ("bad", "dull", "fine") * 7)
    text.write_text(lines, encoding="utf-8")
    entry = check_classification_spec({
        "task": "classification", "data_dir": str(corpus), "corpus": {"all": "all.tsv"},
        "classifiers": [{"classifier": "text", "params": NEURAL,
                         "pretrain": {"corpus": ["general.txt"], "valid": 0.25, "params": {"epochs": 2},
                                      "then": {"corpus": ["train"], "valid": 0.5, "params": {"epochs": 1}}}}]}
    )["classifiers"][0]
    directory = tmp_path / "pretrained" / "lm"
    fit_shared_pretraining(entry, 0, directory)
    meta = json.loads((tmp_path / "pretrained" / "lm.json").read_text())
    losses = [r["valid_loss"] for r in meta["history"]]
    assert len(losses) == 2 and meta["valid_perplexity"] == pytest.approx(math.exp(min(losses)))
    # The second stage holds out half of the fold's texts: its history is validated too.
    model = pretrain(entry, 0, [f"a {w} film" for w in ("good", "bad") * 10], directory)
    assert len(model.history_) == 1 and model.history_[0]["valid_loss"] > 0
