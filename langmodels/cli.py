"""The `langmodels` command: bench, train, evaluate, generate, datasets, models.

Usage errors (a bad flag, an unknown model or dataset, an invalid parameter or spec field) print
what is wrong and how to fix it, and exit with status 2.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import shlex
import shutil
import sys
import time
import warnings
from pathlib import Path

from .errors import DownloadError, LangModelsError, PartialFitWarning

USAGE_EXIT = 2
INTERRUPTED_EXIT = 130  # 128 + SIGINT, as a shell reports Ctrl-C
TRAINING_FILE = "training.json"  # beside a saved model: the data and tokenizer it was trained on


class UsageError(LangModelsError, ValueError):
    """A command line that cannot be run as given."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `langmodels` console script (and `python -m langmodels`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)   # to print the command that resumes
    if not getattr(args, "func", None):
        parser.print_help()
        return USAGE_EXIT
    try:
        return args.func(args) or 0
    except DownloadError as e:
        print(f"langmodels {args.command}: error: {e}", file=sys.stderr)
        return 1
    except (LangModelsError, FileNotFoundError) as e:
        print(f"langmodels {args.command}: error: {e}", file=sys.stderr)
        return USAGE_EXIT


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="langmodels", description="Classic and neural language models "
                                "side by side: one vocabulary, one scorer. Run `langmodels bench` to "
                                "compare every family on the built-in synthetic corpus.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    b = sub.add_parser("bench", help="train and compare models as a spec says (default: every family "
                       "on the synthetic corpus)", description="Train every model of SPEC on the same data "
                       "and vocabulary, score them alike, write results.jsonl/.md/.csv, generations.jsonl "
                       "and plots to --out, and print the table. Without SPEC: the built-in default spec.")
    b.add_argument("spec", nargs="?", help="a YAML spec file (see `langmodels bench --print-spec`)")
    b.add_argument("--corpus", help="replace the spec's corpus: a dataset name or a directory")
    b.add_argument("--data-dir", help="where named datasets are found or cached (e.g. ../shared/data)")
    b.add_argument("--out", help="output directory (default: the spec's `out`)")
    b.add_argument("--models", help="comma-separated labels or model names to run; the spec's other "
                   "models keep their earlier results")
    b.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2")
    b.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a spec field (YAML value), e.g. --set corpus_params.n_train=500")
    b.add_argument("--jobs", type=int, metavar="N", help="fit N runs at once, each in its own process "
                   "(default: the spec's `jobs`, 1); timings then share the machine's cores")
    b.add_argument("--fresh", action="store_true", help="re-run models already finished in --out")
    b.add_argument("--quiet", action="store_true", help="no progress lines")
    b.add_argument("--print-spec", action="store_true", help="print the resolved spec as YAML and stop")
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="fit one model and save it", description="Fit MODEL on the training "
                       "split of --corpus and save it to --out. Works under `torchrun -m langmodels train` "
                       "(only rank 0 saves and prints).")
    t.add_argument("model", help="a registered model name (see `langmodels models`)")
    _add_data_args(t)
    t.add_argument("--split", dest="fractions", metavar="TRAIN,VALID,TEST",
                   help="--corpus is one text file: split its lines at random, e.g. 0.8,0.1,0.1 "
                   "(the vocabulary comes from the train part only)")
    t.add_argument("--seed", dest="split_seed", type=int, default=0,
                   help="the shuffle of --split (default 0; a model's own seed: --param seed=N)")
    t.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a hyper-parameter (YAML value), e.g. --param order=3")
    t.add_argument("--out", required=True, help="directory to save the fitted model into")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run from the model's "
                   "checkpoint_dir (neural models; default OUT.checkpoint, removed after success)")
    t.add_argument("--init", metavar="MODEL_DIR", help="fine-tune: start from this saved model "
                   "(neural and HMM models), its vocabulary mapped onto this corpus's")
    t.add_argument("--memory", metavar="SIZE", help="working-memory budget of fitting, e.g. 4G (n-gram "
                   "models, as lmplz's -S; default 1G): counting runs in shards and spills to disk")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="score a saved model on a split or a file",
                       description="Perplexity, bits per token/char, top-1/5 accuracy and MRR of a saved "
                       "model on --file, or on --split of --corpus (default: the corpus it was trained on).")
    e.add_argument("model_dir", help="a directory written by `langmodels train` or LanguageModel.save")
    _add_data_args(e, corpus_required=False)
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.add_argument("--file", help="a UTF-8 text file, one sequence a line, instead of a corpus split")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(func=cmd_evaluate)

    g = sub.add_parser("generate", help="continue prompts with a saved model",
                       description="Generate continuations (Hugging Face parameter names). "
                       "Greedy by default.")
    g.add_argument("model_dir")
    g.add_argument("--prompt", action="append", default=None,
                   help="text after <s> (repeatable; default: one empty prompt)")
    g.add_argument("--max-new-tokens", type=int, default=20)
    g.add_argument("--min-new-tokens", type=int, default=0,
                   help="no </s> before this many tokens (greedy decoding often ends at once otherwise)")
    g.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--num-beams", type=int, default=1)
    g.add_argument("--repetition-penalty", type=float, default=1.0)
    g.add_argument("--num-return-sequences", type=int, default=1)
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--tokenizer", help="default: the one the model was trained with")
    g.add_argument("--json", action="store_true", help="print tokens, log-probabilities and stop reasons")
    g.set_defaults(func=cmd_generate)

    d = sub.add_parser("datasets", help="list or download corpora", description="List the corpora "
                       "`--corpus` accepts, or download one into the cache.")
    d.add_argument("action", nargs="?", default="list", choices=["list", "download"])
    d.add_argument("name", nargs="?", help="the corpus to download")
    d.add_argument("--data-dir", help="cache directory (default: ~/.cache/langmodels or $LANGMODELS_HOME)")
    d.set_defaults(func=cmd_datasets)

    m = sub.add_parser("models", help="list models with their parameters and defaults",
                       description="List every registered model, its parameters and their defaults.")
    m.add_argument("names", nargs="*", help="show these models only")
    m.set_defaults(func=cmd_models)
    return p


def _add_data_args(p, corpus_required: bool = True):
    p.add_argument("--corpus", required=corpus_required, help="a dataset name, a directory of split files "
                   "(train.txt, valid.txt, test.txt) or, with `train --split`, one text file")
    p.add_argument("--data-dir", help="where named datasets are found or cached")
    p.add_argument("--tokenizer", help="whitespace, treebank or char (default: the corpus's own)")
    p.add_argument("--min-count", type=int, default=None,
                   help="vocabulary: drop training tokens seen fewer times (default 1)")
    p.add_argument("--max-size", type=int, default=None, help="vocabulary: keep at most this many tokens")


# --- bench ----------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    import yaml

    from .bench.harness import run_benchmark
    from .bench.report import markdown_table
    from .bench.spec import DEFAULT_SPEC, apply_overrides, check_spec, load_spec, read_spec_file

    if args.spec:
        first = read_spec_file(args.spec)
        if isinstance(first, dict) and first.get("task") == "classification":
            return _bench_classification(args, first)
        raw = load_spec(args.spec)
    else:
        raw = DEFAULT_SPEC
    raw = dict(raw)
    if args.corpus:
        raw["corpus"] = args.corpus
        if args.corpus != "synthetic":
            raw.pop("corpus_params", None)
    if args.data_dir:
        raw["data_dir"] = args.data_dir
    if args.out:
        raw["out"] = args.out
    if args.seeds:
        raw["seeds"] = _int_list("--seeds", args.seeds)
    if args.quiet:
        raw["progress"] = False
    if args.jobs is not None:
        raw["jobs"] = args.jobs
    raw = apply_overrides(raw, args.set)
    # --models runs a part of the spec; the whole spec still decides what the reports show.
    only = _select_models(raw.get("models") or [], args.models) if args.models else None
    spec = check_spec(raw, source=args.spec or "default spec")
    if args.print_spec:
        print(yaml.safe_dump(spec, sort_keys=False), end="")
        return 0
    log = (lambda line: None) if args.quiet else None
    try:
        records = run_benchmark(spec, resume=not args.fresh, log=log, only=only)
    except KeyboardInterrupt:
        print(f"langmodels bench: interrupted; the runs that finished are in {spec['out']}/results.jsonl, "
              "and the same command resumes after them", file=sys.stderr)
        return INTERRUPTED_EXIT
    print(markdown_table(records), end="")
    print(f"\nFull results, notes and plots in {spec['out']}/ (results.md, results.csv, results.jsonl, "
          "generations.jsonl, *.png)")
    failed = [r for r in records if r.get("kind") == "failed"]
    for r in failed:
        print(f"langmodels bench: {r['label']} (seed {r['seed']}) failed: {r['error']}", file=sys.stderr)
    return 1 if failed else 0


def _bench_classification(args, raw: dict) -> int:
    """`langmodels bench` with a `task: classification` spec (see langmodels.bench.classification)."""
    from pathlib import Path

    import yaml

    from .bench.classification import check_classification_spec, run_classification
    from .bench.classification_tables import markdown
    from .bench.spec import apply_overrides

    raw = dict(raw)
    if args.corpus:
        raise UsageError("--corpus: a classification spec names its labelled files in corpus")
    if args.jobs is not None:
        raw["jobs"] = args.jobs
    for field, value in (("data_dir", args.data_dir), ("out", args.out)):
        if value:
            raw[field] = value
    if args.seeds:
        raw["seeds"] = _int_list("--seeds", args.seeds)
    if args.quiet:
        raw["progress"] = False
    raw = apply_overrides(raw, args.set)
    spec = check_classification_spec(raw, source=args.spec, base=Path(args.spec).parent)
    if args.print_spec:
        print(yaml.safe_dump(spec, sort_keys=False), end="")
        return 0
    only = None
    if args.models:
        wanted = {x.strip() for x in args.models.split(",") if x.strip()}
        only = {e["label"] for e in spec["classifiers"] if e["label"] in wanted or e["classifier"] in wanted}
        missing = sorted(w for w in wanted if not any(w in (e["label"], e["classifier"])
                                                      for e in spec["classifiers"]))
        if missing:
            raise UsageError(f"--models: {', '.join(missing)} not in the spec; its classifiers are "
                             f"{', '.join(e['label'] for e in spec['classifiers'])}")
    log = (lambda line: None) if args.quiet else None
    records = run_classification(spec, resume=not args.fresh, log=log, only=only)
    print(markdown(records, spec).split("\n## ")[0], end="")
    print(f"\nFull results in {spec['out']}/ (results.md, results.csv, results.jsonl, confusion.png)")
    failed = [r for r in records if r.get("kind") == "failed"]
    for r in failed:
        print(f"langmodels bench: {r['label']} (seed {r['seed']}) failed: {r['error']}", file=sys.stderr)
    return 1 if failed else 0


def _select_models(models: list, wanted: str) -> list[str]:
    """The labels of the spec's models that `wanted` (labels or model names) names."""
    from .bench.spec import model_label

    keep = [x.strip() for x in wanted.split(",") if x.strip()]
    names = [(model_label(m), m.get("model", "interpolated") if isinstance(m, dict) else m) for m in models]
    missing = [k for k in keep if not any(k in pair for pair in names)]
    if missing:
        raise UsageError(f"--models: {', '.join(missing)} not in the spec; its models are "
                         f"{', '.join(label for label, _ in names)}")
    return [label for label, name in names if {label, name} & set(keep)]


def _int_list(flag: str, text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{flag}: expected comma-separated integers such as 0,1,2, got {text!r}") from None


# --- train / evaluate / generate ----------------------------------------------------------------
def _parse_params(items: list[str]) -> dict:
    import yaml

    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE, e.g. --param order=3")
        params[name.strip()] = yaml.safe_load(value)
    return params


def _load_dataset(args, splits=None, fractions=None, seed=0):
    from . import datasets

    return datasets.load(args.corpus, splits=splits, tokenizer=args.tokenizer, min_count=args.min_count or 1,
                         max_size=args.max_size, data_dir=args.data_dir, fractions=fractions, seed=seed)


def _split_fractions(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        fractions = [float(x) for x in text.split(",")]
    except ValueError:
        fractions = []
    if len(fractions) != 3:
        raise UsageError(f"--split: expected three fractions TRAIN,VALID,TEST such as 0.8,0.1,0.1, "
                         f"got {text!r}")
    return fractions


def _present_splits(corpus: str) -> tuple[str, ...] | None:
    """For a directory with train.txt: the splits it has (valid and test are optional to train)."""
    from .datasets.catalog import SPLITS, find_split_file

    path = Path(corpus)
    if not path.is_dir() or find_split_file(path, "train") is None:
        return None   # a dataset name, a file, or no train split: datasets.load says what is wrong
    return tuple(s for s in SPLITS if find_split_file(path, s) is not None)


def cmd_train(args) -> int:
    from ._io import write_json_atomic
    from .registry import get_class, make

    params = _parse_params(args.param)
    cls = get_class(args.model)
    unknown = [p for p in params if p not in cls.param_names()]
    if unknown:
        raise UsageError(f"--param {unknown[0]}: {args.model} has no such parameter; its parameters are "
                         f"{', '.join(cls.param_names())} (see `langmodels models {args.model}`)")
    # Neural models checkpoint beside --out unless told where, so every interrupted run can resume.
    default_ckpt = "checkpoint_dir" in cls.param_names() and params.get("checkpoint_dir") is None
    if default_ckpt:
        params["checkpoint_dir"] = str(Path(args.out)) + ".checkpoint"
    model = make(args.model, **params)
    model.check_params()   # fail before loading data
    fit_options = _fit_options(model, args)
    fractions = _split_fractions(args.fractions)
    ds = _load_dataset(args, splits=_present_splits(args.corpus), fractions=fractions, seed=args.split_seed)
    rank = int(os.environ.get("RANK", "0"))   # under torchrun only rank 0 saves and prints
    _log_to_stderr()
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PartialFitWarning)   # the line below says it all
            model.fit(ds.train, ds.valid, **fit_options)
    except KeyboardInterrupt:
        if rank == 0:
            print(_interrupted_line(args, getattr(model, "checkpoint_dir", None)), file=sys.stderr)
        return INTERRUPTED_EXIT
    seconds = time.perf_counter() - t0
    if rank != 0:
        return 0
    if default_ckpt:
        model.set_params(checkpoint_dir=None)   # the saved model does not point at a removed folder
    out = model.save(args.out)
    if default_ckpt:
        shutil.rmtree(params["checkpoint_dir"], ignore_errors=True)
    write_json_atomic(out / TRAINING_FILE, {
        "corpus": args.corpus, "data_dir": args.data_dir, "tokenizer": ds.train.tokenizer,
        "min_count": args.min_count, "max_size": args.max_size, "fractions": fractions,
        "split_seed": args.split_seed, "fit_seconds": seconds})
    msg = f"trained {args.model} on {ds.train.n_tokens} tokens in {seconds:.1f}s; saved to {out}"
    if ds.valid is not None:
        from .masked import MaskedLanguageModel
        from .metrics import perplexity

        if isinstance(model, MaskedLanguageModel):
            msg += f" (valid pseudo-perplexity {model.pseudo_perplexity(ds.valid):.3f})"
        else:
            msg += f" (valid perplexity {perplexity(model, ds.valid):.3f})"
    print(msg)
    return 0


def _interrupted_line(args, checkpoint_dir) -> str:
    """What an interrupted `train` prints: where its checkpoint is and the command that resumes."""
    if not checkpoint_dir or not (Path(checkpoint_dir) / "state.json").exists():
        return f"langmodels train: interrupted; {args.model} has no checkpoint to resume from"
    argv = args.argv if "--resume" in args.argv else [*args.argv, "--resume"]
    if not any(a.startswith("checkpoint_dir=") for a in argv):
        argv = [*argv, "--param", f"checkpoint_dir={checkpoint_dir}"]   # the default: name it anyway
    return (f"langmodels train: interrupted; checkpoint in {checkpoint_dir}; resume with: "
            f"langmodels {shlex.join(argv)}")


def _log_to_stderr() -> None:
    """Show the training progress lines (logger `langmodels`, INFO) on stderr, terminal or not."""
    logger = logging.getLogger("langmodels")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (main() may run many times in one process)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


def _fit_options(model, args) -> dict:
    """--resume, --init and --memory as `fit` keywords, refused up front for a family that has no
    such option."""
    options = {}
    if args.memory:
        from ._checks import parse_memory
        from .errors import InvalidParameterError

        try:
            parse_memory(args.memory)
        except InvalidParameterError as e:
            raise UsageError(f"--memory: {e}") from None
        options["memory"] = args.memory
    if args.resume:
        options["resume"] = True
    if args.init:
        if not Path(args.init).is_dir():
            raise UsageError(f"--init {args.init}: no such model directory")
        options["init"] = args.init
    for name in options:
        if name not in model.fit_options:
            raise UsageError(f"--{name}: {args.model} models do not support it "
                             "(neural models resume; neural and HMM models fine-tune with --init; "
                             "n-gram models take --memory)")
    return options


def _training_info(model_dir) -> dict:
    path = Path(model_dir) / TRAINING_FILE
    return json.loads(path.read_text("utf-8")) if path.exists() else {}


def cmd_evaluate(args) -> int:
    import numpy as np

    from .base import load
    from .corpus import Corpus
    from .masked import MaskedLanguageModel
    from .metrics import evaluate, ranking_metrics

    model = load(args.model_dir)
    info = _training_info(args.model_dir)
    # The model's own tokenizer unless told otherwise (training.json names it for older models).
    tokenizer = args.tokenizer or info.get("tokenizer") or model.tokenizer_name_
    if args.file:
        corpus = Corpus.from_file(args.file, vocab=model.vocab_, tokenizer=tokenizer)
    else:
        args.corpus = args.corpus or info.get("corpus")
        args.data_dir = args.data_dir or info.get("data_dir")
        # The same vocabulary settings rebuild the model's own vocabulary from the train split.
        args.min_count = args.min_count or info.get("min_count")
        args.max_size = args.max_size or info.get("max_size")
        if not args.corpus:
            raise UsageError("give --file FILE or --corpus NAME (the model directory does not say which "
                             "corpus it was trained on)")
        args.tokenizer = tokenizer
        # A file split by `train --split`: the same fractions and seed give the same held-out lines.
        same = args.corpus == info.get("corpus")
        ds = _load_dataset(args, splits=[args.split], fractions=info.get("fractions") if same else None,
                           seed=(info.get("split_seed") or 0) if same else 0)
        split = getattr(ds, args.split)
        # The dataset's vocabulary is rebuilt from its train split; re-encode on the model's.
        corpus = (split if split.vocab.fingerprint == model.vocab_.fingerprint else
                  Corpus.from_tokens([split.vocab.decode(s) for s in split.sequences()], vocab=model.vocab_,
                                     tokenizer=split.tokenizer, name=split.name))
    ranks = ranking_metrics(model, corpus)
    if isinstance(model, MaskedLanguageModel):
        # no perplexity: a masked model's own score, each token masked alone (both sides visible)
        pll = model.pseudo_log_likelihood(corpus)
        report = {"pseudo_perplexity": float(np.exp(-pll.mean())), "pseudo_log_likelihood": float(pll.sum()),
                  "n_tokens": len(pll)}
        if args.json:
            print(json.dumps({**report, **ranks}, indent=2))
        else:
            print(f"pseudo-perplexity {report['pseudo_perplexity']:.4f} (not comparable with perplexity) | "
                  f"{len(pll)} tokens")
            print(" | ".join(f"{k} {v:.4f}" for k, v in ranks.items()) + " (both sides visible)")
        return 0
    report = evaluate(model, corpus)
    partial = model.partial_fit_ if model.is_partial_fit else None
    if args.json:
        print(json.dumps({**report.to_dict(), **ranks, **({"partial_fit": partial} if partial else {})},
                         indent=2))
    else:
        if partial:
            print(f"note: a partial fit (training was interrupted: {partial})")
        print(report)
        print(" | ".join(f"{k} {v:.4f}" for k, v in ranks.items()))
    return 0


def cmd_generate(args) -> int:
    from .base import load
    from .generation import generate
    from .masked import MaskedLanguageModel

    model = load(args.model_dir)
    if isinstance(model, MaskedLanguageModel):
        raise UsageError(f"{args.model_dir} holds a masked model ({model.registry_name}): it has no "
                         "next-token distribution to generate from (its fill_mask fills <mask> slots)")
    # None: the model's own tokenizer (training.json names it for models saved before it was recorded)
    tokenizer = args.tokenizer or _training_info(args.model_dir).get("tokenizer")
    prompts = args.prompt if args.prompt is not None else [""]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gens = generate(model, prompts, max_new_tokens=args.max_new_tokens,
                        min_new_tokens=args.min_new_tokens, do_sample=args.do_sample,
                        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                        num_beams=args.num_beams, repetition_penalty=args.repetition_penalty,
                        num_return_sequences=args.num_return_sequences, seed=args.seed, tokenizer=tokenizer)
    for w in caught:   # as one line each, like the command's errors, not as Python tracebacks
        print(f"langmodels generate: warning: {w.message}", file=sys.stderr)
    per = len(gens) // max(len(prompts), 1)
    for i, g in enumerate(gens):
        prompt = prompts[i // per]
        if args.json:
            print(json.dumps({"prompt": prompt, **g.to_dict()}, ensure_ascii=False))
        else:
            print(f"{prompt} [{g.text}]" if prompt else g.text)
    return 0


# --- datasets / models ----------------------------------------------------------------------------
def cmd_datasets(args) -> int:
    from . import datasets

    if args.action == "list":
        specs = getattr(datasets, "CORPORA", {})
        for name in datasets.available_datasets():
            spec = specs.get(name)
            what = spec.description if spec else "built-in synthetic language, exact probabilities (oracle)"
            print(f"{name:20s} {what}")
        return 0
    if not args.name:
        raise UsageError("datasets download: name the corpus, e.g. `langmodels datasets download ptb`")
    print(datasets.download(args.name, args.data_dir))
    return 0


def cmd_models(args) -> int:
    from .registry import available_models, get_class

    names = args.names or available_models() + available_models("masked")
    for name in names:
        try:
            cls = get_class(name)
        except ImportError as e:
            print(f"{name}: not available ({e})")
            continue
        doc = (inspect.getdoc(cls) or "").splitlines()
        print(f"{name}  ({cls.__module__}.{cls.__name__}){': ' + doc[0] if doc else ''}")
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            default = "required" if p.default is p.empty else f"default {p.default!r}"
            print(f"    {p.name:20s} {default}")
    return 0
