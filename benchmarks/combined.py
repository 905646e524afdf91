"""Combined models: interpolation gain, LM-based text classification, int8 quantisation.

    python benchmarks/combined.py --data-dir ../shared/data [--parts interp,classify,quantize]

interp    PTB-mini and WT2-mini (train on valid.txt, test on test.txt). Components are fitted on
          90% of the training lines; mixture weights are tuned on the other 10% by our EM and,
          as the peer, by scipy's SLSQP on the same held-out log-probabilities.
adapt     n-gram domain adaptation: a PTB-mini model mixed with a WT2-mini one (joint vocabulary),
          weights tuned on held-out PTB, against the PTB-mini model alone, on PTB test.
classify  Lines by source: PTB vs WikiText-2 vs Shakespeare (lower-cased), and two synthetic
          languages with one lexicon but different statistics; LMClassifier per family against
          TF-IDF (word 1-2 grams) + logistic regression from scikit-learn.
quantize  An LSTM on PTB-mini: float vs int8 dynamic quantisation (size, scoring time, perplexity).
finetune  An HMM pre-trained on WT2-mini (its own vocabulary) then fine-tuned on PTB-mini with
          `fit(train, init=pretrained)`, against the same HMM trained on PTB-mini alone; PTB test
          perplexity and wall time (`--parts finetune` runs it alone); then the same for an LSTM
          (embed 200, hidden 200, 2 layers, one CPU thread; `--parts finetune-lstm` runs it alone).

Load averages are printed beside timings; a load above 1.5 marks a noisy run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import langmodels as lm
from langmodels import Corpus, make
from langmodels.interpolated import InterpolatedModel, em_weights

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load() -> str:
    one = os.getloadavg()[0]
    return f"load {one:.2f}{' NOISY' if one > 1.5 else ''}"


def available(name: str) -> bool:
    try:
        lm.get_class(name)
        return True
    except (ImportError, lm.UnknownModelError):
        return False


def timed(fn, repeat: int = 1):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


# --- interpolation ------------------------------------------------------------------------------
COMPONENTS = {
    "modified-kneser-ney": {"order": 3},
    "kneser-ney": {"order": 3},
    "hmm": {"n_states": 32, "n_iter": 10, "seed": 0, "device": "cpu", "progress": False},
    "lstm": {"embed_dim": 128, "hidden_size": 128, "n_layers": 1, "epochs": 6, "lr": 3e-3, "batch_size": 32,
             "dropout": 0.3, "seed": 0, "device": "cpu", "progress": False},
    "unigram": {"k": 0.1},
}


def interp(data: Path, ptb_names: list[str], wt2_names: list[str]) -> None:
    for label, folder, names in (("PTB-mini", "ptb", ptb_names), ("WT2-mini", "wikitext-2", wt2_names)):
        names = [n for n in names if available(n)]
        train = Corpus.from_file(data / folder / "valid.txt")
        test = Corpus.from_file(data / folder / "test.txt", vocab=train.vocab)
        order = np.random.default_rng(0).permutation(len(train))
        n_held = len(train) // 10
        held, rest = train.subset(np.sort(order[:n_held])), train.subset(np.sort(order[n_held:]))
        print(f"\n### interpolation on {label}: components {names}")
        print(f"fit on {rest.n_tokens} tokens, tune on {held.n_tokens}, test {test.n_tokens} tokens, "
              f"V={len(train.vocab)}")
        models, ppl, test_lp = {}, {}, {}
        for n in names:
            m, t = timed(lambda n=n, rest=rest: make(n, **COMPONENTS[n]).fit(rest))
            models[n], test_lp[n] = m, m.token_logprobs(test)
            ppl[n] = float(np.exp(-test_lp[n].mean()))
            print(f"{n:22s} test ppl {ppl[n]:9.2f}   fit {t:7.1f} s  ({load()})")
        mixes = [names] + ([[names[0], n] for n in names[1:]] if len(names) > 2 else [])
        for k, mix in enumerate(mixes):
            L = np.stack([models[n].token_logprobs(held) for n in mix], axis=1)
            init = np.full(len(mix), 1 / len(mix))
            (w, hist), t_em = timed(lambda L=L, init=init: em_weights(L, init, 500, 1e-9), 3)
            (w_peer, ll_peer), t_peer = timed(lambda L=L: scipy_weights(L), 3)
            m = InterpolatedModel.from_models([models[n] for n in mix], weights=list(w))
            # The components' test scores are computed once; the first mixture is also scored
            # through InterpolatedModel itself, which must give the same numbers.
            with np.errstate(divide="ignore"):
                lp = np.logaddexp.reduce(np.log(w)[:, None] + np.stack([test_lp[n] for n in mix]), axis=0)
            if k == 0:
                assert np.allclose(m.token_logprobs(test), lp, atol=1e-9)
            p = float(np.exp(-lp.mean()))
            best = min(ppl[n] for n in mix)
            print(f"mix {' + '.join(mix)}: weights {np.round(w, 3).tolist()}  test ppl {p:.2f} "
                  f"({100 * (1 - p / best):.1f}% below the best component)")
            print(f"    tuning: EM {len(hist)} iters {t_em * 1e3:.1f} ms, held-out ll/token {hist[-1]:.5f} | "
                  f"peer scipy SLSQP {t_peer * 1e3:.1f} ms, ll/token {ll_peer:.5f}, weights "
                  f"{np.round(w_peer, 3).tolist()} | time ratio ours/peer {t_em / t_peer:.2f} ({load()})")


def scipy_weights(L: np.ndarray):
    from scipy.optimize import minimize

    P = np.exp(L)
    K = L.shape[1]

    def nll(w):
        p = P @ w
        return -np.log(p).mean(), -(P / p[:, None]).mean(axis=0)

    res = minimize(nll, np.full(K, 1 / K), jac=True, method="SLSQP", bounds=[(1e-12, 1)] * K,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}])
    return res.x, -res.fun


# --- domain adaptation of n-grams by interpolation -------------------------------------------------
def adapt(data: Path, name: str) -> None:
    """In-domain PTB-mini model mixed with a general WT2-mini one, on their joint vocabulary."""
    ptb, wt2 = data / "ptb" / "valid.txt", data / "wikitext-2" / "valid.txt"
    lines = [t for f in (ptb, wt2) for t in f.read_text(encoding="utf-8").splitlines() if t.strip()]
    vocab = Corpus.from_texts(lines).vocab
    train, general = Corpus.from_file(ptb, vocab=vocab), Corpus.from_file(wt2, vocab=vocab)
    test = Corpus.from_file(data / "ptb" / "test.txt", vocab=vocab)
    order = np.random.default_rng(0).permutation(len(train))
    n_held = len(train) // 10
    held, rest = train.subset(np.sort(order[:n_held])), train.subset(np.sort(order[n_held:]))
    print(f"\n### adaptation: {name} on PTB-mini (in-domain, {rest.n_tokens} tokens) + WT2-mini (general, "
          f"{general.n_tokens} tokens), joint V={len(vocab)}, tuned on {held.n_tokens} PTB tokens")
    inside, t_in = timed(lambda: make(name, **COMPONENTS[name]).fit(rest))
    outside, t_out = timed(lambda: make(name, **COMPONENTS[name]).fit(general))
    mix, t_mix = timed(lambda: InterpolatedModel.from_models([inside, outside]).tune_weights(held))
    for label, m, t in (("PTB-mini only", inside, t_in), ("WT2-mini only", outside, t_out),
                        ("mixture (EM weights)", mix, t_in + t_out + t_mix)):
        print(f"{label:22s} PTB test ppl {lm.perplexity(m, test):8.2f}   wall {t:6.1f} s  ({load()})")
    print(f"weights in-domain/general {np.round(mix.weights_, 3).tolist()}")


# --- pre-training then fine-tuning (HMM) ------------------------------------------------------------
FINETUNE = {"n_states": 64, "tol": 0.0, "seed": 0, "device": "cpu", "progress": False}


def finetune_corpora(data: Path):
    """PTB-mini train/test, the WT2-mini corpus to pre-train on, and how many PTB words WT2 lacks."""
    train = Corpus.from_file(data / "ptb" / "valid.txt")
    test = Corpus.from_file(data / "ptb" / "test.txt", vocab=train.vocab)
    general = Corpus.from_file(data / "wikitext-2" / "valid.txt")
    to_unk = int((train.vocab.index_in(general.vocab) == lm.vocabulary.UNK_ID).sum()) - 1
    return train, test, general, to_unk


def finetune(data: Path, n_iter: int) -> None:
    """WT2-mini pre-training + PTB-mini fine-tuning vs PTB-mini alone, scored on PTB test."""
    from langmodels.hmm import HMMLanguageModel

    train, test, general, to_unk = finetune_corpora(data)
    print(f"\n### pre-training then fine-tuning: HMM {FINETUNE['n_states']} states, {n_iter} EM iterations "
          f"per stage; WT2-mini {general.n_tokens} tokens (V={len(general.vocab)}), PTB-mini "
          f"{train.n_tokens} tokens (V={len(train.vocab)}, {to_unk} words not in WT2's vocabulary "
          f"start from its <unk>), PTB test {test.n_tokens} tokens")

    def hmm(iters):
        return HMMLanguageModel(n_iter=iters, **FINETUNE)

    hmm(1).fit(Corpus.from_texts(["warm up torch"]))            # keep torch's import out of the timings
    order = np.random.default_rng(0).permutation(len(train))
    n_held = len(train) // 10
    held, rest = train.subset(np.sort(order[:n_held])), train.subset(np.sort(order[n_held:]))
    alone, t_alone = timed(lambda: hmm(n_iter).fit(train))
    alone2, t_alone2 = timed(lambda: hmm(2 * n_iter).fit(train))
    alone_es, t_alone_es = timed(lambda: hmm(4 * n_iter).fit(rest, held))
    pre, t_pre = timed(lambda: hmm(n_iter).fit(general))
    mapped, _ = timed(lambda: hmm(0).fit(train, init=pre))
    tuned, t_tune = timed(lambda: hmm(n_iter).fit(train, init=pre))
    tuned_es, t_tune_es = timed(lambda: hmm(4 * n_iter).fit(rest, held, init=pre))
    print(f"{'model':66s} {'PTB test ppl':>12s}  wall")
    es = "early-stopped on 10% held out ({} iters)"
    for label, m, t in ((f"PTB-mini alone, {n_iter} iters", alone, f"{t_alone:6.1f} s"),
                        (f"PTB-mini alone, {2 * n_iter} iters", alone2, f"{t_alone2:6.1f} s"),
                        ("PTB-mini alone, " + es.format(alone_es.n_iter_), alone_es, f"{t_alone_es:6.1f} s"),
                        ("WT2-mini pre-trained, mapped, not fine-tuned", mapped,
                         f"{t_pre:6.1f} s pre-training"),
                        (f"pre-trained + fine-tuned {n_iter} iters", tuned,
                         f"{t_tune:6.1f} s fine-tuning, {t_pre + t_tune:6.1f} s in all"),
                        ("pre-trained + fine-tuned, " + es.format(tuned_es.n_iter_), tuned_es,
                         f"{t_tune_es:6.1f} s fine-tuning, {t_pre + t_tune_es:6.1f} s in all")):
        print(f"{label:66s} {lm.perplexity(m, test):12.2f}  {t}  ({load()})")


FINETUNE_LSTM = {"embed_dim": 200, "hidden_size": 200, "n_layers": 2, "seed": 0, "device": "cpu",
                 "threads": 1, "patience": None, "progress": False}


def finetune_lstm(data: Path, epochs: int) -> None:
    """The neural case of `finetune`: an LSTM pre-trained on WT2-mini, fine-tuned on PTB-mini."""
    train, test, general, to_unk = finetune_corpora(data)
    print(f"\n### pre-training then fine-tuning: LSTM 200/200 x2, {epochs} epoch(s) per stage, 1 thread; "
          f"WT2-mini {general.n_tokens} tokens (V={len(general.vocab)}), PTB-mini {train.n_tokens} tokens "
          f"({to_unk} words start from WT2's <unk> row)")

    def lstm():
        return make("lstm", epochs=epochs, **FINETUNE_LSTM)

    make("lstm", epochs=1, **{**FINETUNE_LSTM, "embed_dim": 4, "hidden_size": 4}).fit(
        Corpus.from_texts(["warm up torch"]))                   # keep torch's import out of the timings
    alone, t_alone = timed(lambda: lstm().fit(train))
    pre, t_pre = timed(lambda: lstm().fit(general))
    tuned, t_tune = timed(lambda: lstm().fit(train, init=pre))
    print(f"{'model':50s} {'PTB test ppl':>12s}  wall")
    for label, m, t in ((f"PTB-mini alone, {epochs} epoch(s)", alone, f"{t_alone:6.1f} s"),
                        (f"pre-trained + fine-tuned {epochs} epoch(s)", tuned,
                         f"{t_tune:6.1f} s fine-tuning, {t_pre + t_tune:6.1f} s in all "
                         f"({t_pre:.1f} s pre-training)")):
        print(f"{label:50s} {lm.perplexity(m, test):12.2f}  {t}  ({load()})")


# --- classification ------------------------------------------------------------------------------
FAMILIES = {
    "unigram": {"k": 0.1},
    "modified-kneser-ney": {"order": 3},
    "kneser-ney": {"order": 3},
    "hmm": {"n_states": 16, "n_iter": 10, "seed": 0, "device": "cpu", "progress": False},
    "lstm": {"embed_dim": 64, "hidden_size": 64, "n_layers": 1, "epochs": 2, "batch_size": 32,
             "seed": 0, "device": "cpu", "progress": False},
}


def _lines(path: Path) -> list[str]:
    return [t.strip().lower() for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]


def _sample(lines: list[str], n: int, rng) -> list[str]:
    return [lines[i] for i in rng.choice(len(lines), min(n, len(lines)), replace=False)]


def source_task(data: Path, n_train: int, n_test: int, rng):
    files = {"ptb": ("ptb/valid.txt", "ptb/test.txt"), "wt2": ("wikitext-2/valid.txt", "wikitext-2/test.txt"),
             "shakespeare": ("shakespeare-words/train.txt", "shakespeare-words/test.txt")}
    Xtr, ytr, Xte, yte = [], [], [], []
    for label, (a, b) in files.items():
        tr, te = _sample(_lines(data / a), n_train, rng), _sample(_lines(data / b), n_test, rng)
        Xtr += tr; ytr += [label] * len(tr); Xte += te; yte += [label] * len(te)  # noqa: E702
    return Xtr, ytr, Xte, yte


def synthetic_task(n_train: int, n_test: int):
    from langmodels.datasets.synthetic import SyntheticLanguage

    # One lexicon (seed 0), different class transitions, collocations and clause rates.
    langs = {"synthA": SyntheticLanguage(seed=0),
             "synthB": SyntheticLanguage(seed=0, class_alpha=3.0, colloc_strength=0.2, p_rc=0.5)}
    Xtr, ytr, Xte, yte = [], [], [], []
    for k, (label, lang) in enumerate(langs.items()):
        sents, _ = lang.sample(n_train + n_test, rng=100 + k)
        texts = [" ".join(s) for s in sents]
        Xtr += texts[:n_train]; ytr += [label] * n_train  # noqa: E702
        Xte += texts[n_train:]; yte += [label] * n_test  # noqa: E702
    return Xtr, ytr, Xte, yte


def classify(data: Path, names: list[str], n_train: int, n_test: int, min_counts: list[int]) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from langmodels.classify import LMClassifier, classification_scores

    names = [n for n in names if available(n)]
    tasks = {"PTB vs WT2 vs Shakespeare": source_task(data, n_train, n_test, np.random.default_rng(0)),
             "two synthetic languages": synthetic_task(n_train, n_test)}
    for task, (Xtr, ytr, Xte, yte) in tasks.items():
        print(f"\n### classification: {task} ({len(Xtr)} train / {len(Xte)} test lines)")
        print(f"{'model':48s} {'acc':>6s} {'P':>6s} {'R':>6s} {'F1':>6s} {'fit s':>7s} {'predict s':>9s}")
        clfs = {f"LMClassifier({n}, min_count={c})": LMClassifier(model=n, min_count=c, **FAMILIES[n])
                for n in names for c in min_counts}
        clfs["peer TF-IDF 1-2g + LogisticRegression"] = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+"),
            LogisticRegression(max_iter=2000))
        for label, clf in clfs.items():
            _, t_fit = timed(lambda clf=clf, X=Xtr, y=ytr: clf.fit(X, y))
            pred, t_pred = timed(lambda clf=clf, X=Xte: clf.predict(X))
            s = classification_scores(yte, pred)
            print(f"{label:48s} {s['accuracy']:6.3f} {s['precision']:6.3f} {s['recall']:6.3f} "
                  f"{s['f1']:6.3f} {t_fit:7.1f} {t_pred:9.2f}  ({load()})")


# --- quantisation ----------------------------------------------------------------------------------
def quantize(data: Path) -> None:
    import warnings

    import torch

    from langmodels.neural.quantize import module_size_bytes, quantize_dynamic

    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(1)
    train = Corpus.from_file(data / "ptb" / "valid.txt")
    test = Corpus.from_file(data / "ptb" / "test.txt", vocab=train.vocab)
    params = {**COMPONENTS["lstm"], "hidden_size": 256, "embed_dim": 256, "epochs": 2}
    model, t_fit = timed(lambda: make("lstm", **params).fit(train))
    q = quantize_dynamic(model)
    print(f"\n### int8 dynamic quantisation: LSTM {params['embed_dim']}/{params['hidden_size']} on "
          f"PTB-mini (fit {t_fit:.0f} s, {load()})")
    rows = []
    for label, m in (("float32", model), ("int8 dynamic", q)):
        lp, t = timed(lambda m=m: m.token_logprobs(test), 3)
        rows.append((label, module_size_bytes(m), t, float(np.exp(-lp.mean()))))
        print(f"{label:14s} size {rows[-1][1] / 1e6:6.2f} MB  score test {t:6.2f} s (median of 3)  "
              f"ppl {rows[-1][3]:.3f}  ({load()})")
    print(f"int8/float: size {rows[1][1] / rows[0][1]:.2f}x, scoring time {rows[1][2] / rows[0][2]:.2f}x, "
          f"ppl change {100 * (rows[1][3] / rows[0][3] - 1):+.2f}%")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--parts", default="interp,adapt,classify,quantize,finetune")
    ap.add_argument("--components", default="modified-kneser-ney,hmm,lstm,unigram", help="for PTB-mini")
    ap.add_argument("--wt2-components", default="modified-kneser-ney,hmm,unigram",
                    help="for WT2-mini (an LSTM there takes several CPU minutes per epoch)")
    ap.add_argument("--families", default="unigram,modified-kneser-ney,hmm")
    ap.add_argument("--min-counts", default="1,2", help="LMClassifier vocabularies to compare: words "
                    "seen fewer times in training become <unk>, so every class model learns an <unk> rate")
    ap.add_argument("--n-train", type=int, default=2000, help="training lines per class")
    ap.add_argument("--n-test", type=int, default=500, help="test lines per class")
    ap.add_argument("--finetune-iters", type=int, default=10, help="EM iterations per stage (finetune)")
    ap.add_argument("--finetune-epochs", type=int, default=1,
                    help="LSTM epochs per stage (finetune; one WT2-mini epoch is minutes on one CPU thread)")
    args = ap.parse_args(argv)
    if not (args.data_dir / "ptb").is_dir():
        sys.exit(f"{args.data_dir}: no benchmark corpora there (see shared/data/README.md)")
    print(f"python {sys.version.split()[0]}, langmodels {lm.__version__}, {os.cpu_count()} CPUs, {load()}")
    parts = args.parts.split(",")
    if "interp" in parts:
        interp(args.data_dir, args.components.split(","), args.wt2_components.split(","))
    if "adapt" in parts:
        adapt(args.data_dir, "modified-kneser-ney")
    if "classify" in parts:
        classify(args.data_dir, args.families.split(","), args.n_train, args.n_test,
                 [int(c) for c in args.min_counts.split(",")])
    if "quantize" in parts:
        if importlib.util.find_spec("torch") is None:
            print("quantize: torch missing, skipped")
        else:
            quantize(args.data_dir)
    if "finetune" in parts:
        finetune(args.data_dir, args.finetune_iters)
    if ("finetune" in parts or "finetune-lstm" in parts) and importlib.util.find_spec("torch") is not None:
        finetune_lstm(args.data_dir, args.finetune_epochs)


if __name__ == "__main__":
    main()
