"""The `langmodels` command: every subcommand, and usage errors that exit with status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from langmodels.cli import main
from tests.stubs import TOY_TEST, TOY_TRAIN


@pytest.fixture()
def corpus_dir(tmp_path):
    d = tmp_path / "toy"
    d.mkdir()
    for split, lines in (("train", TOY_TRAIN), ("valid", TOY_TRAIN[:3]), ("test", TOY_TEST)):
        (d / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return d


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bench_default_spec_at_a_tiny_size_prints_the_table(capsys, tmp_path):
    code, out, err = run(capsys, "bench", "--models", "uniform,unigram", "--out", str(tmp_path / "b"),
                         "--set", "corpus_params={n_train: 100, n_valid: 20, n_test: 20}",
                         "--set", "metrics.continuation_bleu={max_prompts: 5, sample_seeds: [0]}",
                         "--set", "metrics.unconditional={n_samples: 5, max_new_tokens: 5}", "--quiet")
    assert code == 0, err
    assert "| uniform | 1 |" in out and "| unigram | 1 |" in out and "oracle (generator)" in out
    assert (tmp_path / "b" / "results.csv").exists()


def test_bench_with_a_spec_file_and_a_corpus_override(capsys, tmp_path, corpus_dir):
    spec = tmp_path / "spec.yaml"
    spec.write_text("corpus: synthetic\nmodels: [uniform]\nmetrics: [ranking]\n")
    code, out, err = run(capsys, "bench", str(spec), "--corpus", str(corpus_dir),
                         "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0, err
    assert "| uniform | 1 | 17.00 |" in out   # 18 vocabulary entries, <s> excluded


def test_bench_models_reruns_those_and_keeps_the_others(capsys, tmp_path, corpus_dir):
    spec = tmp_path / "spec.yaml"
    spec.write_text("corpus: synthetic\nmodels: [uniform, unigram]\nmetrics: [ranking]\n")
    args = ["bench", str(spec), "--corpus", str(corpus_dir), "--out", str(tmp_path / "o")]
    assert run(capsys, *args, "--quiet")[0] == 0
    before = (tmp_path / "o" / "results.jsonl").read_text().splitlines()
    code, out, err = run(capsys, *args, "--models", "unigram", "--fresh")
    assert code == 0, err
    assert "[1/1] unigram seed None: fitting" in err and "uniform seed" not in err
    assert "| uniform | 1 | 17.00 |" in out and "| unigram | 1 |" in out
    assert (tmp_path / "o" / "results.jsonl").read_text().splitlines()[0] == before[0]
    code, out, err = run(capsys, *args)
    assert err.count("done earlier, kept") == 2 and "fitting" not in err


def test_bench_with_a_search_a_budget_and_a_mixture_of_fitted_rows(capsys, tmp_path, corpus_dir):
    spec = tmp_path / "spec.yaml"
    spec.write_text("corpus: synthetic\nmetrics: [ranking]\nbudget: {tokens: 100000}\nmodels:\n"
                    "  - {model: kneser-ney, label: kn, search: {grid: {order: [1, 2]}}}\n"
                    "  - {model: unigram, params: {k: 0.5}}\n"
                    "  - {label: mix, interpolate: [unigram, {best_of: [kn]}]}\n")
    args = ["bench", str(spec), "--corpus", str(corpus_dir), "--out", str(tmp_path / "o"), "--quiet"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "| kn | 1 |" in out and "| mix | 1 |" in out
    md = (tmp_path / "o" / "results.md").read_text()
    assert "## Selection" in md and "- kn: one run: order=" in md and "100,000 tokens" in md
    code, out, err = run(capsys, *args[:-1], "--models", "mix")   # a mixture's label selects it
    assert code == 0 and "[1/1] mix seed None: done earlier, kept" in err


@pytest.mark.parametrize("argv, message", [
    (["bench", "/no/such/spec.yaml"], "no such spec file"),
    (["bench", "--set", "budget={minutes: 3}"], "budget: must be null or a mapping"),
    (["bench", "--models", "uniform,nope"], "--models: nope not in the spec"),
    (["bench", "--seeds", "a,b"], "--seeds: expected comma-separated integers"),
    (["bench", "--set", "models=[{model: kneser-nay}]"], "models[0].model: unknown model"),
    (["train", "nope", "--corpus", "synthetic", "--out", "x"], "unknown model 'nope'"),
    (["train", "unigram", "--corpus", "synthetic", "--out", "x", "--param", "kk=1"], "--param kk"),
    (["train", "unigram", "--corpus", "synthetic", "--out", "x", "--param", "k=-1"], "k must be"),
    (["train", "unigram", "--corpus", "no-such", "--out", "x"], "no-such"),
    (["datasets", "download"], "name the corpus"),
])
def test_usage_errors_exit_2_with_a_message(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err and err.startswith("langmodels ")


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["generate"])
    assert e.value.code == 2
    assert "model_dir" in capsys.readouterr().err


def test_train_evaluate_generate_round_trip(capsys, tmp_path, corpus_dir):
    model_dir = tmp_path / "m"
    code, out, err = run(capsys, "train", "unigram", "--corpus", str(corpus_dir), "--param", "k=0.5",
                         "--out", str(model_dir))
    assert code == 0, err
    assert "saved to" in out and (model_dir / "training.json").exists()
    code, out, err = run(capsys, "evaluate", str(model_dir), "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["n_tokens"] == sum(len(x.split()) + 1 for x in TOY_TEST)
    assert {"perplexity", "top1_accuracy", "top5_accuracy", "mrr"} <= set(metrics)
    (tmp_path / "more.txt").write_text("the cat\n")
    code, out, _ = run(capsys, "evaluate", str(model_dir), "--file", str(tmp_path / "more.txt"))
    assert code == 0 and "ppl" in out
    code, out, _ = run(capsys, "generate", str(model_dir), "--prompt", "the", "--max-new-tokens", "3")
    assert (code, out) == (0, "the [the the the]\n")   # "the" is the unigram model's argmax
    code, out, _ = run(capsys, "generate", str(model_dir), "--do-sample", "--seed", "1",
                       "--num-return-sequences", "2", "--json")
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 2 and all(x["stop_reason"] in ("eos", "max_new_tokens") for x in lines)


def test_generate_reads_prompts_with_the_tokenizer_of_a_model_saved_from_python(capsys, tmp_path):
    import warnings

    import langmodels as lm

    corpus = lm.Corpus.from_texts(["what, my lord?", "my lord, what news?"], tokenizer="treebank")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Kneser-Ney's discount warning on so small a corpus
        lm.make("kneser-ney", order=3).fit(corpus).save(tmp_path / "m")   # no training.json beside it
    code, out, err = run(capsys, "generate", str(tmp_path / "m"), "--prompt", "what,", "--json")
    assert (code, err) == (0, "")
    g = json.loads(out)
    assert g["prompt"] == corpus.vocab.encode(["what", ","]).tolist()   # treebank, not whitespace
    assert g["text"] == "my lord, what news?"
    code, out, err = run(capsys, "generate", str(tmp_path / "m"), "--prompt", "what, my lord?",
                         "--tokenizer", "whitespace", "--temperature", "0.7", "--max-new-tokens", "0")
    assert code == 0
    assert err.splitlines() == [
        "langmodels generate: warning: prompt 'what, my lord?': 2 of its 3 tokens (whitespace tokenizer) "
        "are not in the model's vocabulary and read as <unk>: 'what,', 'lord?'",
        "langmodels generate: warning: temperature=0.7: sampling options, ignored because do_sample is "
        "False; set do_sample=True to sample, or leave them out"]


def test_evaluate_reads_a_file_with_the_tokenizer_of_a_model_saved_from_python(capsys, tmp_path):
    import langmodels as lm

    corpus = lm.Corpus.from_texts(["what, my lord?", "my lord, what news?"], tokenizer="treebank")
    lm.make("unigram", k=1.0).fit(corpus).save(tmp_path / "m")          # no training.json beside it
    (tmp_path / "t.txt").write_text("what, my lord?\n", encoding="utf-8")
    code, out, _ = run(capsys, "evaluate", str(tmp_path / "m"), "--file", str(tmp_path / "t.txt"), "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["n_tokens"], report["n_oov"]) == (6, 0)   # what , my lord ? </s>: all known
    code, out, _ = run(capsys, "evaluate", str(tmp_path / "m"), "--file", str(tmp_path / "t.txt"), "--json",
                       "--tokenizer", "whitespace")
    assert code == 0 and (json.loads(out)["n_tokens"], json.loads(out)["n_oov"]) == (4, 2)


def test_generate_min_new_tokens(capsys, tmp_path):
    import langmodels as lm

    lm.make("unigram").fit(lm.Corpus.from_texts(["a", "a", "a b"])).save(tmp_path / "m")
    # </s> (3 of 7 counted tokens) is the argmax, a (3) ties it at a higher id; b (1) comes last
    code, out, _ = run(capsys, "generate", str(tmp_path / "m"), "--max-new-tokens", "5")
    assert (code, out) == (0, "\n")
    code, out, _ = run(capsys, "generate", str(tmp_path / "m"), "--max-new-tokens", "5",
                       "--min-new-tokens", "2")
    assert (code, out) == (0, "a a\n")


def test_train_saves_only_on_rank_0(capsys, tmp_path, corpus_dir, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    code, out, _ = run(capsys, "train", "unigram", "--corpus", str(corpus_dir), "--out", str(tmp_path / "m"))
    assert code == 0 and out == "" and not (tmp_path / "m").exists()


def test_models_and_datasets_lists(capsys):
    code, out, _ = run(capsys, "models", "unigram")
    assert code == 0 and "unigram" in out and "k" in out and "default 0.0" in out
    code, out, _ = run(capsys, "datasets")
    assert code == 0 and out.startswith("synthetic")


def test_python_dash_m_help():
    res = subprocess.run([sys.executable, "-m", "langmodels", "evaluate", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and "--split" in res.stdout


def test_train_fine_tunes_an_hmm_with_init(capsys, tmp_path, corpus_dir):
    import langmodels as lm

    base = tmp_path / "base"
    common = ["--corpus", str(corpus_dir), "--param", "n_states=3", "--param", "n_iter=2",
              "--param", "init=random"]
    assert run(capsys, "train", "hmm", *common, "--out", str(base))[0] == 0
    code, out, err = run(capsys, "train", "hmm", *common, "--init", str(base), "--out", str(tmp_path / "ft"))
    assert code == 0, err
    tuned = lm.load(tmp_path / "ft")
    # The command does exactly what fit(..., init=base) does in Python.
    direct = lm.make("hmm", n_states=3, n_iter=2, init="random").fit(
        lm.Corpus.from_file(corpus_dir / "train.txt"), init=base)
    assert tuned.history_ == pytest.approx(direct.history_)


def test_train_refuses_options_a_family_lacks(capsys, tmp_path, corpus_dir):
    code, _, err = run(capsys, "train", "unigram", "--corpus", str(corpus_dir), "--resume",
                       "--out", str(tmp_path / "m"))
    assert code == 2 and "--resume: unigram models do not support it" in err
    code, _, err = run(capsys, "train", "hmm", "--corpus", str(corpus_dir), "--init", str(tmp_path / "none"),
                       "--out", str(tmp_path / "m"))
    assert code == 2 and "no such model directory" in err
    code, _, err = run(capsys, "train", "hmm", "--corpus", str(corpus_dir), "--memory", "1G",
                       "--out", str(tmp_path / "m"))
    assert code == 2 and "--memory: hmm models do not support it" in err
    code, _, err = run(capsys, "train", "kneser-ney", "--corpus", str(corpus_dir), "--memory", "lots",
                       "--out", str(tmp_path / "m"))
    assert code == 2 and "--memory: memory must be a positive number" in err


def test_train_with_a_memory_budget_saves_the_same_model(capsys, tmp_path, corpus_dir):
    import langmodels as lm

    for name, extra in (("plain", []), ("budget", ["--memory", "16K"])):
        code, _, err = run(capsys, "train", "modified-kneser-ney", "--corpus", str(corpus_dir), "--param",
                           "order=4", *extra, "--out", str(tmp_path / name))
        assert code == 0, err
    a, b = lm.load(tmp_path / "plain").tables_, lm.load(tmp_path / "budget").tables_
    for k in range(4):
        np.testing.assert_array_equal(a.keys[k], b.keys[k])
        np.testing.assert_array_equal(a.logp[k], b.logp[k])


def test_train_splits_one_text_file_and_evaluate_scores_the_same_held_out_lines(capsys, tmp_path):
    text = tmp_path / "my.txt"
    text.write_text("".join(f"w{i % 7} the end\n" for i in range(40)), encoding="utf-8")
    model_dir = tmp_path / "m"
    code, out, err = run(capsys, "train", "unigram", "--corpus", str(text), "--split", "0.8,0.1,0.1",
                         "--seed", "3", "--out", str(model_dir))
    assert code == 0, err
    assert "trained unigram on 96 tokens" in out and "valid perplexity" in out
    info = json.loads((model_dir / "training.json").read_text())
    assert info["fractions"] == [0.8, 0.1, 0.1] and info["split_seed"] == 3
    import langmodels as lm

    _, _, test = lm.split_corpus(text.read_text().splitlines(), valid=0.1, test=0.1, seed=3)
    code, out, _ = run(capsys, "evaluate", str(model_dir), "--json")
    assert code == 0 and json.loads(out)["n_sequences"] == len(test) == 4


@pytest.mark.parametrize("argv, message", [
    (["--split", "0.8,0.2"], "three fractions TRAIN,VALID,TEST"),
    ([], "--split 0.8,0.1,0.1"),
])
def test_train_on_one_file_usage_errors(capsys, tmp_path, argv, message):
    text = tmp_path / "my.txt"
    text.write_text("a b\nb c\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "unigram", "--corpus", str(text), "--out", str(tmp_path / "m"), *argv)
    assert code == 2 and message in err


def test_train_on_a_directory_without_valid_txt(capsys, tmp_path, corpus_dir):
    (corpus_dir / "valid.txt").unlink()
    code, out, err = run(capsys, "train", "unigram", "--corpus", str(corpus_dir),
                         "--out", str(tmp_path / "m"))
    assert code == 0, err
    assert "valid perplexity" not in out


LSTM = ["--param", "embed_dim=8", "--param", "hidden_size=8", "--param", "n_layers=1", "--param", "epochs=2",
        "--param", "batch_size=2", "--param", "device=cpu", "--param", "checkpoint_every=1"]


def test_train_ctrl_c_prints_the_resume_command_and_resume_finishes(capsys, tmp_path, corpus_dir,
                                                                    monkeypatch):
    from langmodels.neural import training

    real, calls = training.summed_cross_entropy, []

    def ctrl_c_at_step_3(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    out_dir = tmp_path / "m"
    argv = ["train", "lstm", "--corpus", str(corpus_dir), "--out", str(out_dir), *LSTM]
    monkeypatch.setattr(training, "summed_cross_entropy", ctrl_c_at_step_3)
    code, out, err = run(capsys, *argv)
    ckpt = f"{out_dir}.checkpoint"
    assert code == 130 and not out_dir.exists()
    assert err.strip().splitlines()[-1] == (
        f"langmodels train: interrupted; checkpoint in {ckpt}; resume with: langmodels "
        f"{' '.join(argv)} --resume --param checkpoint_dir={ckpt}")
    monkeypatch.undo()
    code, out, err = run(capsys, *argv, "--resume", "--param", f"checkpoint_dir={ckpt}")
    assert code == 0, err
    assert "saved to" in out
    assert (tmp_path / "m.checkpoint").exists()      # named by the user: kept
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "m2"))
    assert code == 0 and not (tmp_path / "m2.checkpoint").exists()   # the default one is removed
    # the epoch lines reach stderr although it is not a terminal
    assert [line.split(" ", 1)[1].split(":")[0] for line in err.splitlines() if "epoch" in line] == [
        "LSTMModel epoch 1/2", "LSTMModel epoch 2/2"]


def test_evaluate_says_a_model_is_a_partial_fit(capsys, tmp_path, corpus_dir, monkeypatch):
    import langmodels as lm
    from langmodels.hmm import HMMLanguageModel

    train = lm.Corpus.from_file(corpus_dir / "train.txt")
    real = HMMLanguageModel._em_step
    calls = []

    def em_step(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(HMMLanguageModel, "_em_step", em_step)
    model = HMMLanguageModel(n_states=2, n_iter=5, init="random", progress=False)
    with pytest.warns(lm.PartialFitWarning), pytest.raises(KeyboardInterrupt):
        model.fit(train)
    model.save(tmp_path / "hmm")
    code, out, err = run(capsys, "evaluate", str(tmp_path / "hmm"), "--file", str(corpus_dir / "test.txt"))
    assert code == 0, err
    assert out.startswith("note: a partial fit (training was interrupted: ")
    code, out, _ = run(capsys, "evaluate", str(tmp_path / "hmm"), "--file", str(corpus_dir / "test.txt"),
                       "--json")
    assert json.loads(out)["partial_fit"] == {"reason": "interrupted", "iterations": 1}


def test_a_masked_model_trains_and_evaluates_by_pseudo_perplexity_and_refuses_to_generate(
        capsys, tmp_path, corpus_dir):
    import langmodels as lm

    model_dir = tmp_path / "bert"
    params = ["embed_dim=8", "n_heads=2", "n_layers=1", "block_size=16", "epochs=1", "batch_size=4",
              "device=cpu", "progress=False"]
    code, out, err = run(capsys, "train", "bert", "--corpus", str(corpus_dir), "--out", str(model_dir),
                         *[x for p in params for x in ("--param", p)])
    assert code == 0, err
    assert "valid pseudo-perplexity" in out and "valid perplexity" not in out
    code, out, err = run(capsys, "evaluate", str(model_dir), "--json")
    assert code == 0, err
    metrics = json.loads(out)
    test = lm.Corpus.from_file(corpus_dir / "test.txt", vocab=lm.load(model_dir).vocab_)
    assert metrics["pseudo_perplexity"] == pytest.approx(lm.load(model_dir).pseudo_perplexity(test))
    assert "perplexity" not in metrics and {"top1_accuracy", "mrr"} <= set(metrics)
    code, out, err = run(capsys, "generate", str(model_dir), "--prompt", "the")
    assert code == 2 and "masked model" in err
