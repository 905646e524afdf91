"""The comparison harness: every model of a spec on the same data and vocabulary, scored alike.

    spec --check--> data (train/valid/test, one vocabulary; valid carved from train when the corpus
    has none, see `validation`) --> for each training size (`train_sizes`: nested subsets; else the
    whole train), model and seed:
        fit each setting of its search within the budget (timed, peak memory; see `selection`), keep
        the lowest validation perplexity -> test perplexity, bits/char, top-k, MRR -> continuation
        BLEU, unconditional samples -> one record in results.jsonl
        (an `interpolate` row mixes earlier rows' saved models, weights tuned on valid)
    --> reference rows (oracle, human text) --> results.md / results.csv / plots

A finished (model, seed) whose record matches the spec and the data is not run again, and a
run of some models (`only`) keeps every other record.

With `jobs` N > 1 the runs are fitted and scored in N worker processes (`langmodels.bench.jobs`),
started in spec order as soon as the records they read are final (a later seed of a search waits
for the first seed's choice, a mixture for its components); the parent keeps the store, the log
and the progress bar, so the records are those of one run at a time except for their timings.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import sys
import time
from collections.abc import Collection
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from .._io import read_utf8, to_jsonable
from .._maths import bits_per_unit, perplexity_from_total
from .._version import __version__
from ..corpus import Corpus
from ..errors import InvalidParameterError, WorkerError
from ..masked import MaskedLanguageModel
from ..metrics import evaluate, ranking_metrics
from ..registry import get_class, make
from .jobs import Pool
from .records import merge_generations, read_records, write_generations, write_records
from .selection import fit_run, nested_subsets, settings
from .spec import check_spec
from .validation import with_validation

DEPENDENCIES = ("numpy", "torch", "nltk", "scikit-learn", "hmmlearn", "sacrebleu", "safetensors")


def run_benchmark(spec: dict, *, data=None, resume: bool = True, log=None,
                  keep_going: bool = True, only: Collection[str] | None = None) -> list[dict]:
    """Run `spec` (a mapping; see `langmodels.bench.spec`); returns the records the reports show.

    `data` replaces the spec's corpus with an object holding `train`, `valid` (or None) and
    `test` corpora on one vocabulary (and optionally `oracle_logprobs`). Without `valid`, the spec's
    `valid_fraction` of train (default 0.1, seeded by `valid_seed`) becomes valid, and the
    vocabulary is rebuilt from the rest (`langmodels.bench.validation`); every model's `fit` gets
    the same train and valid. `log` receives progress
    lines (default: stderr). With `keep_going`, a model that raises is recorded as
    {"kind": "failed", "error": ...} and the others still run; it is retried on the next run.
    `only` (labels) runs those models of the spec alone; the others keep their earlier records.
    The spec's `jobs` (default 1) fits that many runs at once, each in its own worker process; each
    record's environment says how many ran at once (their timings share the machine).

    results.jsonl is a store keyed by (label, seed): a run replaces its own record and leaves
    every other one (and its generations file) as it was, so a partial or interrupted run never
    costs another model its result. The reports (results.md/.csv, generations.jsonl, plots) show
    the records of the spec's models that match the spec and the data, in spec order, and the
    reference rows.
    """
    from .report import write_reports

    spec = check_spec(spec)
    if spec.get("task") == "classification":
        from .classification import run_classification

        if data is not None:
            raise InvalidParameterError("data= replaces a language-modelling corpus; a classification "
                                        "spec names its labelled files")
        return run_classification(spec, resume=resume, log=log, keep_going=keep_going, only=only)
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    labels = [entry["label"] for entry in spec["models"]]
    unknown = sorted(set(only or ()) - set(labels))
    if unknown:
        raise InvalidParameterError(f"only: {', '.join(unknown)} not in the spec; its models are "
                                    f"{', '.join(labels)}")
    data = with_validation(data or load_data(spec), spec["valid_fraction"], spec["valid_seed"],
                           spec["vocab"].get("min_count", 1), spec["vocab"].get("max_size"))
    out = Path(spec["out"])
    data_id = data_fingerprint(data)
    store = {(r["label"], r.get("seed")): r for r in read_records(out) if r.get("kind") != "reference"}
    sized = _sized_data(data, spec)
    runs = [Run(entry, seed, size) for size in sized for entry in spec["models"]
            for seed in _seeds_for(entry, spec)]
    todo = [run for run in runs if only is None or run.entry["label"] in only]
    kept_for = {label for e in spec["models"] for part in e.get("interpolate", ())
                for label in (part if isinstance(part, list) else [part])}
    pool = Pool(spec["jobs"], _start_worker, (spec, _slim(sized), data_id))
    waiting = list(enumerate(todo, 1))
    running: dict = {}   # future -> (i, run)
    bar = _progress_bar(len(todo), spec["progress"])

    def finished(i: int, run: Run, future=None) -> None:
        # The parent alone writes the store, once per finished run, so an interrupt keeps them all.
        key, name = _key(run), f"[{i}/{len(todo)}] {run.label} seed {run.seed}"
        try:
            record, gens = future.result() if future is not None else (None, None)
        except BrokenProcessPool as e:   # the pool cannot run anything more
            raise WorkerError(f"{name}: a worker process died (killed, or out of memory?); the runs that "
                             "finished are stored, and running the bench again resumes after them") from e
        except Exception as e:   # one failing model must not cost the others their results
            if not keep_going:
                raise
            store[key] = {"kind": "failed", "label": run.label, "model": run.entry["model"],
                          "seed": run.seed, "error": f"{type(e).__name__}: {e}",
                          "spec_params": _jsonable(run.entry["params"]),
                          "metrics_spec": _jsonable(spec["metrics"]), "data": data_summary(data, data_id)}
            log(f"{name}: FAILED ({type(e).__name__}: {e})")
        else:
            if record is None:
                log(f"{name}: done earlier, kept")
            else:
                record["environment"]["jobs"] = spec["jobs"]
                write_generations(out, run.label, run.seed, gens)
                store[key] = record
                log(f"{name}: {_summary(record)}")
        write_records(out, _in_order(store, runs))
        if bar:
            bar.update(1)

    try:
        while waiting or running:
            # Start, in spec order, every run whose inputs are final, up to `jobs` at a time.
            busy = {_key(run) for _, run in waiting} | {_key(run) for _, run in running.values()}
            for item in list(waiting):
                i, run = item
                if len(running) >= pool.jobs:
                    break
                if _reads(run, spec) & (busy - {_key(run)}):
                    continue
                waiting.remove(item)
                busy.discard(_key(run))
                old = store.get(_key(run))
                if (resume and old and old.get("kind") == "model"
                        and _same_run(old, run, spec, data_id, store)):
                    finished(i, run)
                    continue
                log(f"[{i}/{len(todo)}] {run.label} seed {run.seed}: fitting ...")
                keep = out / "models" if run.entry["label"] in kept_for else None
                if pool.jobs == 1:   # in this process, on the parent's own objects, as always
                    future = pool.submit(run_one, run.entry, run.seed, spec, sized[run.size], data_id,
                                         run.size, store, keep)
                else:
                    reads = {k: store[k] for k in _reads(run, spec) if k in store}
                    future = pool.submit(_run_in_worker, run.entry, run.seed, run.size, reads, keep)
                running[future] = (i, run)
                busy.add(_key(run))
            if running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f][0]):
                    finished(*running.pop(future), future)
    except BaseException:   # Ctrl-C or a failure without keep_going: the finished runs stay stored
        pool.stop()
        raise
    pool.close()
    if bar:
        bar.close()
    references = reference_records(spec, data, data_id)
    write_records(out, _in_order(store, runs) + references)
    shown = [run for run in runs
             if _same_run(store.get((run.label, run.seed), {}), run, spec, data_id, store)]
    for run in runs:
        if run not in todo and run not in shown:
            log(f"{run.label} seed {run.seed}: not selected, and no earlier record matches the spec and "
                "the data: left out of the reports")
    records = [store[run.label, run.seed] for run in shown]
    merge_generations(out, [(run.entry | {"label": run.label}, run.seed)
                            for run, r in zip(shown, records) if r["kind"] == "model"])
    records += references
    write_reports(records, out)
    return records


def _summary(record: dict) -> str:
    m, sel = record["metrics"], record.get("selection") or {}
    score = (f"ppl {m['perplexity']:.3f}" if "perplexity" in m
             else f"pseudo-ppl {m['pseudo_perplexity']:.3f}")
    tried = f" (best of {sel['n_tried']}: {sel['chosen']})" if sel.get("n_tried", 1) > 1 else ""
    return (f"{score}{tried}, fit {record['fit_seconds']:.1f}s, scoring {record['score_seconds']:.1f}s, "
            f"generation {record['generate_seconds']:.1f}s")


def _key(run) -> tuple:
    return run.label, run.seed


def _in_order(store: dict, runs: list) -> list[dict]:
    """The store's records, the spec's runs first in spec order (whatever order they finished in)."""
    keys = [_key(run) for run in runs if _key(run) in store]
    return [store[k] for k in keys] + [r for k, r in store.items() if k not in set(keys)]


# --- worker processes (jobs > 1) ---------------------------------------------------------------
def _reads(run, spec: dict) -> set[tuple]:
    """The (label, seed) records a run reads, so it starts only once they are final: a later seed of
    a search reads the first seed's choice, a mixture its components (seeded or not)."""
    entry = run.entry
    if "interpolate" in entry:
        labels = [Run({"label": label}, None, run.size).label for part in entry["interpolate"]
                  for label in (part if isinstance(part, list) else [part])]
        return {(label, seed) for label in labels for seed in (run.seed, None)}
    seed0 = spec["seeds"][0]
    if entry.get("search") and not entry["search"].get("each_seed") and run.seed not in (None, seed0):
        return {(run.label, seed0)}
    return set()


def _slim(sized: dict) -> dict:
    """What a run reads of each size's data (the oracle and the generator stay in the parent)."""
    return {size: SimpleNamespace(train=d.train, valid=d.valid, test=d.test, name=getattr(d, "name", None),
                                  valid_source=getattr(d, "valid_source", None)) for size, d in sized.items()}


_WORKER: dict = {}


def _start_worker(spec: dict, sized: dict, data_id: str) -> None:
    # Imported here, before any run is timed, so a worker's first run does not pay for them.
    import sacrebleu.metrics  # noqa: F401
    import torch  # noqa: F401

    # Per-epoch progress bars from several processes would interleave on one terminal.
    _WORKER.update(spec={**spec, "progress": False}, sized=sized, data_id=data_id)


def _run_in_worker(entry: dict, seed, size, reads: dict, keep):
    w = _WORKER
    return run_one(entry, seed, w["spec"], w["sized"][size], w["data_id"], size=size, store=reads, keep=keep)


# --- data -----------------------------------------------------------------------------------
def load_data(spec: dict):
    """The spec's train/valid/test corpora, sharing the training vocabulary."""
    corpus, vocab = spec["corpus"], spec["vocab"]
    if isinstance(corpus, dict):
        tok = spec["tokenizer"] or "whitespace"
        train = Corpus.from_file(corpus["train"], tokenizer=tok, min_count=vocab.get("min_count", 1),
                                 max_size=vocab.get("max_size"))
        split = {s: Corpus.from_file(corpus[s], vocab=train.vocab, tokenizer=tok) if s in corpus else None
                 for s in ("valid", "test")}
        return SimpleNamespace(train=train, valid=split["valid"], test=split["test"], oracle_logprobs=None,
                               name=str(corpus["train"]))
    from .. import datasets

    return datasets.load(str(corpus), tokenizer=spec["tokenizer"], min_count=vocab.get("min_count", 1),
                         max_size=vocab.get("max_size"), data_dir=spec["data_dir"],
                         download=spec["download"], **spec["corpus_params"])


def data_fingerprint(data) -> str:
    """SHA-256 over the vocabulary and every split's ids: equal hashes mean identical data."""
    h = hashlib.sha256(data.train.vocab.fingerprint.encode())
    for name in ("train", "valid", "test"):
        c = getattr(data, name, None)
        if c is not None:
            h.update(name.encode())
            h.update(np.ascontiguousarray(c.ids, np.int32).tobytes())
            h.update(np.ascontiguousarray(c.offsets, np.int64).tobytes())
    return h.hexdigest()


# --- one model ------------------------------------------------------------------------------
class Run(NamedTuple):
    """One row of the work: a model entry, a seed (None: deterministic) and a training size
    (None: the whole training split)."""

    entry: dict
    seed: int | None
    size: int | None

    @property
    def label(self) -> str:
        return self.entry["label"] if self.size is None else f"{self.entry['label']} @ {self.size:,} tokens"


def _seeds_for(entry: dict, spec: dict) -> list[int | None]:
    # A model without a seed parameter is deterministic: one run stands for every seed. A mixture
    # runs once per seed when any component does.
    if "interpolate" in entry:
        by_label = {e["label"]: e for e in spec["models"]}
        parts = [label for part in entry["interpolate"]
                 for label in (part if isinstance(part, list) else [part])]
        seeded = any(_seeds_for(by_label[label], spec) != [None] for label in parts)
        return list(spec["seeds"]) if seeded else [None]
    return list(spec["seeds"]) if "seed" in get_class(entry["model"]).param_names() else [None]


def _sized_data(data, spec: dict) -> dict:
    """{size: data}: the whole data (size None), or one copy per `train_sizes` entry whose train is
    a nested subset (valid, test and the vocabulary unchanged)."""
    if not spec["train_sizes"]:
        return {None: data}
    # A size past the whole training split is the whole split, labelled with its true size.
    return {min(size, data.train.n_tokens): SimpleNamespace(**{**vars(data), "train": subset})
            for size, subset in nested_subsets(data.train, spec["train_sizes"], spec["train_sizes_seed"])}


def run_one(entry: dict, seed, spec: dict, data, data_id: str, size: int | None = None,
            store: dict | None = None, keep: Path | None = None) -> tuple[dict, list[dict]]:
    """Fit (every setting of its search, keeping the lowest validation perplexity) and score one
    model; returns its record and its generations. `keep`: save the chosen model there (for the
    interpolations that use it)."""
    run = Run(entry, seed, size)
    if "interpolate" in entry:
        return run_interpolated(run, spec, data, data_id, store or {}, keep)
    cls = get_class(entry["model"])
    tried, chosen_on = _settings_to_try(run, spec, data_id, store or {})
    if len(tried) > 1 and data.valid is None:
        raise InvalidParameterError(f"{entry['label']}: a search selects on validation perplexity, but "
                                    "there is no validation split (valid_fraction: 0)")
    memory = _PeakMemory()
    load_before = os.getloadavg()[0]
    trials, model, chosen = [], None, None
    for setting in tried:
        params = dict(setting)
        if seed is not None:
            params["seed"] = seed
        if "progress" in cls.param_names() and "progress" not in params:
            params["progress"] = bool(spec["progress"]) and sys.stderr.isatty()
        # The memory budget bounds working memory only: the fitted model is the same with or without it.
        candidate, fit = fit_run(make(entry["model"], **params), data.train, data.valid, spec["budget"],
                                 spec.get("memory"))
        trials.append({"params": _jsonable(_searched(setting, entry)), **_jsonable(fit)})
        v = fit["valid_perplexity"]
        if chosen is None or (v is not None and (chosen["valid_perplexity"] is None
                                                 or v < chosen["valid_perplexity"])):
            model, chosen = candidate, trials[-1]
        del candidate
    metrics, gens, timing = score_model(model, data, spec["metrics"], run.label)
    if keep is not None:
        model.save(keep / _safe(run.label) / f"seed{seed}")
    search = entry.get("search")
    record = {
        "kind": "model", "label": run.label, "entry_label": entry["label"], "model": entry["model"],
        "seed": seed, "train_size": size,
        "params": _jsonable(model.get_params()), "spec_params": _jsonable(entry["params"]),
        "search_spec": _jsonable(search), "budget_spec": _jsonable(spec["budget"]),
        "metrics": metrics, "metrics_spec": _jsonable(spec["metrics"]),
        "fit_seconds": chosen["fit_seconds"], **timing, **memory.read(),
        "selection": {"mode": ("grid" if "grid" in search else "random") if search else "fixed",
                      "n_tried": len(trials), "chosen_on_seed": chosen_on,
                      "chosen": chosen["params"], "valid_perplexity": chosen["valid_perplexity"],
                      "tokens_seen": chosen["tokens_seen"], "budget": chosen["budget"],
                      "search_seconds": sum(t["fit_seconds"] for t in trials), "trials": trials},
        "learning_curve": chosen["points"],
        **_parameter_count(model), "history": _history(model), "curves": learning_curves(model),
        "data": data_summary(data, data_id), "environment": environment(),
        "load_average": [load_before, os.getloadavg()[0]],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return record, gens


def _settings_to_try(run: Run, spec: dict, data_id: str, store: dict) -> tuple[list[dict], int | None]:
    """(settings, the seed that chose them or None): every setting of the search, or, for a seed
    after the first (without `each_seed`), the first seed's choice alone."""
    entry, seed0 = run.entry, spec["seeds"][0]
    tried = settings(entry["params"], entry.get("search"))
    if len(tried) == 1 or entry["search"].get("each_seed") or run.seed in (None, seed0):
        return tried, None
    first = store.get((run.label, seed0)) or {}
    if first.get("kind") == "model" and _same_run(first, run._replace(seed=seed0), spec, data_id, {}):
        return [{**entry["params"], **first["selection"]["chosen"]}], seed0
    return tried, None   # the first seed has no matching record (e.g. --seeds 1,2): search here


def _searched(setting: dict, entry: dict) -> dict:
    """The searched parameters of a setting (all its spec params when nothing is searched)."""
    search = entry.get("search")
    if not search:
        return dict(entry["params"])
    return {k: setting[k] for k in (search.get("grid") or search["random"])}


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def _components(run: Run, spec: dict, store: dict) -> list[dict]:
    """The fitted rows a mixture combines for this seed and size: each named row, and for a
    best_of list the one with the lowest validation perplexity among those fitted."""
    picked = []
    for part in run.entry["interpolate"]:
        labels = [Run({"label": label}, None, run.size).label
                  for label in (part if isinstance(part, list) else [part])]
        rows = [store.get((lab, run.seed)) or store.get((lab, None)) for lab in labels]
        rows = [r for r in rows if r is not None and r.get("kind") == "model"]
        if not rows:
            raise InvalidParameterError(f"{run.entry['label']}: {' / '.join(labels)} (seed {run.seed}) has "
                                        "no fitted record to interpolate; run it first")
        picked.append(min(rows, key=lambda r: (r.get("selection") or {}).get("valid_perplexity") or math.inf))
    return picked


def run_interpolated(run: Run, spec: dict, data, data_id: str, store: dict, keep: Path | None):
    """A linear mixture of earlier rows' saved models, its weights tuned by EM on valid."""
    from ..base import load
    from ..interpolated import InterpolatedModel

    if data.valid is None:
        raise InvalidParameterError(f"{run.entry['label']}: interpolation weights are tuned on validation "
                                    "data, but there is none (valid_fraction: 0)")
    rows = _components(run, spec, store)
    out = Path(spec["out"]) / "models"
    load_before = os.getloadavg()[0]
    memory = _PeakMemory()
    t0 = time.perf_counter()
    models = [load(out / _safe(r["label"]) / f"seed{r['seed']}") for r in rows]
    model = InterpolatedModel.from_models(models).tune_weights(data.valid)
    fit_seconds = time.perf_counter() - t0
    valid_ppl = evaluate(model, data.valid).perplexity
    metrics, gens, timing = score_model(model, data, spec["metrics"], run.label)
    chosen = {"components": [r["label"] for r in rows], "weights": [float(w) for w in model.weights_]}
    return {
        "kind": "model", "label": run.label, "entry_label": run.entry["label"], "model": "interpolated",
        "seed": run.seed, "train_size": run.size, "params": chosen, "spec_params": {},
        "interpolate": run.entry["interpolate"], "components_finished": [r["finished_at"] for r in rows],
        "search_spec": None, "budget_spec": _jsonable(spec["budget"]),
        "metrics": metrics, "metrics_spec": _jsonable(spec["metrics"]),
        "fit_seconds": fit_seconds + sum(r["fit_seconds"] for r in rows), **timing, **memory.read(),
        "selection": {"mode": "best_of" if any(isinstance(p, list) for p in run.entry["interpolate"])
                      else "fixed", "n_tried": 1, "chosen": chosen, "valid_perplexity": valid_ppl,
                      "tokens_seen": sum((r.get("selection") or {}).get("tokens_seen") or 0 for r in rows),
                      "budget": None, "search_seconds": fit_seconds, "trials": []},
        "learning_curve": None, "n_parameters": model.n_parameters(),
        "n_parameters_source": PARAMETER_SOURCE, "history": None, "curves": None,
        "data": data_summary(data, data_id), "environment": environment(),
        "load_average": [load_before, os.getloadavg()[0]],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, gens


def score_model(model, data, metric_spec: dict, label: str) -> tuple[dict, list[dict], dict]:
    """Every metric of the spec for one fitted model: (metrics, generations, timings)."""
    from ..metrics.bleu import continuation_bleu, sample_sequences, unconditional_metrics

    test = data.test
    if isinstance(model, MaskedLanguageModel):
        return score_masked(model, test, metric_spec)
    t0 = time.perf_counter()
    metrics = evaluate(model, test).to_dict()
    if "ranking" in metric_spec:
        metrics.update(ranking_metrics(model, test))
    score_seconds = time.perf_counter() - t0
    gens: list[dict] = []
    t0 = time.perf_counter()
    opts = metric_spec.get("continuation_bleu")
    if opts is not None:
        metrics["continuation_bleu"], g = continuation_bleu(model, test, **opts)
        gens += [{"model": label, **x} for x in g]
        rouge = _continuation_rouge(g)
        if rouge is not None:
            metrics["continuation_rouge"] = rouge
    opts = metric_spec.get("unconditional")
    if opts is not None:
        refs = [test.vocab.decode(s) for s in test.sequences()]
        samples = sample_sequences(model, opts["n_samples"], seed=opts["seed"],
                                   max_new_tokens=opts["max_new_tokens"])
        metrics["unconditional"] = unconditional_metrics(samples, refs, opts["orders"])
        metrics["unconditional"]["sweep"] = _temperature_sweep(model, refs, opts, samples)
        gens += [{"model": label, "mode": "unconditional", "prompt": "", "hypothesis": " ".join(s),
                  "reference": None} for s in samples]
    return metrics, gens, {"score_seconds": score_seconds, "generate_seconds": time.perf_counter() - t0}


def score_masked(model, test: Corpus, metric_spec: dict) -> tuple[dict, list[dict], dict]:
    """A masked model's metrics: pseudo-perplexity exp(-mean PLL) (never a perplexity: it goes in
    its own column) and, with `ranking`, top-k / MRR with each token masked alone. It cannot
    generate, so it has no BLEU or samples."""
    t0 = time.perf_counter()
    pll = model.pseudo_log_likelihood(test)
    total = float(pll.sum())
    metrics = {"pseudo_log_likelihood": total, "n_tokens": int(len(pll)), "n_sequences": len(test),
               "pseudo_perplexity": perplexity_from_total(total, len(pll))}
    if "ranking" in metric_spec:
        metrics.update(ranking_metrics(model, test))
    return metrics, [], {"score_seconds": time.perf_counter() - t0, "generate_seconds": 0.0}


def _continuation_rouge(generations: list[dict]) -> dict | None:
    """ROUGE-1/2/L of the greedy continuations beside their BLEU (None without rouge-score)."""
    try:
        import rouge_score  # noqa: F401  (optional: pip install rouge-score)

        from ..metrics.rouge import rouge_scores
    except ImportError:
        return None
    greedy = [g for g in generations if g["mode"] == "greedy"]
    return rouge_scores([g["hypothesis"] for g in greedy], [g["reference"] for g in greedy])


def _temperature_sweep(model, refs, opts, samples_at_1) -> list[dict]:
    from ..metrics.bleu import sample_sequences, unconditional_metrics

    n = 4 if 4 in opts["orders"] else max(opts["orders"])
    points = []
    for t in opts["temperatures"]:
        # Same seed and temperature 1: the samples already drawn.
        samples = samples_at_1 if float(t) == 1.0 else sample_sequences(
            model, opts["n_samples"], seed=opts["seed"], max_new_tokens=opts["max_new_tokens"],
            temperature=float(t))
        m = unconditional_metrics(samples, refs, (n,))
        points.append({"temperature": float(t), "order": n, "test_bleu": m[f"test_bleu{n}"],
                       "self_bleu": m[f"self_bleu{n}"], "distinct2": m["distinct2"]})
    return points


# --- reference rows ---------------------------------------------------------------------------
def reference_records(spec: dict, data, data_id: str) -> list[dict]:
    """The oracle row (the generator's own perplexity, synthetic corpus only) and the human row
    (held-out validation text scored as if it were samples)."""
    from ..metrics.bleu import unconditional_metrics

    out = []
    oracle = getattr(data, "oracle_logprobs", None)
    if oracle is not None and oracle.get("test") is not None:
        total = float(np.sum(oracle["test"]))
        n = data.test.n_targets
        chars = None if data.test.n_chars is None else int(data.test.n_chars.sum()) + len(data.test)
        out.append({"kind": "reference", "label": "oracle (generator)", "data": data_summary(data, data_id),
                    "metrics": {"total_logprob": total, "n_tokens": n,
                                "perplexity": perplexity_from_total(total, n),
                                "bits_per_token": bits_per_unit(total, n),
                                "bits_per_char": bits_per_unit(total, chars)}})
    opts = spec["metrics"].get("unconditional")
    language = getattr(data, "language", None)
    if out and opts is not None and language is not None:
        # The generator's own samples: where a perfect model would sit on the quality-diversity plot.
        sents, _ = language.sample(opts["n_samples"], rng=np.random.default_rng(opts["seed"]))
        vocab = data.test.vocab
        sents = [vocab.decode(vocab.encode(x)) for x in sents]   # OOVs as <unk>, like the test text
        refs = [data.test.vocab.decode(s) for s in data.test.sequences()]
        out[0]["metrics"]["unconditional"] = unconditional_metrics(sents, refs, opts["orders"])
    if "human" in spec["metrics"] and opts is not None and getattr(data, "valid", None) is not None:
        rng = np.random.default_rng(opts["seed"])
        pick = rng.permutation(len(data.valid))[:opts["n_samples"]]
        samples = [data.valid.vocab.decode(data.valid[k]) for k in np.sort(pick)]
        refs = [data.test.vocab.decode(s) for s in data.test.sequences()]
        out.append({"kind": "reference", "label": "human (valid text)", "data": data_summary(data, data_id),
                    "metrics": {"unconditional": unconditional_metrics(samples, refs, opts["orders"])}})
    return out


# --- measurements -----------------------------------------------------------------------------
class _PeakMemory:
    """Peak resident memory of this process while one model fits and is scored.

    Linux lets a process reset its high-water mark (write 5 to /proc/self/clear_refs), so VmHWM
    then measures this model alone; elsewhere ru_maxrss (the peak since the process started) is
    all there is, and the record says so. CUDA's peak allocation is added when torch uses a GPU.
    """

    def __init__(self):
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "VmHWM after clear_refs (peak RSS of this model's fit and scoring)"
        except OSError:
            self.method = "ru_maxrss (peak RSS of the whole process so far)"
        self.start_mb = _status_mb("VmRSS")
        torch = sys.modules.get("torch")
        self.cuda = torch is not None and torch.cuda.is_available()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def read(self) -> dict:
        peak = _status_mb("VmHWM")
        if peak is None or self.method.startswith("ru_maxrss"):
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out = {"peak_rss_mb": peak, "rss_growth_mb": None if self.start_mb is None else peak - self.start_mb,
               "memory_method": self.method}
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        return out


def _status_mb(field: str) -> float | None:
    try:
        for line in read_utf8("/proc/self/status").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


PARAMETER_SOURCE = "the model's n_parameters() (each family documents what it counts)"


def _parameter_count(model) -> dict:
    return {"n_parameters": model.n_parameters(), "n_parameters_source": PARAMETER_SOURCE}


def _history(model) -> list[dict] | None:
    curve = model.learning_curve()
    return _jsonable(curve) if curve else None


def learning_curves(model) -> dict | None:
    """{"train": [...], "valid": [...]}: NLL in nats per token by epoch or EM iteration, from the
    model's `learning_curve()` (nan where an entry lacks a value; a series never measured is left
    out; None for a model with no curve)."""
    curve = model.learning_curve()
    curves = {}
    for key, name in (("train_nll", "train"), ("valid_nll", "valid")):
        values = [x.get(key) for x in curve]
        if any(v is not None for v in values):
            curves[name] = [float("nan") if v is None else float(v) for v in values]
    return curves or None


def data_summary(data, data_id: str) -> dict:
    tr, te = data.train, data.test
    return {"name": str(getattr(data, "name", None) or tr.name), "hash": data_id, "vocab_size": len(tr.vocab),
            "tokenizer": tr.tokenizer, "train_tokens": tr.n_tokens, "test_tokens": te.n_tokens,
            "test_sequences": len(te), "test_oov": te.n_oov,
            "valid_tokens": None if getattr(data, "valid", None) is None else data.valid.n_tokens,
            "valid": getattr(data, "valid_source", None)}


def environment() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    deps = {}
    for name in DEPENDENCIES:
        try:
            deps[name] = version(name)
        except PackageNotFoundError:
            deps[name] = None
    return {"langmodels": __version__, "python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "dependencies": deps}


def _same_run(old: dict, run: Run, spec: dict, data_id: str, store: dict) -> bool:
    entry = run.entry
    same = (old.get("model") == entry["model"] and old.get("spec_params") == _jsonable(entry["params"])
            and old.get("data", {}).get("hash") == data_id and old.get("train_size") == run.size
            and old.get("search_spec") == _jsonable(entry.get("search"))
            and old.get("budget_spec") == _jsonable(spec["budget"])
            and old.get("metrics_spec") == _jsonable(spec["metrics"]))
    if same and "interpolate" in entry:   # and its components are the very models it mixed
        try:
            rows = _components(run, spec, store)
        except InvalidParameterError:
            return False
        return old.get("components_finished") == [r["finished_at"] for r in rows]
    return same


def _progress_bar(total: int, enabled: bool):
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="models", unit="model", position=0)


def _jsonable(obj):
    return to_jsonable(obj, default=str)
