"""Benchmark specs: what `langmodels bench` trains and how it scores, checked before any training.

A spec is a mapping (YAML on disk)::

    name: my-comparison
    task: language-modelling     # or classification: see langmodels.bench.classification
    corpus: synthetic            # a registered dataset, a directory, or {train: f, valid: f, test: f}
    corpus_params: {}            # extra arguments for datasets.load (e.g. the generator's size)
    data_dir: null               # where registered datasets are cached or found
    tokenizer: null              # whitespace | treebank | char; null: the dataset's own
    vocab: {min_count: 1, max_size: null}
    valid_fraction: null         # corpus without a valid split: this fraction of train (null: 0.1; 0: none)
    valid_seed: 0                # which training sequences that fraction draws
    seeds: [0, 1, 2]             # models with a `seed` parameter run once per seed
    models:
      - {model: kneser-ney, params: {order: 3}}
      - {model: lstm, label: lstm-small, params: {hidden_size: 64, epochs: 2}}
      - model: kneser-ney                   # a search: each setting fitted, the lowest valid ppl kept
        label: kn-searched
        search: {grid: {order: [2, 3, 4]}}  # or {random: {...lists...}, n_samples: 4, seed: 0}
        # A model with seeds searches on the first seed and trains the chosen setting with the
        # others (each_seed: true searches on every seed).
      - {label: kn+lstm, interpolate: [kneser-ney-3, {best_of: [lstm-small]}]}   # of fitted rows
    budget: {seconds: 300, tokens: 2000000} # per run (each setting tried), either or both; null: none
    train_sizes: null                       # e.g. [10000, 100000]: refit on nested training subsets
    train_sizes_seed: 0                     # which sequences the subsets draw
    metrics:                     # each: true, false, or options
      ranking: true
      continuation_bleu: {k: 5, max_prompts: 1000, sample_seeds: [0, 1, 2, 3, 4], extra_tokens: 10}
      unconditional: {n_samples: 200, max_new_tokens: 100, temperatures: [0.7, 1.0, 1.3]}
      human: true
    out: bench-out
    memory: null                 # a working-memory budget ("4G") for the models whose fit takes one
    jobs: 1                      # runs (model, seed, size) fitted at once, each in its own process

Perplexity (with bits per token and per character) is always measured.
"""

from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, LangModelsError, UnknownModelError


class SpecError(LangModelsError, ValueError):
    """A benchmark spec with a missing, unknown or invalid field (the message names it)."""


METRIC_DEFAULTS: dict[str, dict[str, Any]] = {
    "ranking": {},
    "continuation_bleu": {"k": 5, "max_prompts": 1000, "seed": 0, "sample_seeds": [0, 1, 2, 3, 4],
                          "extra_tokens": 10},
    "unconditional": {"n_samples": 200, "max_new_tokens": 100, "seed": 0, "orders": [2, 3, 4, 5],
                      "temperatures": []},
    "human": {},
}
TOP_LEVEL = {"name": "bench", "corpus": None, "corpus_params": {}, "data_dir": None, "download": True,
             "tokenizer": None, "vocab": {}, "valid_fraction": None, "valid_seed": 0, "seeds": [0],
             "models": None, "metrics": {}, "budget": None, "train_sizes": None, "train_sizes_seed": 0,
             "out": "bench-out", "progress": True, "memory": None, "jobs": 1}
VOCAB_KEYS = ("min_count", "max_size")

# `langmodels bench` with no spec: every family on the synthetic oracle corpus, sized to finish in
# about 3 minutes on 2 CPU cores. Override sizes with --set, e.g. --set corpus_params.n_train=500.
# lr 1e-2 (not the families' 1e-3 default): with only 3 epochs it is what lets the neural models learn
# (LSTM test perplexity 56 instead of 131 on this corpus).
_NEURAL = {"embed_dim": 64, "hidden_size": 128, "n_layers": 1, "lr": 1e-2, "epochs": 3, "batch_size": 32,
           "device": "cpu"}
DEFAULT_SPEC: dict[str, Any] = {
    "name": "default: every family on the synthetic oracle corpus",
    "corpus": "synthetic",
    "corpus_params": {"seed": 0, "n_train": 4000, "n_valid": 500, "n_test": 500},
    "seeds": [0],
    "models": [
        {"model": "uniform"},
        {"model": "unigram", "params": {"k": 0.1}},
        {"model": "add-k", "params": {"order": 2, "k": 0.01}},
        {"model": "witten-bell", "params": {"order": 3}},
        {"model": "absolute-discount", "params": {"order": 3}},
        {"model": "katz", "params": {"order": 3}},
        {"model": "kneser-ney", "params": {"order": 3}},
        {"model": "modified-kneser-ney", "params": {"order": 3}},
        {"model": "hmm", "params": {"n_states": 24, "n_iter": 10}},
        {"model": "rnn", "params": dict(_NEURAL)},
        {"model": "lstm", "params": dict(_NEURAL)},
        {"model": "gru", "params": dict(_NEURAL)},
        {"model": "transformer", "params": {"embed_dim": 64, "n_heads": 4, "n_layers": 2, "lr": 1e-2,
                                            "epochs": 3, "batch_size": 32, "device": "cpu"},
         "search": {"grid": {"positions": ["rotary", "sinusoidal"]}}},
    ],
    "metrics": {"ranking": True, "continuation_bleu": True, "human": True,
                "unconditional": {"n_samples": 200, "max_new_tokens": 60, "temperatures": [0.7, 1.0, 1.3]}},
    "out": "bench-out",
}


def load_spec(path: str | os.PathLike) -> dict:
    """Read a YAML spec and check it (see `check_spec`)."""
    raw = read_spec_file(path)
    if isinstance(raw, dict) and raw.get("task") == "classification":
        from .classification import check_classification_spec

        return check_classification_spec(raw, source=str(path), base=Path(path).parent)
    spec = check_spec(raw, source=str(path))
    if isinstance(spec["corpus"], str) and not _is_dataset_name(spec["corpus"]):
        # A relative corpus path means relative to the spec file.
        candidate = Path(path).parent / spec["corpus"]
        if candidate.is_dir():
            spec["corpus"] = str(candidate)
    return spec


def read_spec_file(path: str | os.PathLike):
    """The YAML of a spec file as read, unchecked; SpecError for a missing file or bad YAML."""
    import yaml

    from .._io import read_utf8

    try:
        return yaml.safe_load(read_utf8(path))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML ({e})") from None


def check_spec(raw: Any, source: str = "spec") -> dict:
    """A complete, validated copy of `raw` with defaults filled in; SpecError names any bad field."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a spec is a mapping of fields, got {type(raw).__name__}")
    if raw.get("task") == "classification":   # a labelled corpus and classifiers: its own checks
        from .classification import check_classification_spec

        return check_classification_spec(raw, source)
    if raw.get("task", "language-modelling") != "language-modelling":
        raise SpecError(f"{source}: task: must be language-modelling (the default) or classification, "
                        f"got {raw['task']!r}")
    raw = {k: v for k, v in raw.items() if k != "task"}
    unknown = sorted(set(raw) - set(TOP_LEVEL))
    if unknown:
        raise SpecError(f"{source}: unknown field {unknown[0]!r}{_did_you_mean(unknown[0], TOP_LEVEL)}; "
                        f"the fields are {', '.join(TOP_LEVEL)}")
    spec = copy.deepcopy(TOP_LEVEL)
    spec.update(copy.deepcopy(raw))
    fail = _failer(source)
    if spec["corpus"] is None:
        fail("corpus", "missing; name a dataset (see `langmodels datasets`), a directory with "
                       "train/valid/test "
                       "files, or give {train: FILE, valid: FILE, test: FILE}")
    _check_corpus(spec, fail)
    if not isinstance(spec["corpus_params"], dict):
        fail("corpus_params", "must be a mapping of arguments for datasets.load")
    from ..tokenize import TOKENIZERS

    if spec["tokenizer"] is not None and spec["tokenizer"] not in TOKENIZERS:
        fail("tokenizer", f"unknown tokenizer {spec['tokenizer']!r}; choose one of {sorted(TOKENIZERS)}")
    _check_vocab(spec["vocab"], fail)
    vf = spec["valid_fraction"]
    if vf is not None and (isinstance(vf, bool) or not isinstance(vf, (int, float)) or not 0 <= vf < 1):
        fail("valid_fraction", f"must be null or a fraction in [0, 1) (0: no validation split), got {vf!r}")
    if not _is_int(spec["valid_seed"]):
        fail("valid_seed", f"must be an integer, got {spec['valid_seed']!r}")
    seeds = spec["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) for s in seeds):
        fail("seeds", f"must be a non-empty list of integers, got {seeds!r}")
    spec["models"] = _check_models(spec["models"], fail)
    spec["budget"] = _check_budget(spec["budget"], fail)
    sizes = spec["train_sizes"]
    if sizes is not None and (not isinstance(sizes, list) or not sizes
                              or not all(_is_int(n) and n >= 1 for n in sizes)):
        fail("train_sizes", f"must be null or a non-empty list of training-token counts >= 1, got {sizes!r}")
    if sizes is not None:
        spec["train_sizes"] = sorted(set(sizes))
    if not _is_int(spec["train_sizes_seed"]):
        fail("train_sizes_seed", f"must be an integer, got {spec['train_sizes_seed']!r}")
    spec["metrics"] = _check_metrics(spec["metrics"], fail)
    if spec["memory"] is not None:
        from .._checks import parse_memory

        try:
            parse_memory(spec["memory"])
        except InvalidParameterError as e:
            fail("memory", str(e))
    if not _is_int(spec["jobs"]) or spec["jobs"] < 1:
        fail("jobs", f"must be an integer >= 1 (runs fitted at once), got {spec['jobs']!r}")
    if not isinstance(spec["out"], (str, os.PathLike)):
        fail("out", f"must be a directory path, got {spec['out']!r}")
    return spec


def apply_overrides(raw: dict, assignments: list[str]) -> dict:
    """`["corpus_params.n_train=500", "seeds=[0,1]"]` -> a copy of `raw` with those values (YAML-parsed)."""
    import yaml

    out = copy.deepcopy(raw)
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError(f"--set {item!r}: expected FIELD=VALUE, e.g. corpus_params.n_train=500")
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise SpecError(f"--set {item!r}: {p} is not a mapping")
        node[parts[-1]] = yaml.safe_load(value)
    return out


# --- pieces -------------------------------------------------------------------------------------
def _failer(source):
    def fail(field: str, message: str):
        raise SpecError(f"{source}: {field}: {message}")

    return fail


def _check_corpus(spec, fail):
    corpus = spec["corpus"]
    if isinstance(corpus, dict):
        bad = sorted(set(corpus) - {"train", "valid", "test"})
        if bad or "train" not in corpus or "test" not in corpus:
            fail("corpus", "as a mapping it needs train and test files (valid optional), "
                           f"got keys {sorted(corpus)}")
        for split, path in corpus.items():
            if not Path(path).is_file():
                fail(f"corpus.{split}", f"{path}: no such file")
    elif not isinstance(corpus, (str, os.PathLike)):
        fail("corpus", f"must be a dataset name, a directory or a mapping of split files, got {corpus!r}")
    elif not _is_dataset_name(str(corpus)) and not Path(corpus).is_dir():
        names = _dataset_names()
        known = f"registered datasets: {', '.join(names)}" if names else "no dataset module is installed"
        fail("corpus", f"{corpus!r} is neither a registered dataset ({known}) nor a directory")


def _dataset_names() -> list[str]:
    try:
        from .. import datasets

        return list(datasets.available_datasets())
    except (ImportError, AttributeError):
        return []


def _is_dataset_name(name: str) -> bool:
    return name in _dataset_names()


def _check_vocab(vocab, fail):
    if not isinstance(vocab, dict):
        fail("vocab", "must be a mapping such as {min_count: 1, max_size: 10000}")
    for key in vocab:
        if key not in VOCAB_KEYS:
            fail(f"vocab.{key}", f"unknown setting; the settings are {', '.join(VOCAB_KEYS)}")
    mc, ms = vocab.get("min_count", 1), vocab.get("max_size")
    if not _is_int(mc) or mc < 1:
        fail("vocab.min_count", f"must be an integer >= 1, got {mc!r}")
    if ms is not None and (not _is_int(ms) or ms < 3):
        fail("vocab.max_size", f"must be null or an integer >= 3, got {ms!r}")


def _check_models(models, fail) -> list[dict]:
    from ..registry import available_models, get_class

    if not isinstance(models, list) or not models:
        fail("models", "missing or empty; list the models, e.g. [{model: kneser-ney, params: {order: 3}}]")
    out, labels = [], set()
    for i, entry in enumerate(models):
        where = f"models[{i}]"
        if isinstance(entry, str):
            entry = {"model": entry}
        if isinstance(entry, dict) and "interpolate" in entry:
            out.append(_check_interpolate(entry, where, out, labels, fail))
            continue
        if not isinstance(entry, dict) or "model" not in entry:
            fail(where, f"each model is a mapping with a 'model' name, got {entry!r}")
        bad = sorted(set(entry) - {"model", "label", "params", "search"})
        if bad:
            fail(f"{where}.{bad[0]}", "unknown field; a model entry has model, label, params and search "
                                      "(or label and interpolate)")
        name, params = entry["model"], entry.get("params") or {}
        try:
            cls = get_class(name)
        except UnknownModelError as e:
            fail(f"{where}.model", str(e))
        except ImportError as e:
            fail(f"{where}.model", f"{name!r} is registered but its module cannot be imported ({e}); "
                                   f"available models: {', '.join(available_models())}")
        if not isinstance(params, dict):
            fail(f"{where}.params", f"must be a mapping of hyper-parameters, got {params!r}")
        allowed = cls.param_names()
        for p in params:
            if p not in allowed:
                fail(f"{where}.params.{p}", f"{name} has no parameter {p!r}"
                     f"{_did_you_mean(p, allowed)}; its parameters are {', '.join(allowed) or 'none'}")
        try:
            cls(**params).check_params()
        except InvalidParameterError as e:
            fail(f"{where}.params", f"{name}: {e}")
        search = _check_search(entry.get("search"), name, cls, params, f"{where}.search", fail)
        label = str(entry.get("label") or _default_label(name, params))
        if label in labels:
            fail(f"{where}.label", f"{label!r} is used twice; give each model a distinct label")
        labels.add(label)
        out.append({"model": name, "label": label, "params": params,
                    **({"search": search} if search else {})})
    return out


SEARCH_KEYS = ("grid", "random", "n_samples", "seed", "each_seed")


def _check_search(search, name, cls, params, where, fail) -> dict | None:
    """A search block as {"mode", "values", "n_samples", "seed"}: every setting is made (and its
    parameters checked by the model) before anything trains."""
    if search is None:
        return None
    if not isinstance(search, dict) or set(search) - set(SEARCH_KEYS):
        bad = sorted(set(search) - set(SEARCH_KEYS)) if isinstance(search, dict) else None
        fail(where if not bad else f"{where}.{bad[0]}",
             "a search is {grid: {param: [values]}} or {random: {param: [values]}, n_samples: N, seed: S}")
    modes = [m for m in ("grid", "random") if m in search]
    if len(modes) != 1:
        fail(where, "give exactly one of grid and random")
    mode, values = modes[0], search[modes[0]]
    if not isinstance(values, dict) or not values:
        fail(f"{where}.{mode}", f"must be a mapping param -> list of values, got {values!r}")
    allowed = cls.param_names()
    for p, v in values.items():
        if p not in allowed:
            fail(f"{where}.{mode}.{p}", f"{name} has no parameter {p!r}{_did_you_mean(p, allowed)}; its "
                                        f"parameters are {', '.join(allowed) or 'none'}")
        if not isinstance(v, list) or not v:
            fail(f"{where}.{mode}.{p}", f"must be a non-empty list of values, got {v!r}")
    n, seed = search.get("n_samples"), search.get("seed", 0)
    if mode == "random" and not (_is_int(n) and n >= 1):
        fail(f"{where}.n_samples", f"a random search needs n_samples, an integer >= 1, got {n!r}")
    if mode == "grid" and n is not None:
        fail(f"{where}.n_samples", "only a random search samples; a grid tries every setting")
    if not _is_int(seed):
        fail(f"{where}.seed", f"must be an integer, got {seed!r}")
    each = search.get("each_seed", False)
    if each not in (True, False):
        fail(f"{where}.each_seed", f"must be true or false, got {each!r}")
    out = {mode: values, **({"n_samples": n} if mode == "random" else {}), "seed": seed, "each_seed": each}
    from .selection import settings

    for setting in settings(params, out):
        try:
            cls(**setting).check_params()
        except InvalidParameterError as e:
            fail(where, f"{name} with {_short(setting, values)}: {e}")
    return out


def _short(setting: dict, values: dict) -> str:
    return ", ".join(f"{k}={setting[k]!r}" for k in values)


def _check_interpolate(entry, where, earlier, labels, fail) -> dict:
    """{label, interpolate: [label | {best_of: [labels]}, ...]}: a linear mixture of earlier rows'
    fitted models (same seed), its weights tuned on valid; best_of takes the row with the lowest
    validation perplexity."""
    bad = sorted(set(entry) - {"label", "interpolate", "model", "params"})
    if entry.get("model", "interpolated") != "interpolated" or entry.get("params"):
        bad = ["model" if entry.get("model", "interpolated") != "interpolated" else "params"]
    if bad:
        fail(f"{where}.{bad[0]}", "unknown field; an interpolation entry has label and interpolate")
    parts = entry["interpolate"]
    known = [e["label"] for e in earlier if "interpolate" not in e]
    if not isinstance(parts, list) or len(parts) < 2:
        fail(f"{where}.interpolate", f"must list at least two components, got {parts!r}")
    checked = []
    for k, part in enumerate(parts):
        best = isinstance(part, dict) and set(part) == {"best_of"}
        options = part["best_of"] if best else part if isinstance(part, list) else [part]
        if not isinstance(options, list) or not options:
            fail(f"{where}.interpolate[{k}]", f"must be a label or {{best_of: [labels]}}, got {part!r}")
        for label in options:
            if label not in known:
                fail(f"{where}.interpolate[{k}]", f"{label!r} is not an earlier model's label; the "
                                                  f"earlier models are {', '.join(known) or 'none'}")
        checked.append(part if isinstance(part, str) else list(options))
    label = str(entry.get("label") or "interpolated")
    if label in labels:
        fail(f"{where}.label", f"{label!r} is used twice; give each model a distinct label")
    labels.add(label)
    return {"model": "interpolated", "label": label, "params": {}, "interpolate": checked}


BUDGET_KEYS = ("seconds", "tokens")


def _check_budget(budget, fail) -> dict | None:
    if budget is None:
        return None
    if not isinstance(budget, dict) or not budget or set(budget) - set(BUDGET_KEYS):
        fail("budget", f"must be null or a mapping with seconds and/or tokens, got {budget!r}")
    for key, v in budget.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            fail(f"budget.{key}", f"must be a positive number, got {v!r}")
    return dict(budget)


def _default_label(name: str, params: dict) -> str:
    return f"{name}-{params['order']}" if "order" in params else name


def model_label(entry) -> str:
    """The label a (raw) model entry gets: its own, else name-order or the name."""
    if isinstance(entry, str):
        return entry
    if not isinstance(entry, dict):
        return str(entry)
    return str(entry.get("label") or _default_label(entry.get("model"), entry.get("params") or {}))


def _check_metrics(metrics, fail) -> dict:
    if isinstance(metrics, list):
        metrics = {m: True for m in metrics}
    if not isinstance(metrics, dict):
        fail("metrics", "must be a list of metric names or a mapping name -> true/false/options")
    out = {}
    for name, value in metrics.items():
        if name == "perplexity":
            continue   # always measured
        if name not in METRIC_DEFAULTS:
            fail(f"metrics.{name}", f"unknown metric{_did_you_mean(name, METRIC_DEFAULTS)}; the metrics are "
                                    f"perplexity, {', '.join(METRIC_DEFAULTS)}")
        if value is False or value is None:
            continue
        options = copy.deepcopy(METRIC_DEFAULTS[name])
        if isinstance(value, dict):
            for key in value:
                if key not in options:
                    fail(f"metrics.{name}.{key}", f"unknown option; the options are {', '.join(options)}")
            options.update(value)
        elif value is not True:
            fail(f"metrics.{name}", f"must be true, false or a mapping of options, got {value!r}")
        for key, v in options.items():
            _check_option(f"metrics.{name}.{key}", key, v, fail)
        out[name] = options
    return out


_OPTION_LOW = {"k": 1, "max_prompts": 1, "extra_tokens": 0, "n_samples": 2, "max_new_tokens": 1}


def _check_option(field, key, value, fail):
    if key in _OPTION_LOW and not (_is_int(value) and value >= _OPTION_LOW[key]):
        fail(field, f"must be an integer >= {_OPTION_LOW[key]}, got {value!r}")
    if key == "seed" and not _is_int(value):
        fail(field, f"must be an integer, got {value!r}")
    if key in ("sample_seeds", "orders") and not (isinstance(value, list) and all(_is_int(x) for x in value)):
        fail(field, f"must be a list of integers, got {value!r}")
    if key == "orders" and (not value or min(value) < 1):
        fail(field, f"must list n-gram orders >= 1, got {value!r}")
    if key == "temperatures" and not (isinstance(value, list) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in value)):
        fail(field, f"must be a list of positive numbers, got {value!r}")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _did_you_mean(word, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
