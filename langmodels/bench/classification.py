"""The classification benchmark: classifiers on a labelled corpus, one protocol, one report.

A spec with `task: classification` (YAML on disk), checked whole before any training::

    task: classification
    name: MR, 10-fold
    corpus: {all: classification/mr/all.tsv}     # or {train: f, dev: f, test: f} (dev optional);
    data_dir: ../shared/data                      #   relative paths: to data_dir, else to the spec
    protocol: {kfold: 10, seed: 0, folds: null}   # k-fold CV (folds: run only the first n), or
                                                  # {split: test} for train/test corpora
    seeds: [0, 1, 2]                              # classifiers with a seed run once per seed
    jobs: 1                                       # fits run at once, in worker processes
    classifiers:
      - {classifier: tfidf-lr}                                  # the TF-IDF + LR baseline
      - {classifier: nb-lr, params: {C: 1.0}}                   # NBLogisticRegression (NBSVM)
      - {classifier: lm, params: {model: kneser-ney, order: 3}} # LMClassifier, any family
      - {classifier: text, label: lstm, params: {encoder: lstm, n_layers: 1}}     # TextClassifier
      - {classifier: text, label: lstm-pre, params: {encoder: lstm, n_layers: 1},
         pretrain: {corpus: [train], params: {epochs: 5}}}      # an LM of the encoder's family first
      - {classifier: text, label: lstm-gen, params: {encoder: lstm, n_layers: 1},
         pretrain: {corpus: [general.txt], lowercase: true, seed: 0, params: {epochs: 3},
                    then: {corpus: [train], params: {epochs: 2}}}}   # general text, then in-domain
      - {classifier: hf, params: {pretrained: path/to/bert}}    # HFSequenceClassifier (transformers)
      - {classifier: vote, members: [lstm, nb-lr]}             # their probabilities averaged
    out: bench-out/mr

An `hf` entry needs the optional `transformers` package: without it the spec check fails with
a message saying so. Its `pretrained` directory is read as given (not relative to data_dir);
where it does not exist the entry is skipped, with the reason logged and in results.md.

A `vote` entry fits nothing: it averages the class probabilities its `members` (labels of
entries above it) recorded for each test text (weighted by `params.weights`, default equal), as
scikit-learn's `VotingClassifier(voting="soft")` would over the same fitted members, seed by seed
(a seedless member's one run joins every seed); its fit seconds are the members' sum.

With a dev split, text and hf classifiers stop early on it (train on train, select on dev, report
test); otherwise on their own held-out fraction of the training texts.

`pretrain.corpus` lists `train` (the fold's own training texts, without labels) and/or text files
(one text a line; `lowercase: true` lower-cases them, as MR and SST-2 are); the language model
gets the classifier's architecture parameters, `pretrain.params` (epochs, lr, ...) and the seed
(`pretrain.seed`, if set, instead: one language model for every seed). `pretrain.then` (corpus,
params, lowercase, min_count) fine-tunes that language model on a second corpus, from its weights
and with its architecture (ULMFiT's general-domain then target-task LM), before the classifier
starts from it. `valid: 0.05` (either stage) holds out that fraction of its texts (seeded) for
early stopping on them (the stage's `patience`); the held-out perplexity of a shared first stage
is saved beside it (`valid_perplexity` in its .json). A first stage that does not read `train`
is the same for every fold: it is fitted once per seed, before the folds (as a task of its own
with `jobs`), saved under out/pretrained/ (named by its settings, seed and the texts of its
files; a later run loads it), and its CPU seconds are recorded as `pretrain_cpu_seconds` beside
the folds' fit seconds.

With `jobs: N` (N > 1) the fits of the (classifier, seed, fold) triples run in N worker processes
(spawned: torch and fork do not mix), each with one BLAS thread; the accuracies are those of
`jobs: 1`, only the parent writes records, and fit seconds are then wall time on a shared machine
(the record keeps `jobs` and the fit's CPU seconds beside them).

Each (classifier, seed) is one record in results.jsonl: the metrics of the predictions of all
folds (or the test split) together from `classification_report`, the accuracy of each fold,
mean and sd, and fit / predict seconds. A finished record with the same spec entry and protocol
is kept on the next run. The reports: results.md / results.csv (`classification_report_files`)
and confusion.png.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._io import to_jsonable
from ..errors import InvalidParameterError, UnknownModelError
from .records import read_records, write_records
from .spec import SpecError, _did_you_mean, _is_int

KINDS = ("tfidf-lr", "nb-lr", "lm", "text", "hf", "vote")
TOP_LEVEL = {"task": "classification", "name": "classification", "corpus": None, "data_dir": None,
             "protocol": None, "seeds": [0], "classifiers": None, "out": "bench-out", "progress": True,
             "jobs": 1}
TFIDF_PARAMS = ("C", "ngram_max", "sublinear_tf", "max_iter")


# --- the spec ---------------------------------------------------------------------------------
def check_classification_spec(raw: Any, source: str = "spec", base: str | os.PathLike | None = None) -> dict:
    """A complete, validated copy of `raw` (corpus paths resolved); SpecError names any bad field.
    `base`: the directory relative corpus paths are read from when `data_dir` is not set."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a spec is a mapping of fields, got {type(raw).__name__}")

    def fail(field, message):
        raise SpecError(f"{source}: {field}: {message}")

    unknown = sorted(set(raw) - set(TOP_LEVEL))
    if unknown:
        fail(unknown[0], f"unknown field{_did_you_mean(unknown[0], TOP_LEVEL)}; a classification spec has "
                         f"{', '.join(TOP_LEVEL)}")
    spec = copy.deepcopy(TOP_LEVEL)
    spec.update(copy.deepcopy(raw))
    if spec["task"] != "classification":
        fail("task", f"must be 'classification' here, got {spec['task']!r}")
    root = Path(spec["data_dir"] if spec["data_dir"] is not None else (base or "."))
    corpus = spec["corpus"]
    if not isinstance(corpus, dict) or not corpus:
        fail("corpus", "must be a mapping {all: FILE} (k-fold) or {train: FILE, test: FILE, dev: FILE}")
    bad = sorted(set(corpus) - {"all", "train", "dev", "test"})
    if bad:
        fail(f"corpus.{bad[0]}", "unknown split; the splits are all, train, dev, test")
    spec["corpus"] = {}
    for split, path in corpus.items():
        full = Path(path) if Path(path).is_absolute() else root / path
        if not full.is_file():
            fail(f"corpus.{split}", f"{full}: no such file (set data_dir, e.g. --data-dir ../shared/data)")
        spec["corpus"][split] = str(full)
    spec["protocol"] = _check_protocol(spec["protocol"], spec["corpus"], fail)
    seeds = spec["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) for s in seeds):
        fail("seeds", f"must be a non-empty list of integers, got {seeds!r}")
    if not _is_int(spec["jobs"]) or spec["jobs"] < 1:
        fail("jobs", f"must be an integer >= 1 (worker processes fitting at once), got {spec['jobs']!r}")
    spec["classifiers"] = _check_classifiers(spec["classifiers"], root, fail)
    if not isinstance(spec["out"], (str, os.PathLike)):
        fail("out", f"must be a directory path, got {spec['out']!r}")
    return spec


def _check_protocol(protocol, corpus, fail) -> dict:
    if "all" in corpus:
        if set(corpus) != {"all"}:
            fail("corpus", "give either all (for k-fold CV) or train/test splits, not both")
        protocol = {"kfold": 10, "seed": 0, "folds": None, **(protocol or {})}
        bad = sorted(set(protocol) - {"kfold", "seed", "folds"})
        if bad:
            fail(f"protocol.{bad[0]}", "unknown setting; k-fold CV takes kfold, seed, folds")
        if not _is_int(protocol["kfold"]) or protocol["kfold"] < 2:
            fail("protocol.kfold", f"must be an integer >= 2, got {protocol['kfold']!r}")
        if not _is_int(protocol["seed"]):
            fail("protocol.seed", f"must be an integer, got {protocol['seed']!r}")
        folds = protocol["folds"]
        if folds is not None and not (_is_int(folds) and 1 <= folds <= protocol["kfold"]):
            fail("protocol.folds", f"must be null or an integer from 1 to kfold, got {folds!r}")
        return protocol
    if "train" not in corpus or "test" not in corpus:
        fail("corpus", f"needs train and test files (dev optional), or all; got {sorted(corpus)}")
    protocol = {"split": "test", **(protocol or {})}
    if set(protocol) != {"split"} or protocol["split"] != "test":
        fail("protocol", f"with train/test files the protocol is {{split: test}}, got {protocol!r}")
    return protocol


def _check_classifiers(entries, root, fail) -> list[dict]:
    if not isinstance(entries, list) or not entries:
        fail("classifiers", "missing or empty; e.g. [{classifier: tfidf-lr}, {classifier: text}]")
    out, labels = [], set()
    for i, entry in enumerate(entries):
        where = f"classifiers[{i}]"
        if isinstance(entry, str):
            entry = {"classifier": entry}
        if not isinstance(entry, dict) or entry.get("classifier") not in KINDS:
            fail(where, f"each entry is a mapping with classifier: one of {', '.join(KINDS)}, got {entry!r}")
        bad = sorted(set(entry) - {"classifier", "label", "params", "pretrain", "members"})
        if bad:
            fail(f"{where}.{bad[0]}", "unknown field; an entry has classifier, label, params, pretrain "
                                      "(members for a vote)")
        entry = {"params": {}, **copy.deepcopy(entry)}
        if not isinstance(entry["params"], dict):
            fail(f"{where}.params", f"must be a mapping, got {entry['params']!r}")
        if entry["classifier"] == "vote" or "members" in entry:
            entry = _check_vote(entry, out, where, fail)
            label = str(entry.get("label") or "vote-" + "+".join(entry["members"]))
            if label in labels:
                fail(f"{where}.label", f"{label!r} is used twice; give each classifier a distinct label")
            labels.add(label)
            out.append({**entry, "label": label})
            continue
        if entry["classifier"] == "hf" and importlib.util.find_spec("transformers") is None:
            fail(where, "classifier: hf needs the optional package transformers (pip install "
                        "'langmodels[hf]'); drop the entry or install it")
        pretrained = entry["params"].get("pretrained")
        if entry["classifier"] == "hf" and isinstance(pretrained, str) and not Path(pretrained).is_dir():
            # Kept in the spec for machines that have one; here it is skipped, saying why.
            entry["skip"] = (f"no local checkpoint at {pretrained!r} (hf reads a directory saved by "
                             "save_pretrained, never the hub)")
        try:
            estimator = make_classifier(entry, seed=0)
            if entry["classifier"] != "tfidf-lr" and "skip" not in entry:
                estimator._check_params()
        except (InvalidParameterError, UnknownModelError, TypeError, ValueError, FileNotFoundError) as e:
            fail(f"{where}.params", str(e))
        if "pretrain" in entry:
            entry["pretrain"] = _check_pretrain(entry, root,
                                                lambda f, m, w=where: fail(f"{w}.pretrain{f}", m))
        label = str(entry.get("label") or _default_label(entry))
        if label in labels:
            fail(f"{where}.label", f"{label!r} is used twice; give each classifier a distinct label")
        labels.add(label)
        out.append({**entry, "label": label})
    return out


def _check_vote(entry, earlier: list[dict], where: str, fail) -> dict:
    """A vote's members: two or more labels of non-vote entries above it; weights one per member."""
    if entry["classifier"] != "vote":
        fail(f"{where}.members", "only a vote entry has members")
    members = entry.get("members")
    known = {e["label"]: e for e in earlier if e["classifier"] != "vote"}
    if not isinstance(members, list) or len(members) < 2:
        fail(f"{where}.members", f"must list two or more classifier labels, got {members!r}")
    for m in members:
        if m not in known:
            fail(f"{where}.members", f"{m!r} is not the label of a (non-vote) classifier above this "
                                     f"entry; those are {sorted(known)}")
    if len(set(members)) != len(members):
        fail(f"{where}.members", f"a member is listed twice: {members!r}")
    bad = sorted(set(entry["params"]) - {"weights"})
    if bad:
        fail(f"{where}.params", f"vote has no parameter {bad[0]!r}; its parameter is weights")
    weights = entry["params"].get("weights", [1.0] * len(members))
    if (not isinstance(weights, list) or len(weights) != len(members)
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights)
            or not sum(weights) > 0):
        fail(f"{where}.params.weights", f"must be {len(members)} non-negative numbers (one per member, "
                                        f"not all 0), got {weights!r}")
    if "pretrain" in entry:
        fail(f"{where}.pretrain", "only a text classifier is pre-trained")
    return {**entry, "params": {"weights": [float(w) for w in weights]},
            "member_entries": [known[m] for m in members]}


def _check_pretrain(entry, root, fail) -> dict:
    pre = entry["pretrain"]
    if entry["classifier"] != "text":
        fail("", "only a text classifier is pre-trained")
    if not isinstance(pre, dict):
        fail("", f"must be a mapping {{corpus: [train, FILE], params: {{...}}}}, got {pre!r}")
    bad = sorted(set(pre) - {"corpus", "params", "lowercase", "min_count", "valid", "seed", "then"})
    if bad:
        fail(f".{bad[0]}", "unknown setting; pretrain takes corpus, params, lowercase, min_count, valid, "
                           "seed, then")
    pre = {"params": {}, "lowercase": False, "min_count": 2, "seed": None, **pre}
    if pre["seed"] is not None and not _is_int(pre["seed"]):
        fail(".seed", f"must be null (the classifier's seed) or an integer, got {pre['seed']!r}")
    _check_stage(pre, entry, root, fail, "")
    if "then" in pre:
        then = pre["then"]
        if not isinstance(then, dict):
            fail(".then", f"must be a mapping {{corpus: [train], params: {{...}}}}, got {then!r}")
        bad = sorted(set(then) - {"corpus", "params", "lowercase", "min_count", "valid"})
        if bad:
            fail(f".then.{bad[0]}", "unknown setting; then takes corpus, params, lowercase, min_count, valid")
        pre["then"] = {"params": {}, "lowercase": False, "min_count": 2, **then}
        _check_stage(pre["then"], entry, root, fail, ".then")
    return pre


def _check_stage(stage: dict, entry: dict, root, fail, where: str) -> None:
    """Check one pre-training stage's corpus (resolved in place) and LM parameters."""
    from ..registry import get_class

    sources = stage.get("corpus")
    if not isinstance(sources, list) or not sources:
        fail(f"{where}.corpus", "must list train and/or text files, e.g. [train, wikitext-2/valid.txt]")
    resolved = []
    for s in sources:
        if s == "train":
            resolved.append("train")
            continue
        full = Path(s) if Path(s).is_absolute() else root / s
        if not full.is_file():
            fail(f"{where}.corpus", f"{full}: no such file")
        resolved.append(str(full))
    stage["corpus"] = resolved
    valid = stage.get("valid", 0)   # no default written in: records of older specs stay the same
    if isinstance(valid, bool) or not isinstance(valid, (int, float)) or not 0 <= valid < 1:
        fail(f"{where}.valid", f"must be a fraction in [0, 1) of the texts held out for early stopping "
                               f"(0: none), got {valid!r}")
    if not isinstance(stage["params"], dict):
        fail(f"{where}.params", f"must be a mapping, got {stage['params']!r}")
    family = _lm_family(entry)
    allowed = get_class(family).param_names()
    for p in stage["params"]:
        if p not in allowed:
            fail(f"{where}.params.{p}", f"{family} has no parameter {p!r}{_did_you_mean(p, allowed)}")


def _default_label(entry) -> str:
    params = entry["params"]
    if entry["classifier"] == "lm":
        return "lm-" + str(params.get("model", "modified-kneser-ney"))
    if entry["classifier"] == "text":
        return "text-" + str(params.get("encoder", "lstm")) + ("-pretrained" if "pretrain" in entry else "")
    return entry["classifier"]


def _lm_family(entry) -> str:
    from ..neural.classifier import PRETRAIN_FAMILIES

    return PRETRAIN_FAMILIES[entry["params"].get("encoder", "lstm")]


# --- the classifiers ------------------------------------------------------------------------------
def make_classifier(entry: dict, seed: int | None, init=None):
    """The estimator of a spec entry, seeded where it has a seed."""
    kind, params = entry["classifier"], dict(entry["params"])
    if kind == "tfidf-lr":
        from ..classify.baseline import tfidf_logistic_regression

        bad = sorted(set(params) - set(TFIDF_PARAMS))
        if bad:
            raise InvalidParameterError(f"tfidf-lr has no parameter {bad[0]!r}; its parameters are "
                                        f"{', '.join(TFIDF_PARAMS)}")
        return tfidf_logistic_regression(**params)
    if kind == "nb-lr":
        from ..classify.nblr import NBLogisticRegression

        allowed = list(NBLogisticRegression().get_params())
        bad = sorted(set(params) - set(allowed))
        if bad:
            raise InvalidParameterError(f"nb-lr has no parameter {bad[0]!r}; its parameters are "
                                        f"{', '.join(allowed)}")
        return NBLogisticRegression(**params)
    if kind == "lm":
        from ..classify.generative import LMClassifier
        from ..registry import get_class

        clf = LMClassifier(**params)
        if seed is not None and "seed" in get_class(clf.model).param_names():
            clf.set_params(seed=seed)
        return clf
    if kind == "hf":
        from ..classify.hf import HFSequenceClassifier

        return HFSequenceClassifier(**{**params, **({} if seed is None else {"seed": seed})})
    from ..classify.neural import TextClassifier

    return TextClassifier(**{**params, **({} if seed is None else {"seed": seed}), "init": init})


def has_seed(entry: dict) -> bool:
    if entry["classifier"] == "vote":
        return any(has_seed(m) for m in entry["member_entries"])
    if entry["classifier"] in ("text", "hf"):
        return True
    if entry["classifier"] == "lm":
        from ..registry import get_class

        return "seed" in get_class(entry["params"].get("model", "modified-kneser-ney")).param_names()
    return False


def pretrain(entry: dict, seed: int, train_texts: list[str], cache: str | os.PathLike | None = None):
    """A language model of the text classifier's family, fitted on the entry's pre-training texts,
    then (`then`) fine-tuned on its second corpus from those weights. The first stage, when it does
    not read the fold's texts, is loaded from `cache` where one was saved there
    (`fit_shared_pretraining`)."""
    from ..base import load

    pre = entry["pretrain"]
    if cache is not None and Path(cache).is_dir():
        model = load(cache)
    else:
        model = _fit_stage(entry, pre, _lm_seed(entry, seed), train_texts)
    if "then" in pre:
        model = _fit_stage(entry, pre["then"], _lm_seed(entry, seed), train_texts, init=model)
    return model


def _fit_stage(entry: dict, stage: dict, seed: int, train_texts: list[str], init=None):
    from ..corpus import Corpus, split_corpus
    from ..registry import make

    texts: list[str] = []
    for source in stage["corpus"]:
        if source == "train":
            texts += train_texts
        else:
            from .._io import read_utf8

            lines = [t for t in read_utf8(source).splitlines() if t.strip()]
            texts += [t.lower() for t in lines] if stage["lowercase"] else lines
    model = make(_lm_family(entry), **_stage_params(entry, stage, seed, init))
    tokenizer = entry["params"].get("tokenizer", "whitespace")
    if stage.get("valid"):   # early stopping on a seeded held-out part (the vocabulary: the rest's)
        corpus, valid, _ = split_corpus(texts, valid=stage["valid"], test=0, seed=seed, tokenizer=tokenizer,
                                        min_count=stage["min_count"])
    else:
        corpus, valid = Corpus.from_texts(texts, tokenizer=tokenizer, min_count=stage["min_count"]), None
    return model.fit(corpus, valid, **({} if init is None else {"init": init}))


def _stage_params(entry: dict, stage: dict, seed: int, init=None) -> dict:
    """The language model's parameters for one stage: the classifier's architecture and runtime
    parameters (the second stage: the first's architecture), the stage's params and the seed."""
    from ..classify.neural import TRAINING

    clf_params = entry["params"]
    runtime = {k: clf_params[k] for k in ("device", "threads", "progress") if k in clf_params}
    arch = {k: v for k, v in clf_params.items()
            if k not in TRAINING and k in _family_params(_lm_family(entry))}
    if init is not None:   # the second stage keeps the first's architecture (dropout, softmax, ...)
        arch = {k: v for k, v in init.get_params().items() if k not in TRAINING}
    return {**arch, **runtime, "seed": seed, **stage["params"]}


def _lm_seed(entry: dict, seed) -> int:
    """The pre-training seed: the spec's fixed `pretrain.seed`, else the classifier's."""
    fixed = entry["pretrain"]["seed"]
    return fixed if fixed is not None else (seed or 0)


def shares_pretraining(entry: dict) -> bool:
    """Whether the entry's first pre-training stage is the same for every fold (reads no `train`)."""
    return "pretrain" in entry and "train" not in entry["pretrain"]["corpus"]


def shared_pretraining_dir(out: str | os.PathLike, entry: dict, seed) -> Path:
    """Where the fold-independent first stage of `entry` for `seed` is saved: named by everything
    it depends on (the language model's family and parameters, the stage's corpus settings, the
    texts of its files), so entries with the same first stage share it."""
    pre = entry["pretrain"]
    lm = {k: v for k, v in _stage_params(entry, pre, _lm_seed(entry, seed)).items() if k != "progress"}
    # (a file gone since the spec was checked fails in the fit, which records the error)
    files = {f: hashlib.sha256(Path(f).read_bytes()).hexdigest() if Path(f).is_file() else None
             for f in pre["corpus"]}
    held = {"valid": pre["valid"]} if pre.get("valid") else {}   # absent when 0: older names stay valid
    key = _fingerprint(_jsonable({"family": _lm_family(entry), "params": lm, "files": files, **held,
                                  **{k: pre[k] for k in ("corpus", "lowercase", "min_count")}}))
    return Path(out) / "pretrained" / f"{_lm_family(entry)}-seed{_lm_seed(entry, seed)}-{key}"


def fit_shared_pretraining(entry: dict, seed, directory: str | os.PathLike) -> float:
    """Fit the fold-independent first stage once and save it to `directory` (kept if already
    there); returns the fit's CPU seconds (also written to pretrain.json beside the model)."""
    directory = Path(directory)
    meta = directory.parent / f"{directory.name}.json"
    if directory.is_dir() and meta.is_file():
        return json.loads(meta.read_text(encoding="utf-8"))["fit_cpu_seconds"]
    c0 = time.process_time()
    model = _fit_stage(entry, entry["pretrain"], _lm_seed(entry, seed), [])
    cpu = time.process_time() - c0
    model.save(directory)
    from .._io import write_json_atomic

    held = [r["valid_loss"] for r in model.history_ if r.get("valid_loss") is not None]
    write_json_atomic(meta, {"fit_cpu_seconds": cpu, "history": model.history_,
                             **({"valid_perplexity": float(np.exp(min(held)))} if held else {})})
    return cpu


def _family_params(family: str) -> list[str]:
    from ..registry import get_class

    return get_class(family).param_names()


# --- running ----------------------------------------------------------------------------------------
def load_labelled(spec: dict) -> dict:
    """{split: (texts as an object array, labels)} for the spec's corpus files."""
    from ..classify.data import read_labelled

    out = {}
    for split, path in spec["corpus"].items():
        texts, labels = read_labelled(path)
        out[split] = (np.array(texts, dtype=object), np.array(labels))
    return out


def folds(spec: dict, data: dict) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, train texts, train labels, test texts, test labels) for each evaluation of the protocol."""
    if "all" in data:
        from sklearn.model_selection import StratifiedKFold

        X, y = data["all"]
        p = spec["protocol"]
        splits = StratifiedKFold(p["kfold"], shuffle=True, random_state=p["seed"]).split(X, y)
        out = [(f"fold{k}", X[tr], y[tr], X[te], y[te]) for k, (tr, te) in enumerate(splits)]
        return out[:p["folds"]] if p["folds"] else out
    (X, y), (Xt, yt) = data["train"], data["test"]
    out = [("test", X, y, Xt, yt)]
    if "dev" in data:
        out.append(("dev", X, y, *data["dev"]))
    return out


def run_classification(spec: dict, *, resume: bool = True, log=None, keep_going: bool = True,
                       only=None) -> list[dict]:
    """Run a checked classification spec; returns the records the reports show (spec order).

    Parameters
    ----------
    spec : dict
        A spec from `check_classification_spec`; its `jobs` fits run at once.
    resume : bool
        Keep a finished record of the same entry, protocol and data instead of refitting it.
    log : callable or None
        Called with each progress line (default: print to stderr).
    keep_going : bool
        Record a failing classifier and go on with the others (else raise its error).
    only : collection of str or None
        Run only the classifiers with these labels (the others' records are kept as they are;
        votes, which fit nothing, are always recomputed from their members' records).
    """
    from .classification_tables import write_classification_reports

    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    out = Path(spec["out"])
    data = load_labelled(spec)
    data_id = _fingerprint({k: (list(v[0]), list(v[1])) for k, v in data.items()})
    evaluations = folds(spec, data)
    store = {(r["label"], r.get("seed")): r for r in read_records(out)}
    runs = [(e, s) for e in spec["classifiers"] for s in (spec["seeds"] if has_seed(e) else [None])]
    # votes fit nothing: recomputed on every run (even outside `only`), as their members may be new
    votes = [(f"[vote] {e['label']} seed {s}", e, s) for e, s in runs if e["classifier"] == "vote"]
    todo = [(e, s) for e, s in runs if (only is None or e["label"] in only) and e["classifier"] != "vote"]
    pending = []
    for i, (entry, seed) in enumerate(todo, 1):
        key, tag = (entry["label"], seed), f"[{i}/{len(todo)}] {entry['label']} seed {seed}"
        if resume and _same(store.get(key), entry, spec, data_id):
            log(f"{tag}: done earlier, kept")
        elif "skip" in entry:
            store[key] = {"kind": "skipped", "label": entry["label"], "seed": seed, "error": entry["skip"]}
            log(f"{tag}: SKIPPED: {entry['skip']}")
        else:
            pending.append((tag, entry, seed))
    if pending:
        write_records(out, list(store.values()))   # the skipped ones, before hours of fitting

    # Fold-independent pre-training: fitted once per (entry, seed), saved under out/pretrained/,
    # and loaded by every fold's fit (and by later runs).
    shared = {(e["label"], s): shared_pretraining_dir(out, e, s) for _, e, s in pending
              if shares_pretraining(e)}
    pretrain_cpu: dict = {}

    def finished(tag, entry, seed, result):
        """Called in the parent only: the one writer of the store."""
        key = (entry["label"], seed)
        if isinstance(result, BaseException):
            if not keep_going:
                raise result
            store[key] = {"kind": "failed", "label": entry["label"], "seed": seed,
                          "error": f"{type(result).__name__}: {result}"}
            log(f"{tag}: FAILED ({type(result).__name__}: {result})")
        else:
            store[key] = r = _record(entry, seed, result, spec, data_id, pretrain_cpu.get(key),
                                     shared.get(key))
            log(f"{tag}: accuracy {100 * r['accuracy_mean']:.2f} (sd {100 * r['accuracy_sd']:.2f}), "
                f"fit {r['fit_seconds']:.1f}s")
        write_records(out, list(store.values()))

    if spec["jobs"] > 1 and pending:
        tasks = [(tag, entry, seed, group) for tag, entry, seed in pending
                 for group in _task_groups(entry, evaluations)]
        _run_parallel(tasks, spec["jobs"], finished, log, shared, pretrain_cpu)
    for tag, entry, seed in pending if spec["jobs"] == 1 else []:
        log(f"{tag}: {len(evaluations)} evaluation(s) ...")
        cache = shared.get((entry["label"], seed))
        try:
            if cache is not None:
                log(f"{tag}: pre-training shared by every fold -> {cache}")
                pretrain_cpu[entry["label"], seed] = fit_shared_pretraining(entry, seed, cache)
            results = fit_evaluations(entry, seed, evaluations, cache)
        except Exception as e:   # one failing classifier must not cost the others their results
            finished(tag, entry, seed, e)
        else:
            _log_folds(log, results, "")
            finished(tag, entry, seed, results)
    for tag, entry, seed in votes:
        try:
            results = vote_evaluations(entry, seed, evaluations, store, spec, data_id)
        except ValueError as e:
            finished(tag, entry, seed, e)
        else:
            finished(tag, entry, seed, results)
    records = [store[e["label"], s] for e, s in runs
               if store.get((e["label"], s), {}).get("kind") in ("failed", "skipped")
               or _same(store.get((e["label"], s)), e, spec, data_id)]
    for r in records:
        r.setdefault("jobs", 1)   # records written before jobs existed ran one fit at a time
    write_records(out, list(store.values()))
    write_classification_reports(records, out, spec)
    return records


def _task_groups(entry: dict, evaluations: list) -> list[list]:
    """The evaluations fitted together: one fold each, except where fits share work (a dev split
    scored by the test split's classifier)."""
    if any(name == "dev" for name, *_ in evaluations):
        return [evaluations]
    return [[ev] for ev in evaluations]


def _log_folds(log, results: list[dict], prefix: str) -> None:
    for r in results:
        if r["name"] != "dev":
            log(f"    {prefix}{r['name']}: accuracy {100 * r['accuracy']:.2f}, fit {r['fit_seconds']:.1f}s "
                f"({r['fit_cpu_seconds']:.1f}s CPU)")


def _run_parallel(tasks, jobs: int, finished, log, shared: dict, pretrain_cpu: dict) -> None:
    """The tasks in `jobs` spawned worker processes; each (classifier, seed) is handed to
    `finished` once all its tasks are back, or as soon as one of them fails. A (classifier, seed)
    in `shared` first has its shared pre-training fitted (a task of its own, started first); its
    fold tasks are submitted when that is saved, its CPU seconds going to `pretrain_cpu`."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from .jobs import Pool

    left_of: dict = {}        # (label, seed) -> tasks not back yet
    for _, e, s, _ in tasks:
        left_of[e["label"], s] = left_of.get((e["label"], s), 0) + 1
    results: dict = {key: [] for key in left_of}
    log(f"{len(tasks)} fits of {len(left_of)} classifier runs in {jobs} worker processes ...")
    pool = Pool(jobs, _one_blas_thread)
    try:
        futures, blocked = {}, {}    # blocked: shared directory -> the tasks waiting for it
        for tag, e, s, group in tasks:
            if (e["label"], s) in shared:
                directory = shared[e["label"], s]
                if directory not in blocked:
                    blocked[directory] = []
                    futures[pool.submit(fit_shared_pretraining, e, s, directory)] = (tag, e, s, None)
                blocked[directory].append((tag, e, s, group))
        for tag, e, s, group in tasks:
            if (e["label"], s) not in shared:
                futures[pool.submit(fit_evaluations, e, s, group)] = (tag, e, s, group)
        left = set(futures)
        while left:
            done, left = wait(left, return_when=FIRST_COMPLETED)
            for f in done:
                tag, entry, seed, group = futures[f]
                key = (entry["label"], seed)
                if group is None:    # a shared pre-training: its waiting tasks go, or fail with it
                    if f.exception() is None:
                        log(f"    shared pre-training {shared[key].name}: {f.result():.1f}s CPU")
                    for t in blocked.pop(shared[key]):
                        t_key = (t[1]["label"], t[2])
                        if t_key not in results:             # its classifier has failed already
                            continue
                        if f.exception() is not None:
                            del results[t_key]
                            finished(t[0], t[1], t[2], f.exception())
                            continue
                        pretrain_cpu[t_key] = f.result()
                        g = pool.submit(fit_evaluations, *t[1:], shared[t_key])
                        futures[g] = t
                        left.add(g)
                    continue
                if key not in results or f.cancelled():    # its classifier already failed
                    continue
                if f.exception() is not None:
                    for other in left:    # the failed classifier's other folds are of no use now
                        if futures[other][1:3] == (entry, seed):
                            other.cancel()
                    del results[key]
                    finished(tag, entry, seed, f.exception())
                    continue
                _log_folds(log, f.result(), f"{entry['label']} seed {seed} ")
                results[key] += f.result()
                left_of[key] -= 1
                if left_of[key] == 0:
                    finished(tag, entry, seed, sorted(results.pop(key), key=lambda r: r["index"]))
    except BaseException:
        # Ctrl-C, or a failure with keep_going=False: stop the workers. The store on disk holds
        # only whole records (each write is a rename).
        pool.stop()
        raise
    pool.close()


def _one_blas_thread() -> None:
    """In each worker (which `Pool` already keeps from Ctrl-C): one BLAS thread per process (the
    torch models set their own `threads`)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def fit_evaluations(entry: dict, seed, evaluations: list, cache=None) -> list[dict]:
    """Fit and score one (classifier, seed) on the given evaluations of the protocol: for each,
    its name, index, accuracy, true and predicted labels, fit / predict seconds and fit CPU
    seconds (a dev evaluation is scored by the classifier fitted for the test split). `cache`:
    the directory of the entry's shared pre-training (`fit_shared_pretraining`), if any."""
    out: list[dict] = []
    models: dict = {}
    clf = None
    dev = next(((Xt, yt) for name, _, _, Xt, yt in evaluations if name == "dev"), None)
    for name, X, y, Xt, yt in evaluations:
        t0, c0 = time.perf_counter(), time.process_time()
        if name != "dev" or clf is None:
            init = None
            if "pretrain" in entry:
                # Pre-trained once per training set (each fold's own when it reads `train`).
                k = name if _reads_train(entry["pretrain"]) else "all"
                if k not in models:
                    models[k] = pretrain(entry, seed, list(X), cache)
                init = models[k]
            clf = make_classifier(entry, seed, init)
            if entry["classifier"] in ("text", "hf") and dev is not None and name != "dev":
                clf.fit(list(X), y, X_valid=list(dev[0]), y_valid=dev[1])   # select on dev
            else:
                clf.fit(list(X), y)
        t1, c1 = time.perf_counter(), time.process_time()
        proba = clf.predict_proba(list(Xt))   # one scoring pass; votes read the probabilities too
        t2 = time.perf_counter()
        out.append(_evaluation(name, yt, np.asarray(clf.classes_), proba, fit_seconds=t1 - t0,
                               fit_cpu_seconds=c1 - c0, predict_seconds=t2 - t1))
    return out


def _evaluation(name: str, yt, classes: np.ndarray, proba: np.ndarray, **cost) -> dict:
    """One evaluation's result from class probabilities: the prediction is their argmax (what every
    classifier's predict is), with the accuracy, labels, costs and the probabilities themselves."""
    pred = classes[np.argmax(proba, axis=1)]
    return {"name": name, "index": _fold_index(name), "accuracy": float(np.mean(pred == yt)),
            "y_true": list(yt), "y_pred": list(pred), **cost, "classes": list(classes),
            "proba": np.round(proba, 6).tolist()}


def vote_evaluations(entry: dict, seed, evaluations: list, store: dict, spec: dict,
                     data_id: str) -> list[dict]:
    """The results of a vote, in `fit_evaluations`' form, from its members' records for `seed`:
    on each evaluation, p(c | x) = sum_m w_m p_m(c | x) / sum_m w_m, predicted class its argmax."""
    members = []
    for m in entry["member_entries"]:
        r = store.get((m["label"], seed if has_seed(m) else None))
        if not _same(r, m, spec, data_id):
            raise ValueError(f"member {m['label']!r} has no finished record for this spec and data "
                             f"(seed {seed}); run it first")
        if "proba" not in r:
            raise ValueError(f"member {m['label']!r} was recorded without class probabilities (before "
                             f"votes existed); run it again (--models {m['label']} --fresh)")
        members.append(r)
    classes = members[0]["classes"]
    if any(r["classes"] != classes for r in members):
        raise ValueError(f"the members' classes differ: {[r['classes'] for r in members]}")
    w = np.asarray(entry["params"]["weights"]) / sum(entry["params"]["weights"])
    out = []
    for name, _, _, _, yt in evaluations:
        if not all(name in r["proba"] for r in members):
            continue
        proba = sum(wk * np.asarray(r["proba"][name]) for wk, r in zip(w, members))
        # the members' fit time, spread over the scored evaluations (a dev split is not scored)
        share = 1 / len([n for n in members[0]["proba"] if n != "dev"])
        cost = {k: 0.0 if name == "dev" else share * sum(r[k] for r in members)
                for k in ("fit_seconds", "fit_cpu_seconds", "predict_seconds")}
        out.append(_evaluation(name, yt, np.asarray(classes, dtype=object), proba, **cost))
    return out


def _reads_train(pre: dict) -> bool:
    return "train" in pre["corpus"] or "train" in pre.get("then", {}).get("corpus", [])


def _fold_index(name: str) -> int:
    return int(name[4:]) if name.startswith("fold") else {"test": 0, "dev": 1}[name]


def _record(entry: dict, seed, results: list[dict], spec: dict, data_id: str,
            pretrain_cpu: float | None = None, pretrain_dir: Path | None = None) -> dict:
    """The record of one (classifier, seed) from its evaluations' results, in protocol order;
    `pretrain_cpu`: CPU seconds of its shared pre-training (not in the folds' fit seconds), saved
    in `pretrain_dir`."""
    from ..classify.report import classification_report

    scored = [r for r in results if r["name"] != "dev"]   # dev is reported beside test, never pooled
    dev = [r["accuracy"] for r in results if r["name"] == "dev"]
    extra = {"dev_accuracy": dev[0]} if dev else {}
    if pretrain_cpu is not None:
        extra.update(pretrain_cpu_seconds=pretrain_cpu, pretrain_model=Path(pretrain_dir).name)
    per_fold = [r["accuracy"] for r in scored]
    report = classification_report([t for r in scored for t in r["y_true"]],
                                   [p for r in scored for p in r["y_pred"]])
    return {"kind": "classifier", "label": entry["label"], "classifier": entry["classifier"], "seed": seed,
            "entry": _jsonable(entry), "protocol": spec["protocol"], "data": data_id,
            "accuracy_mean": float(np.mean(per_fold)), "accuracy_sd": float(np.std(per_fold)),
            "fold_accuracy": per_fold, "metrics": report,
            "fit_seconds": sum(r["fit_seconds"] for r in scored),
            "fit_cpu_seconds": sum(r["fit_cpu_seconds"] for r in scored),
            "predict_seconds": sum(r["predict_seconds"] for r in scored), "jobs": spec["jobs"],
            "load": list(os.getloadavg()), **extra,
            "classes": _jsonable(results[0]["classes"]), "proba": {r["name"]: r["proba"] for r in results}}


def _same(record, entry, spec, data_id) -> bool:
    return bool(record) and record.get("kind") == "classifier" and record.get("entry") == _jsonable(entry) \
        and record.get("protocol") == spec["protocol"] and record.get("data") == data_id


def _jsonable(obj):
    return json.loads(json.dumps(to_jsonable(obj)))


def _fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]

