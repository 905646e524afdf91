"""The benchmark harness: spec checks before training, records, tables, resuming, the default spec."""

from __future__ import annotations

import copy
import json
import math

import pytest

import langmodels as lm
from langmodels.bench.harness import read_records, run_benchmark
from langmodels.bench.report import markdown_table
from langmodels.bench.spec import DEFAULT_SPEC, SpecError, apply_overrides, check_spec
from tests.stubs import FAST_PARAMS, TOY_TRAIN

SMALL_METRICS = {"ranking": True, "human": True,
                 "continuation_bleu": {"k": 2, "max_prompts": 10, "sample_seeds": [0, 1]},
                 "unconditional": {"n_samples": 10, "max_new_tokens": 12, "temperatures": [0.8, 1.2]}}


def spec_for(files, out, **extra):
    return {"corpus": files, "out": str(out), "metrics": SMALL_METRICS,
            "models": ["uniform", {"model": "unigram", "params": {"k": 0.5}}], **extra}


@pytest.mark.parametrize("change, field", [
    (lambda s: s.pop("corpus"), "corpus: missing"),
    (lambda s: s.update(corpus="no-such-corpus"), "corpus: 'no-such-corpus' is neither"),
    (lambda s: s["corpus"].update(test="/nonexistent/test.txt"), "corpus.test: /nonexistent"),
    (lambda s: s["models"].append({"model": "kneser-nay"}), "models[2].model: unknown model 'kneser-nay'"),
    (lambda s: s["models"].append({"model": "unigram", "label": "u2", "params": {"kk": 1}}),
     "models[2].params.kk: unigram has no parameter 'kk'"),
    (lambda s: s["models"].append({"model": "unigram", "label": "u2", "params": {"k": -1}}),
     "models[2].params: unigram: k must be"),
    (lambda s: s["models"].append("uniform"), "models[2].label: 'uniform' is used twice"),
    (lambda s: s.update(seeds=[]), "seeds: must be a non-empty list"),
    (lambda s: s.update(vocab={"min_cnt": 2}), "vocab.min_cnt: unknown setting"),
    (lambda s: s.update(metrics={"bleu": True}), "metrics.bleu: unknown metric"),
    (lambda s: s.update(metrics={"continuation_bleu": {"k": "5"}}), "metrics.continuation_bleu.k: must be"),
    (lambda s: s.update(metrics={"unconditional": {"temperatures": [0]}}), "temperatures: must be a list"),
    (lambda s: s.update(modles=[]), "unknown field 'modles' (did you mean 'models'?)"),
    (lambda s: s.update(memory="lots"), "memory: memory must be a positive number of bytes"),
])
def test_bad_spec_fails_before_training_naming_the_field(files, tmp_path, change, field):
    spec = spec_for(files, tmp_path / "out")
    change(spec)
    with pytest.raises(SpecError) as err:
        run_benchmark(spec)
    assert field in str(err.value)
    assert not (tmp_path / "out").exists()   # nothing was trained or written


def test_the_memory_budget_reaches_the_fit_of_models_that_take_one(files, tmp_path, monkeypatch):
    from langmodels.ngram.model import NGramModel

    seen, fit = [], NGramModel._fit

    def spy(self, corpus, valid=None, **options):
        seen.append(options)
        return fit(self, corpus, valid, **options)

    monkeypatch.setattr(NGramModel, "_fit", spy)
    spec = spec_for(files, tmp_path / "out", memory="64K", metrics={"ranking": False},
                    models=["uniform", {"model": "kneser-ney", "params": {"order": 2}}])
    records = run_benchmark(spec, log=lambda line: None)
    assert seen == [{"memory": "64K"}]              # the n-gram model got it; the uniform one did not
    assert [r["label"] for r in records if r["kind"] == "model"] == ["uniform", "kneser-ney-2"]


def test_overrides_set_nested_fields():
    spec = apply_overrides({"corpus_params": {"n_train": 10}}, ["corpus_params.n_train=20", "seeds=[1, 2]"])
    assert spec == {"corpus_params": {"n_train": 20}, "seeds": [1, 2]}
    with pytest.raises(SpecError, match="FIELD=VALUE"):
        apply_overrides({}, ["seeds"])


@pytest.mark.slow
def test_bench_writes_every_output_and_resumes(files, tmp_path):
    out = tmp_path / "out"
    records = run_benchmark(spec_for(files, out), log=lambda line: None)
    models = [r for r in records if r["kind"] == "model"]
    assert [r["label"] for r in models] == ["uniform", "unigram"]
    V = len(lm.Corpus.from_texts(TOY_TRAIN).vocab)
    assert models[0]["metrics"]["perplexity"] == pytest.approx(V - 1)   # uniform: every token but <s>
    assert models[0]["metrics"]["top1_accuracy"] == pytest.approx(1 / (V - 1))
    r = models[1]
    assert r["fit_seconds"] >= 0 and r["peak_rss_mb"] > 0 and r["n_parameters"] == V
    assert r["data"]["vocab_size"] == V and len(r["data"]["hash"]) == 64
    assert r["environment"]["dependencies"]["sacrebleu"]
    assert "tok:13a" in r["metrics"]["continuation_bleu"]["greedy"]["signature"]
    assert r["metrics"]["continuation_bleu"]["protocol"].startswith("contbleu|k:2|")
    assert len(r["metrics"]["unconditional"]["sweep"]) == 2
    assert any(x["label"] == "human (valid text)" for x in records)
    for name in ("results.jsonl", "results.md", "results.csv", "generations.jsonl", "perplexity.png",
                 "ppl_vs_time.png", "quality_diversity.png"):
        assert (out / name).stat().st_size > 0, name
    gens = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert {g["mode"] for g in gens} == {"greedy", "sample-seed0", "sample-seed1", "unconditional"}
    assert set(gens[0]) >= {"model", "mode", "prompt", "hypothesis", "reference"}
    assert "| unigram | 1 |" in (out / "results.md").read_text()

    # A second run keeps finished models; a changed parameter re-runs only that model.
    logs = []
    run_benchmark(spec_for(files, out), log=logs.append)
    assert sum("done earlier, kept" in x for x in logs) == 2
    spec = spec_for(files, out)
    spec["models"][1]["params"]["k"] = 1.0
    logs.clear()
    again = run_benchmark(spec, log=logs.append)
    assert sum("done earlier, kept" in x for x in logs) == 1
    first = next(x for x in again if x["kind"] == "model")
    assert first["metrics"]["perplexity"] == models[0]["metrics"]["perplexity"]
    assert len([x for x in read_records(out) if x["kind"] == "model"]) == 2


def test_table_means_and_sds_over_seeds():
    recs = [{"kind": "model", "label": "m", "model": "m", "metrics": {"perplexity": p}} for p in (10.0, 12.0)]
    recs.append({"kind": "reference", "label": "oracle (generator)", "metrics": {"perplexity": 5.0}})
    table = markdown_table(recs)
    # mean 11, sd sqrt(((10-11)^2 + (12-11)^2) / 1) = 1.414; gap = mean(ln 2, ln 2.4) = 0.7843
    assert "| m | 2 | 11.00 ± 1.41 |" in table
    assert f"{(math.log(2) + math.log(2.4)) / 2:.4f} ± " in table
    assert "| oracle (generator) |  | 5.00 |" in table


def tiny_default_spec(out) -> dict:
    """The default spec with every size shrunk (the families' fast test parameters)."""
    spec = copy.deepcopy(DEFAULT_SPEC)
    spec["corpus_params"].update(n_train=150, n_valid=30, n_test=30)
    spec["metrics"] = SMALL_METRICS
    spec["out"] = str(out)
    models = []
    for entry in spec["models"]:
        try:
            cls = lm.get_class(entry["model"])
        except ImportError:   # a family that has not landed yet
            continue
        params = {**entry.get("params", {}), **FAST_PARAMS.get(entry["model"], {})}
        if "init" in cls.param_names():
            params["init"] = "random"   # the HMM's cluster init takes seconds even on a tiny corpus
        entry["params"] = {k: v for k, v in params.items() if k in cls.param_names()}
        models.append(entry)
    spec["models"] = models
    return spec


@pytest.mark.slow
def test_default_spec_is_valid_and_runs_end_to_end_at_a_tiny_size(tmp_path):
    assert DEFAULT_SPEC["corpus"] == "synthetic"
    spec = tiny_default_spec(tmp_path / "out")
    records = run_benchmark(spec, log=lambda line: None)
    assert [r for r in records if r["kind"] == "failed"] == []
    labels = [r["label"] for r in records]
    assert labels[:2] == ["uniform", "unigram"] and "oracle (generator)" in labels
    oracle = next(r for r in records if r["label"] == "oracle (generator)")
    assert oracle["metrics"]["perplexity"] > 1
    for r in records:
        if r["kind"] == "model":
            assert r["metrics"]["perplexity"] > 0, r["label"]
            assert r["data"]["valid"]["source"] == "corpus", r["label"]   # the synthetic valid split
    for name in ("rnn", "lstm", "gru", "transformer"):   # early stopping scored every epoch on valid
        r = next(r for r in records if r["label"] == name)
        valid = r["curves"]["valid"]
        assert len(valid) == r["params"]["epochs"] and not any(math.isnan(v) for v in valid), name
    assert "oracle" in (tmp_path / "out" / "results.md").read_text()


def test_default_spec_has_every_family_and_checks():
    spec = check_spec(DEFAULT_SPEC)
    names = {m["model"] for m in spec["models"]}
    assert {"uniform", "unigram", "kneser-ney", "hmm", "lstm", "transformer"} <= names
    assert spec["corpus"] == "synthetic" and "continuation_bleu" in spec["metrics"]


def test_learning_curves_come_from_the_contract():
    from types import SimpleNamespace

    from langmodels.bench.harness import learning_curves

    def model(curve):
        return SimpleNamespace(learning_curve=lambda: curve)

    neural = model([{"epoch": 1, "train_nll": 3.0, "valid_nll": 2.5},
                    {"epoch": 2, "train_nll": 2.0, "valid_nll": None}])
    curves = learning_curves(neural)
    assert curves["train"] == [3.0, 2.0] and curves["valid"][0] == 2.5 and math.isnan(curves["valid"][1])
    no_valid = model([{"train_nll": 3.0, "valid_nll": None}])
    assert learning_curves(no_valid) == {"train": [3.0]}
    assert learning_curves(model([])) is None


class _Broken(lm.LanguageModel):
    def _fit(self, corpus, valid=None):
        raise RuntimeError("boom")

    def _next_logprobs(self, histories):
        raise NotImplementedError


def test_a_failing_model_is_recorded_and_the_others_still_run(files, tmp_path):
    from langmodels.registry import _MODELS

    lm.register("test-broken", _Broken)
    try:
        spec = spec_for(files, tmp_path / "out", metrics={})
        spec["models"].insert(0, "test-broken")
        records = run_benchmark(spec, log=lambda line: None)
        with pytest.raises(RuntimeError, match="boom"):
            run_benchmark(spec, log=lambda line: None, keep_going=False)
    finally:
        _MODELS.pop("test-broken")
    assert [(r["kind"], r["label"]) for r in records[:3]] == [
        ("failed", "test-broken"), ("model", "uniform"), ("model", "unigram")]
    assert records[0]["error"] == "RuntimeError: boom"
    text = (tmp_path / "out" / "results.md").read_text()
    assert "**Failed**: test-broken" in text and "| test-broken |" not in text


def test_continuation_rouge_beside_bleu_scores_the_greedy_generations(files, tmp_path):
    pytest.importorskip("rouge_score", reason="ROUGE needs the optional package rouge-score")
    from langmodels.metrics.rouge import rouge_scores

    out = tmp_path / "out"
    records = run_benchmark(spec_for(files, out), log=lambda line: None)
    unigram = next(r for r in records if r.get("label") == "unigram")
    gens = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    greedy = [g for g in gens if g["model"] == "unigram" and g["mode"] == "greedy"]
    direct = rouge_scores([g["hypothesis"] for g in greedy], [g["reference"] for g in greedy])
    for name, scores in direct.items():
        assert unigram["metrics"]["continuation_rouge"][name] == pytest.approx(scores)
    assert "cont-ROUGE-L greedy" in (out / "results.md").read_text()


def test_a_partial_rerun_replaces_only_its_own_records(files, tmp_path):
    out = tmp_path / "out"
    metrics = {"continuation_bleu": {"k": 2, "max_prompts": 3, "sample_seeds": [0]}}
    spec = spec_for(files, out, metrics=metrics)
    run_benchmark(spec, log=lambda line: None)
    lines = (out / "results.jsonl").read_text().splitlines()
    uniform_line = next(x for x in lines if json.loads(x)["label"] == "uniform")
    uniform_gens = (out / "generations" / "uniform.seedNone.jsonl").read_bytes()

    logs = []
    records = run_benchmark(spec, log=logs.append, only=["unigram"], resume=False)
    assert logs == ["[1/1] unigram seed None: fitting ...", logs[1]] and "ppl" in logs[1]
    after = (out / "results.jsonl").read_text().splitlines()
    assert after[0] == uniform_line   # kept byte for byte, in its place
    assert (out / "generations" / "uniform.seedNone.jsonl").read_bytes() == uniform_gens
    assert [r["label"] for r in records if r["kind"] == "model"] == ["uniform", "unigram"]
    assert [json.loads(x)["label"] for x in after] == ["uniform", "unigram"]
    assert "| uniform | 1 |" in (out / "results.md").read_text()
    assert "| unigram | 1 |" in (out / "results.md").read_text()
    csv_rows = (out / "results.csv").read_text().splitlines()[1:]
    assert {r.split(",")[0] for r in csv_rows} == {"uniform", "unigram"}
    gens = [json.loads(x)["model"] for x in (out / "generations.jsonl").read_text().splitlines()]
    assert set(gens) == {"uniform", "unigram"}

    logs.clear()
    run_benchmark(spec, log=logs.append)
    assert logs == ["[1/2] uniform seed None: done earlier, kept",
                    "[2/2] unigram seed None: done earlier, kept"]


def test_only_names_models_of_the_spec(files, tmp_path):
    with pytest.raises(lm.InvalidParameterError, match="only: kneser-ney not in the spec; its models are "
                       "uniform, unigram"):
        run_benchmark(spec_for(files, tmp_path / "out"), only=["kneser-ney"])
    assert not (tmp_path / "out").exists()


def test_a_masked_model_reports_pseudo_perplexity_in_its_own_column(files, tmp_path):
    params = FAST_PARAMS["bert"]
    spec = spec_for(files, tmp_path / "out", models=["unigram", {"model": "bert", "params": params}],
                    metrics={"ranking": True, "continuation_bleu": {"k": 2, "max_prompts": 5,
                                                                    "sample_seeds": [0]}})
    records = {r["label"]: r for r in run_benchmark(spec, log=lambda line: None)}
    train = lm.Corpus.from_file(files["train"])
    test = lm.Corpus.from_file(files["test"], vocab=train.vocab)
    bert = lm.make("bert", **params).fit(train, lm.Corpus.from_file(files["valid"], vocab=train.vocab))
    metrics = records["bert"]["metrics"]
    assert "perplexity" not in metrics and "continuation_bleu" not in metrics   # it cannot generate
    assert metrics["pseudo_perplexity"] == pytest.approx(bert.pseudo_perplexity(test), rel=1e-9)
    assert metrics["top1_accuracy"] == pytest.approx(
        lm.metrics.ranking_metrics(bert, test)["top1_accuracy"], rel=1e-9)
    table = (tmp_path / "out" / "results.md").read_text()
    header = [c.strip() for c in table.splitlines()[2].split("|")]
    row = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")] for r in table.splitlines()[4:6]}
    ppl, pseudo = header.index("perplexity"), header.index("pseudo-perplexity")
    assert row["bert"][ppl] == "" and row["bert"][pseudo] == f"{metrics['pseudo_perplexity']:.2f}"
    assert row["unigram"][pseudo] == "" and row["unigram"][ppl] != ""
    assert "NOT comparable with perplexity" in table
