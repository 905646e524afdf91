"""Selection on validation data, budgets, interpolation of fitted rows and data-size runs in the harness."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

import langmodels as lm
from langmodels import datasets
from langmodels.bench.harness import run_benchmark
from langmodels.bench.selection import first_tokens, fit_run, nested_subsets, settings
from langmodels.bench.spec import SpecError, check_spec
from langmodels.interpolated import InterpolatedModel

NO_METRICS = {"ranking": False}
TINY_LSTM = {"embed_dim": 8, "hidden_size": 8, "n_layers": 1, "batch_size": 16, "lr": 0.01,
             "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def data():
    d = datasets.load("synthetic", seed=0, n_train=600, n_valid=150, n_test=150)
    return SimpleNamespace(train=d.train, valid=d.valid, test=d.test, oracle_logprobs=d.oracle_logprobs)


def spec(out, models, **extra):
    return {"corpus": "synthetic", "out": str(out), "metrics": NO_METRICS, "models": models, **extra}


def valid_and_test_ppl(name, params, data):
    m = lm.make(name, **params).fit(data.train, data.valid)
    return lm.evaluate(m, data.valid).perplexity, lm.evaluate(m, data.test).perplexity


def test_a_grid_search_keeps_the_setting_with_the_lowest_validation_perplexity(data, tmp_path):
    ks = [1e-4, 0.01, 0.1, 1.0, 5.0]
    expected = {k: valid_and_test_ppl("add-k", {"order": 2, "k": k}, data) for k in ks}
    best = min(ks, key=lambda k: expected[k][0])
    assert best not in (ks[0], ks[-1])   # the choice is not simply an end of the grid
    entry = {"model": "add-k", "label": "addk", "params": {"order": 2}, "search": {"grid": {"k": ks}}}
    [r] = [r for r in run_benchmark(spec(tmp_path, [entry]), data=data) if r["kind"] == "model"]
    sel = r["selection"]
    assert sel["chosen"] == {"k": best} and r["params"]["k"] == best
    assert sel["n_tried"] == len(ks) and sel["mode"] == "grid"
    assert [t["params"]["k"] for t in sel["trials"]] == ks
    for t in sel["trials"]:
        assert t["valid_perplexity"] == pytest.approx(expected[t["params"]["k"]][0], rel=1e-9)
    assert sel["valid_perplexity"] == pytest.approx(expected[best][0], rel=1e-9)
    # Test is scored once, for the chosen setting.
    assert r["metrics"]["perplexity"] == pytest.approx(expected[best][1], rel=1e-9)
    # Every tried setting is in results.jsonl; results.md and .csv name the chosen one.
    stored = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(next(x for x in stored if x.get("label") == "addk")["selection"]["trials"]) == len(ks)
    assert f"k={best} (valid ppl" in (tmp_path / "results.md").read_text()
    assert f"k={best} (valid ppl" in (tmp_path / "results.csv").read_text()


def test_a_search_over_orders_picks_the_best_order_and_a_model_seed_each(data, tmp_path):
    orders = [1, 2, 3]
    valid = {n: valid_and_test_ppl("kneser-ney", {"order": n}, data)[0] for n in orders}
    [r] = [r for r in run_benchmark(spec(tmp_path, [{"model": "kneser-ney", "label": "kn",
                                                     "search": {"grid": {"order": orders}}}]), data=data)
           if r["kind"] == "model"]
    assert r["selection"]["chosen"] == {"order": min(orders, key=valid.get)}


def test_a_random_search_is_a_seeded_sample_of_distinct_grid_settings():
    search = {"random": {"a": [1, 2, 3], "b": ["x", "y"]}, "n_samples": 4, "seed": 3}
    picked = settings({"c": 0}, search)
    grid = settings({"c": 0}, {"grid": search["random"]})
    assert len(picked) == 4 and len({tuple(sorted(p.items())) for p in picked}) == 4
    assert all(p in grid for p in picked) and len(grid) == 6
    assert picked == settings({"c": 0}, search)                                  # seeded
    assert settings({"c": 0}, {**search, "n_samples": 10}) == grid               # no more than the grid
    assert grid[:2] == [{"c": 0, "a": 1, "b": "x"}, {"c": 0, "a": 1, "b": "y"}]  # first parameter slowest


def test_a_token_budget_stops_neural_training_before_an_epoch_that_would_overrun_it(data):
    train, valid = data.train.subset(np.arange(150)), data.valid.subset(np.arange(40))
    n = train.n_tokens
    model = lm.make("lstm", **TINY_LSTM, epochs=50, patience=None)
    model, run = fit_run(model, train, valid, {"tokens": 3.5 * n})
    assert len(model.learning_curve()) == 3                    # a 4th epoch would see 4n > 3.5n
    assert run["tokens_seen"] == 3 * n and run["budget"]["stopped"]
    assert [p["tokens"] for p in run["points"]] == [n, 2 * n, 3 * n]
    best = min(x["valid_loss"] for x in model.learning_curve())
    assert run["valid_perplexity"] == pytest.approx(lm.evaluate(model, valid).perplexity, rel=1e-9)
    assert run["valid_perplexity"] == pytest.approx(np.exp(best), rel=1e-9)   # the best epoch's weights


def test_a_seconds_budget_stops_neural_training(data):
    model = lm.make("lstm", **TINY_LSTM, epochs=10_000, patience=None)
    model, run = fit_run(model, data.train, data.valid, {"seconds": 1e-6})
    assert len(model.learning_curve()) == 1 and run["budget"]["stopped"]   # the first epoch always runs


def test_a_token_budget_caps_hmm_iterations_and_the_text_of_one_pass_models(data):
    small = data.train.subset(np.arange(100))
    hmm, run = fit_run(lm.make("hmm", n_states=3, n_iter=20, tol=0.0, seed=0, progress=False),
                       small, None, {"tokens": 2 * small.n_tokens + 1})
    assert hmm.n_iter == 2 and run["tokens_seen"] == 2 * small.n_tokens
    budget = data.train.n_tokens // 3
    kn, run = fit_run(lm.make("kneser-ney", order=2), data.train, data.valid, {"tokens": budget})
    part = first_tokens(data.train, budget)
    assert part.n_tokens <= budget < part.n_tokens + data.train.lengths[len(part)]
    assert run["tokens_seen"] == part.n_tokens
    ref = lm.make("kneser-ney", order=2).fit(part)
    assert lm.evaluate(kn, data.test).perplexity == pytest.approx(lm.evaluate(ref, data.test).perplexity)


def test_on_epoch_end_returning_true_stops_the_training_loop(data):
    seen = []
    model = lm.make("lstm", **TINY_LSTM, epochs=5, patience=None)
    model.fit(data.train, data.valid, on_epoch_end=lambda r: seen.append(r["epoch"]) or r["epoch"] == 2)
    assert seen == [1, 2] and len(model.learning_curve()) == 2


def test_train_sizes_are_nested_seeded_and_as_small_as_they_can_be(data):
    sizes = [500, 1500, 4000, 10**9]
    subsets = nested_subsets(data.train, sizes, seed=1)
    rows = [set(_rows(sub, data.train)) for _, sub in subsets]
    for smaller, larger in zip(rows, rows[1:]):
        assert smaller < larger
    for size, sub in subsets[:-1]:
        assert sub.n_tokens >= size
    assert subsets[-1][1].n_tokens == data.train.n_tokens
    again = nested_subsets(data.train, sizes, seed=1)
    assert all(np.array_equal(a.ids, b.ids) for (_, a), (_, b) in zip(subsets, again))
    assert not np.array_equal(nested_subsets(data.train, [500], seed=2)[0][1].ids, subsets[0][1].ids)


def _rows(sub, full):
    seqs = {tuple(s.tolist()): i for i, s in enumerate(full.sequences())}
    return [seqs[tuple(s.tolist())] for s in sub.sequences()]


def test_train_sizes_refit_every_family_and_draw_the_data_size_figure(data, tmp_path):
    models = [{"model": "kneser-ney", "params": {"order": 2}}, {"model": "unigram"}]
    records = run_benchmark(spec(tmp_path, models, train_sizes=[800, 3000]), data=data)
    rows = [r for r in records if r["kind"] == "model"]
    assert [(r["entry_label"], r["train_size"]) for r in rows] == [
        ("kneser-ney-2", 800), ("unigram", 800), ("kneser-ney-2", 3000), ("unigram", 3000)]
    assert rows[0]["label"] == "kneser-ney-2 @ 800 tokens"
    assert rows[0]["data"]["train_tokens"] >= 800 and rows[0]["data"]["train_tokens"] < 3000
    # More data helps the bigram on this corpus, and the valid and test splits stay the same.
    assert rows[2]["metrics"]["perplexity"] < rows[0]["metrics"]["perplexity"]
    assert rows[0]["data"]["test_tokens"] == rows[2]["data"]["test_tokens"] == data.test.n_tokens
    for name in ("train_sizes.png", "validation_curves.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_interpolating_the_best_of_several_rows_picks_the_lowest_validation_perplexity(data, tmp_path):
    models = [{"model": "add-k", "params": {"order": 2, "k": 0.05}},
              {"model": "kneser-ney", "params": {"order": 3}},
              {"model": "witten-bell", "params": {"order": 3}},
              {"label": "mix", "interpolate": ["add-k-2", {"best_of": ["witten-bell-3", "kneser-ney-3"]}]}]
    records = run_benchmark(spec(tmp_path, models), data=data)
    by = {r["label"]: r for r in records if r["kind"] == "model"}
    best = min(("witten-bell-3", "kneser-ney-3"), key=lambda k: by[k]["selection"]["valid_perplexity"])
    mix = by["mix"]
    assert mix["params"]["components"] == ["add-k-2", best]
    ref = InterpolatedModel.from_models([lm.make("add-k", order=2, k=0.05).fit(data.train, data.valid),
                                         lm.make(by[best]["model"], **by[best]["spec_params"])
                                         .fit(data.train, data.valid)]).tune_weights(data.valid)
    assert mix["params"]["weights"] == pytest.approx(list(ref.weights_), abs=1e-9)
    assert min(ref.weights_) > 0.01   # a true mixture, not one component alone
    assert mix["metrics"]["perplexity"] == pytest.approx(lm.evaluate(ref, data.test).perplexity, rel=1e-9)
    # A rerun keeps every row, the mixture too (its components are the same fitted models).
    lines = []
    run_benchmark(spec(tmp_path, models), data=data, log=lines.append)
    assert sum("done earlier, kept" in line for line in lines) == 4


@pytest.mark.parametrize("change, message", [
    ({"search": {"grid": {"ordr": [1, 2]}}},
     "models[0].search.grid.ordr: kneser-ney has no parameter 'ordr'"),
    ({"search": {"grid": {"order": [2, 0]}}}, "models[0].search: kneser-ney with order=0"),
    ({"search": {"grid": {"order": 3}}}, "models[0].search.grid.order: must be a non-empty list"),
    ({"search": {"random": {"order": [1, 2]}}}, "models[0].search.n_samples: a random search needs"),
    ({"search": {"grid": {"order": [1]}, "random": {"order": [2]}}}, "give exactly one of grid and random"),
    ({"search": {"grid": {"order": [1]}, "n_samples": 2}}, "only a random search samples"),
    ({"search": {"grd": {"order": [1]}}}, "models[0].search.grd"),
])
def test_bad_search_blocks_fail_before_training_naming_model_and_parameter(tmp_path, change, message):
    with pytest.raises(SpecError) as err:
        check_spec(spec(tmp_path, [{"model": "kneser-ney", **change}]))
    assert message in str(err.value)


@pytest.mark.parametrize("extra, message", [
    ({"budget": {"minutes": 3}}, "budget: must be null or a mapping with seconds and/or tokens"),
    ({"budget": {"seconds": 0}}, "budget.seconds: must be a positive number"),
    ({"train_sizes": [100, -1]}, "train_sizes: must be null or a non-empty list"),
    ({"models": ["unigram", {"label": "m", "interpolate": ["unigram", "lstm"]}]},
     "models[1].interpolate[1]: 'lstm' is not an earlier model's label"),
    ({"models": ["unigram", {"label": "m", "interpolate": ["unigram"]}]}, "at least two components"),
])
def test_bad_budget_sizes_and_interpolations_fail_naming_the_field(tmp_path, extra, message):
    raw = {**spec(tmp_path, ["unigram"]), **extra}
    with pytest.raises(SpecError) as err:
        check_spec(raw)
    assert message in str(err.value)


def test_a_checked_spec_checks_again_unchanged(tmp_path):
    raw = spec(tmp_path, ["unigram", {"model": "kneser-ney", "search": {"random": {"order": [1, 2, 3]},
                                                                        "n_samples": 2, "seed": 0}},
                          {"label": "m", "interpolate": ["unigram", {"best_of": ["kneser-ney"]}]}],
               budget={"tokens": 1000}, train_sizes=[300, 100])
    checked = check_spec(raw)
    assert check_spec(checked) == checked and checked["train_sizes"] == [100, 300]
    assert checked["models"][1]["search"]["each_seed"] is False


def test_a_seeded_model_searches_on_the_first_seed_and_trains_the_choice_with_the_others(data, tmp_path):
    small = SimpleNamespace(train=data.train.subset(np.arange(120)), valid=data.valid.subset(np.arange(30)),
                            test=data.test.subset(np.arange(30)), oracle_logprobs=None)
    entry = {"model": "hmm", "params": {"n_iter": 2, "progress": False},
             "search": {"grid": {"n_states": [2, 4]}}}
    records = run_benchmark(spec(tmp_path, [entry], seeds=[3, 4]), data=small)
    first, second = [r["selection"] for r in records if r["kind"] == "model"]
    assert first["n_tried"] == 2 and first["chosen_on_seed"] is None
    assert second["n_tried"] == 1 and second["chosen_on_seed"] == 3 and second["chosen"] == first["chosen"]
    every = {**entry, "search": {**entry["search"], "each_seed": True}}
    each = run_benchmark(spec(tmp_path / "each", [every], seeds=[3, 4]), data=small)
    assert [r["selection"]["n_tried"] for r in each if r["kind"] == "model"] == [2, 2]


def test_best_of_picks_among_the_rows_that_are_fitted(data, tmp_path):
    models = [{"model": "add-k", "params": {"order": 2, "k": 0.05}},
              {"model": "kneser-ney", "params": {"order": 3}},
              {"model": "witten-bell", "params": {"order": 3}},
              {"label": "mix", "interpolate": ["add-k-2", {"best_of": ["kneser-ney-3", "witten-bell-3"]}]}]
    records = run_benchmark(spec(tmp_path, models), data=data, only={"add-k-2", "witten-bell-3", "mix"})
    [mix] = [r for r in records if r["label"] == "mix"]
    assert mix["params"]["components"] == ["add-k-2", "witten-bell-3"]   # kneser-ney-3 was not run
    with pytest.raises(lm.errors.InvalidParameterError, match="no fitted record"):
        run_benchmark(spec(tmp_path / "b", models), data=data, only={"add-k-2", "mix"}, keep_going=False)
