"""N-grams at scale, side by side with lmplz: read, fit, score, wall time and peak memory.

    python benchmarks/ngram_scale.py gen --kind synthetic --tokens 18e6 --out /tmp/synth18M.txt
    python benchmarks/ngram_scale.py gen --kind zipf --tokens 64e6 --vocab 270000 --out /tmp/zipf64M.txt
    python benchmarks/ngram_scale.py run /tmp/synth18M.txt --order 5 --memory 4G
    python benchmarks/ngram_scale.py read /tmp/synth18M.txt          # reading speed per tokenizer

`run` measures, each step in a fresh process so that its peak RSS is its own (ours: the peak
of read + fit, and in brackets the process's whole peak, scoring included):
- ours: `Corpus.from_file` + `make("modified-kneser-ney", order).fit(corpus, memory=...)`,
- lmplz (when on PATH): `lmplz -o ORDER -S MEMORY --discount_fallback` end to end (it also
  writes the ARPA file),
- scoring: ours (`token_logprobs` on the last `--test-lines` lines, timed on its second call:
  the first also builds the hash indexes of the large tables, and is printed apart) against
  the kenlm module on lmplz's model in KenLM's binary format (`build_binary`, when on PATH, run
  untimed), `Model.score` per line.
Every timing carries the 1-minute load average; above the core count the row is flagged NOISY.

Corpora are generated to a path you give (never committed): `synthetic` is the library's oracle
language (a 2.5k vocabulary); `zipf` a Markov text over a Zipfian vocabulary of `--vocab` types
(each word follows its predecessor's collocate with probability 0.3, else is drawn from
p(rank r) ~ 1 / (r + 2.7)^1.1), so the n-gram tables grow with the corpus as natural text's do.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load_note() -> str:
    la = os.getloadavg()[0]
    return f"load {la:.2f}{' NOISY' if la > os.cpu_count() else ''}"


# --- corpora -------------------------------------------------------------------------------------
def _write_lines(f, words: np.ndarray, ids: np.ndarray, offsets: np.ndarray) -> None:
    toks = words[ids].tolist()
    f.write("\n".join(" ".join(toks[a:b]) for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())))
    f.write("\n")


def gen_synthetic(n_tokens: int, out: Path, seed: int = 0) -> None:
    from langmodels.datasets.synthetic import SyntheticLanguage

    lang = SyntheticLanguage(seed=seed)
    words = np.array(lang.words, dtype=object)
    rng = np.random.default_rng(seed)
    done = 0
    with open(out, "w", encoding="utf-8") as f:
        while done < n_tokens:
            ids, offsets, _ = lang.sample_ids(20_000, rng)
            _write_lines(f, words, ids, offsets)
            done += len(ids)


def gen_zipf(n_tokens: int, vocab: int, out: Path, seed: int = 0, mean_len: int = 20) -> None:
    rng = np.random.default_rng(seed)
    p = 1.0 / (np.arange(vocab) + 2.7) ** 1.1
    cdf = np.cumsum(p / p.sum())
    collocate = rng.permutation(vocab)            # each word's favourite follower
    words = np.array([f"w{np.base_repr(i, 36).lower()}" for i in range(vocab)], dtype=object)
    done, block = 0, 1_000_000
    with open(out, "w", encoding="utf-8") as f:
        while done < n_tokens:
            base = np.minimum(np.searchsorted(cdf, rng.random(block)), vocab - 1)
            follow = rng.random(block) < 0.3
            ids = base.copy()
            ids[1:][follow[1:]] = collocate[base[:-1][follow[1:]]]
            lengths = np.maximum(rng.poisson(mean_len, block // mean_len * 2), 1)
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            offsets = offsets[offsets <= block]
            _write_lines(f, words, ids, offsets)
            done += int(offsets[-1])


# --- one measured step per process -----------------------------------------------------------------
def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def step_ours(path: str, order: int, memory: str | None, test_lines: int, out_json: str) -> None:
    import warnings

    import langmodels as lm

    la0 = os.getloadavg()[0]
    t = time.perf_counter()
    train = lm.Corpus.from_file(path)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lm.make("modified-kneser-ney", order=order)
        model.fit(train, **({"memory": memory} if memory else {}))
    fit_s = time.perf_counter() - t
    fit_peak = peak_rss_gb()                   # read + fit, before scoring builds its indexes
    test = train.subset(np.arange(max(len(train) - test_lines, 0), len(train)))
    t = time.perf_counter()
    model.token_logprobs(test)                 # the first call builds the hash indexes
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    logp = model.token_logprobs(test)
    score_s = time.perf_counter() - t
    json.dump({"read_s": read_s, "fit_s": fit_s, "score_s": score_s, "first_score_s": first_s,
               "score_targets": int(test.n_targets),
               "logp_sum": float(logp.sum()), "tokens": int(train.n_tokens), "vocab": len(train.vocab),
               "ngrams": model.tables_.n_ngrams, "fit_peak_gb": fit_peak, "peak_gb": peak_rss_gb(),
               "load": f"{la0:.2f}/{os.getloadavg()[0]:.2f}"}, open(out_json, "w"))


def step_kenlm_score(binary: str, path: str, test_lines: int, out_json: str) -> None:
    import kenlm

    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f.readlines()[-test_lines:] if ln.strip()]
    model = kenlm.Model(binary)
    t = time.perf_counter()
    total = sum(model.score(s, bos=True, eos=True) for s in lines)
    score_s = time.perf_counter() - t
    n = sum(len(s.split()) + 1 for s in lines)
    json.dump({"score_s": score_s, "score_targets": n, "log10_sum": total, "peak_gb": peak_rss_gb(),
               "load": f"{os.getloadavg()[0]:.2f}"}, open(out_json, "w"))


def timed(cmd: list[str], **kw) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, peak RSS GB of the child, process) via /usr/bin/time when present."""
    t = time.perf_counter()
    timer = shutil.which("time") or "/usr/bin/time"
    if os.path.exists(timer):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            proc = subprocess.run([timer, "-f", "%M", "-o", tf.name, *cmd], **kw)
            wall = time.perf_counter() - t
            try:
                peak = int(open(tf.name).read().split()[-1]) / 2**20
            except (ValueError, IndexError):
                peak = float("nan")
        return wall, peak, proc
    proc = subprocess.run(cmd, **kw)
    return time.perf_counter() - t, float("nan"), proc


def run(args) -> None:
    path, order = str(args.corpus), args.order
    size_mb = os.path.getsize(path) / 2**20
    print(f"# ngram_scale run {path} ({size_mb:.0f} MB) order {order} memory {args.memory} — "
          f"{os.cpu_count()} CPUs, {load_note()}", flush=True)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        out = Path(tmp) / "ours.json"
        cmd = [sys.executable, __file__, "_ours", path, str(order), args.memory or "", str(args.test_lines),
               str(out)]
        wall, _, proc = timed(cmd)
        if proc.returncode:
            raise SystemExit(f"ours failed ({proc.returncode})")
        r = json.load(open(out))
        print(f"| ours | {r['tokens']:,} tokens, V {r['vocab']:,} | read {r['read_s']:.1f} s + fit "
              f"{r['fit_s']:.1f} s = {r['read_s'] + r['fit_s']:.1f} s | peak {r['fit_peak_gb']:.2f} GB "
              f"(with scoring {r['peak_gb']:.2f}) | "
              f"score {r['score_targets'] / r['score_s']:,.0f} tokens/s (first call "
              f"{r['first_score_s']:.2f} s, building the hash indexes) | n-grams {r['ngrams']} | "
              f"load {r['load']} |", flush=True)
        lmplz = shutil.which("lmplz")
        if lmplz is None:
            print("lmplz is not on PATH: no side-by-side run")
            return
        arpa = Path(tmp) / "lmplz.arpa"
        with open(path, "rb") as f, open(arpa, "wb") as g:
            # --discount_fallback: the synthetic corpus's 2.5k words all occur often enough that no
            # unigram has adjusted count 1; ours falls back on the same discounts (with a warning).
            wall, peak, proc = timed([lmplz, "-o", str(order), "-S", args.memory or "4G", "-T", tmp,
                                      "--skip_symbols", "--discount_fallback"], stdin=f, stdout=g,
                                     stderr=subprocess.PIPE)
        if proc.returncode:
            print(f"lmplz failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}")
            return
        print(f"| lmplz -S {args.memory or '4G'} | | {wall:.1f} s | peak {peak:.2f} GB | | | {load_note()} |",
              flush=True)
        binary = shutil.which("build_binary")
        if binary is None:
            return
        kbin = Path(tmp) / "lmplz.binary"
        subprocess.run([binary, str(arpa), str(kbin)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        arpa.unlink()
        out = Path(tmp) / "kenlm.json"
        timed([sys.executable, __file__, "_kenlm", str(kbin), path, str(args.test_lines), str(out)])
        k = json.load(open(out))
        print(f"| kenlm module (binary) | | | peak {k['peak_gb']:.2f} GB | score "
              f"{k['score_targets'] / k['score_s']:,.0f} tokens/s | | load {k['load']} |", flush=True)
        ppl_ours = np.exp(-r["logp_sum"] / r["score_targets"])
        ppl_kenlm = 10 ** (-k["log10_sum"] / k["score_targets"])
        print(f"test perplexity: ours {ppl_ours:.4f}, kenlm {ppl_kenlm:.4f}")


def read_speed(args) -> None:
    import langmodels as lm

    size_mb = os.path.getsize(args.corpus) / 2**20
    for tok in args.tokenizers.split(","):
        la = load_note()
        t = time.perf_counter()
        c = lm.Corpus.from_file(args.corpus, tokenizer=tok)
        s = time.perf_counter() - t
        print(f"| {tok} | {size_mb:.1f} MB | {c.n_tokens:,} tokens | {s:.2f} s | {size_mb / s:.1f} MB/s | "
              f"{la} |", flush=True)
        del c
    if args.cache_dir:
        for attempt in ("first (writes the cache)", "second (memory-maps it)"):
            t = time.perf_counter()
            lm.Corpus.from_file(args.corpus, cache_dir=args.cache_dir)
            print(f"| whitespace, cache {attempt} | {time.perf_counter() - t:.2f} s | {load_note()} |")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_ours":
        _, path, order, memory, test_lines, out = argv
        return step_ours(path, int(order), memory or None, int(test_lines), out)
    if argv and argv[0] == "_kenlm":
        _, binary, path, test_lines, out = argv
        return step_kenlm_score(binary, path, int(test_lines), out)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--kind", choices=["synthetic", "zipf"], required=True)
    g.add_argument("--tokens", type=float, required=True)
    g.add_argument("--vocab", type=int, default=270_000)
    g.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("corpus", type=Path)
    r.add_argument("--order", type=int, default=5)
    r.add_argument("--memory", default="4G")
    r.add_argument("--test-lines", type=int, default=20_000)
    r.add_argument("--tmp", default=None, help="folder for lmplz's sort files and the models")
    s = sub.add_parser("read")
    s.add_argument("corpus", type=Path)
    s.add_argument("--tokenizers", default="whitespace,char,treebank")
    s.add_argument("--cache-dir", default=None)
    args = ap.parse_args(argv)
    if args.cmd == "gen":
        (gen_synthetic(int(args.tokens), args.out) if args.kind == "synthetic"
         else gen_zipf(int(args.tokens), args.vocab, args.out))
    elif args.cmd == "run":
        run(args)
    else:
        read_speed(args)


if __name__ == "__main__":
    main()
