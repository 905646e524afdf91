"""`jobs`: runs fitted in worker processes give the records of one-at-a-time runs, in the same
order of dependencies (a search's first seed, a mixture's components), with failures, resuming and
Ctrl-C handled by the parent."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from langmodels.bench.harness import read_records, run_benchmark
from langmodels.bench.spec import SpecError
from langmodels.errors import InvalidParameterError

TINY_LSTM = {"embed_dim": 8, "hidden_size": 8, "n_layers": 1, "epochs": 2, "batch_size": 4, "device": "cpu"}


def comparison(files, out, jobs):
    """n-grams, a tiny LSTM searched on seed 0 and trained with its choice on seed 1, a mixture."""
    return {"corpus": files, "out": str(out), "jobs": jobs, "seeds": [0, 1], "progress": False,
            "metrics": {"ranking": True,
                        "continuation_bleu": {"k": 2, "max_prompts": 5, "sample_seeds": [0]}},
            "models": [{"model": "kneser-ney", "params": {"order": 2}},
                       {"model": "unigram", "params": {"k": 0.5}},
                       {"model": "lstm", "label": "lstm", "params": TINY_LSTM,
                        "search": {"grid": {"lr": [1e-2, 3e-3]}}},
                       {"label": "mix", "interpolate": ["kneser-ney-2", {"best_of": ["lstm"]}]}]}


@pytest.mark.slow   # about 15 s: the LSTM's search twice, and two workers importing torch
def test_two_jobs_give_the_records_of_one_at_a_time(files, tmp_path):
    logs = []
    one = run_benchmark(comparison(files, tmp_path / "one", 1), log=lambda line: None)
    two = run_benchmark(comparison(files, tmp_path / "two", 2), log=logs.append)

    def numbers(records):
        return [(r["label"], r.get("seed"), r["metrics"], (r.get("selection") or {}).get("chosen"),
                 r.get("params")) for r in records]

    assert numbers(two) == numbers(one)   # exactly: every metric, choice and weight
    models = [r for r in two if r["kind"] == "model"]
    assert [(r["label"], r["seed"]) for r in models] == [
        ("kneser-ney-2", None), ("unigram", None), ("lstm", 0), ("lstm", 1), ("mix", 0), ("mix", 1)]
    lstm1 = models[3]["selection"]
    assert lstm1["chosen_on_seed"] == 0 and lstm1["n_tried"] == 1   # waited for seed 0's search
    assert {r["environment"]["jobs"] for r in models} == {2}
    assert {r["environment"]["jobs"] for r in one if r["kind"] == "model"} == {1}
    stored = [(r["label"], r.get("seed")) for r in read_records(tmp_path / "two")]
    assert stored == [(r["label"], r.get("seed")) for r in read_records(tmp_path / "one")]
    assert "- Jobs: runs fitted 2 at a time" in (tmp_path / "two" / "results.md").read_text()
    assert "- Jobs:" not in (tmp_path / "one" / "results.md").read_text()
    # The log names every run it starts and finishes, from the parent.
    assert sum("fitting ..." in line for line in logs) == 6
    assert sum(": ppl " in line for line in logs) == 6

    logs.clear()
    run_benchmark(comparison(files, tmp_path / "two", 2), log=logs.append)
    assert sum("done earlier, kept" in line for line in logs) == 6


def test_a_failing_run_in_a_worker_is_recorded_and_the_others_finish(files, tmp_path):
    spec = comparison(files, tmp_path / "out", 2)
    # The mixture runs without its LSTM component fitted: its worker raises, naming it.
    run_benchmark(spec, log=lambda line: None, only=["kneser-ney-2", "mix"])
    stored = {(r["label"], r.get("seed")): r for r in read_records(tmp_path / "out")}
    assert stored["kneser-ney-2", None]["kind"] == "model"
    assert stored["mix", 0]["kind"] == "failed"
    assert "InvalidParameterError: mix: lstm (seed 0) has no fitted record" in stored["mix", 0]["error"]
    with pytest.raises(InvalidParameterError, match=r"lstm \(seed [01]\) has no fitted record"):
        run_benchmark(spec, log=lambda line: None, only=["mix"], keep_going=False)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, "2", True])
def test_jobs_must_be_a_positive_integer(files, tmp_path, jobs):
    with pytest.raises(SpecError, match=f"jobs: must be an integer >= 1 .*got {jobs!r}"):
        run_benchmark(comparison(files, tmp_path / "out", jobs))


def test_the_cli_sets_jobs(files, tmp_path, capsys):
    from langmodels.cli import main

    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps(comparison(files, tmp_path / "out", 1)))
    for argv, jobs in ((["--jobs", "3"], 3), (["--set", "jobs=2"], 2), ([], 1)):
        assert main(["bench", str(spec), "--print-spec", *argv]) == 0
        assert f"\njobs: {jobs}\n" in capsys.readouterr().out


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(x) for x in (task / "children").read_text().split()}
    return out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
def test_ctrl_c_stops_the_workers_and_keeps_the_finished_runs(files, tmp_path):
    spec = comparison(files, tmp_path / "out", 2)
    slow = {**TINY_LSTM, "epochs": 100000, "patience": None}
    spec["models"] = [spec["models"][0], {"model": "lstm", "label": "slow", "params": slow}]
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec))
    # -X faulthandler: should the bench not stop, SIGABRT makes it print where each thread is.
    # preexec_fn: SIGINT as a terminal gives it. A test run started in the background by a shell
    # without job control has SIGINT ignored, and an ignored signal stays ignored across exec, so
    # the bench would never see this Ctrl-C (it failed that way in clean-clone CI runs started so).
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "langmodels", "bench", str(path),
                             "--quiet"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path.cwd())},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        store = tmp_path / "out" / "results.jsonl"
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (store.exists() and len(workers) >= 2):
            workers |= _children(proc.pid)
            time.sleep(0.2)
        time.sleep(1.0)   # the LSTMs are inside their epochs now
        workers |= _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            workers |= _children(proc.pid)
            proc.send_signal(signal.SIGABRT)
            _kill(workers)
            threads = proc.communicate()[1]
            pytest.fail(f"the bench did not stop within 60 s of SIGINT; its threads:\n{threads}")
        assert code == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "interrupted; the runs that finished are in" in proc.stderr.read()
    records = read_records(tmp_path / "out")   # whole JSON lines: the store was never half-written
    assert [(r["label"], r["kind"]) for r in records] == [("kneser-ney-2", "model")]
    time.sleep(0.5)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
             and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
    _kill(alive)
    assert alive == []


def _kill(pids) -> None:
    """SIGKILL to each of `pids` still there: a failed test must not leave fits running on the CPU."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_workers_fit_each_training_size_on_its_own_subset(files, tmp_path):
    def spec(jobs):
        return {"corpus": files, "out": str(tmp_path / f"out{jobs}"), "jobs": jobs, "progress": False,
                "metrics": {"ranking": False}, "train_sizes": [8, 1000],
                "models": [{"model": "kneser-ney", "params": {"order": 2}}, "unigram"]}

    def rows(records):
        return [(r["label"], r["data"]["train_tokens"], r["metrics"])
                for r in records if r["kind"] == "model"]

    one, two = (rows(run_benchmark(spec(j), log=lambda line: None)) for j in (1, 2))
    assert two == one
    assert len({tokens for _, tokens, _ in two}) == 2   # the small subset and the whole train


def _deaf_to_sigterm() -> str:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)
    return "never"


def _nothing() -> None:
    pass


def test_stop_ends_a_worker_that_ignores_sigterm(monkeypatch):
    """`Pool.stop` kills a worker that outlives SIGTERM instead of waiting for it for ever."""
    from langmodels.bench import jobs

    monkeypatch.setattr(jobs, "STOP_GRACE_SECONDS", 0.5)
    pool = jobs.Pool(2, _nothing)
    future = pool.submit(_deaf_to_sigterm)
    deadline = time.monotonic() + 60
    while not future.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)   # inside the task, SIGTERM ignored
    workers = list(pool._executor._processes.values())
    started = time.monotonic()
    pool.stop()
    assert time.monotonic() - started < 30
    assert workers and not any(p.is_alive() for p in workers)
