"""HMM language model vs hmmlearn: seconds per EM iteration, per scoring pass, and perplexity.

    python benchmarks/hmm.py --data-dir ../shared/data                 # PTB-mini speed + quality
    python benchmarks/hmm.py --ppl-datasets ptb,wt2 --big 1024         # more

Speed: the same random parameters go to both; ours is `HMMLanguageModel.em_step` (float64,
`--threads` torch threads), hmmlearn is `CategoricalHMM(implementation="scaling").fit(n_iter=1)`
on the same sequences with `</s>` as an ordinary last symbol. Medians of the timed iterations,
with the 1-minute load average beside each; load above 1.5 is flagged as noisy.
Quality: test perplexity against the number of states (default priors, early stopping on a
held-out tenth of train, then a refit on all of train), beside hmmlearn (16 states, add-0.1
emissions) and the unigram model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

import langmodels as lm
from langmodels.hmm import HMMLanguageModel
from langmodels.hmm.initialisation import random_init

DATASETS = {"ptb": ("ptb/valid.txt", "ptb/test.txt"),
            "wt2": ("wikitext-2/valid.txt", "wikitext-2/test.txt")}


def load():
    la = os.getloadavg()[0]
    return f"load {la:.2f}{' NOISY' if la > 1.5 else ''}"


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out), out


def hmmlearn_model(K, V, pi, A, B, n_iter=1, **kw):
    from hmmlearn.hmm import CategoricalHMM

    # n_iter must be given here: hmmlearn's convergence monitor keeps the constructor's value
    h = CategoricalHMM(K, n_features=V, init_params="", params="ste", tol=-np.inf, n_iter=n_iter,
                       implementation="scaling", **kw)
    h.startprob_, h.transmat_, h.emissionprob_ = pi.copy(), A.copy(), B.copy()
    return h


def as_hmmlearn(corpus):
    return corpus.targets().reshape(-1, 1).astype(np.int64), corpus.lengths + 1


def speed(train, test, states, threads, our_iters, peer_iters):
    import torch

    torch.set_num_threads(threads[0])
    V = len(train.vocab)
    X, L = as_hmmlearn(train)
    Xt, Lt = as_hmmlearn(test)
    print(f"\n## seconds per EM iteration on {train.name} ({train.n_targets} targets, V={V}); "
          f"ours float64, median of {our_iters}")
    print(f"{'K':>5} {'threads':>7} {'ours EM':>9} {'hmmlearn EM':>12} {'ratio':>7}   "
          f"{'ours score':>10} {'hmmlearn score':>14} {'ratio':>7}   load")
    for K in states:
        pi, A, B = random_init(K, V, np.random.default_rng(0))
        n_peer = peer_iters if K < 128 else 1
        h = hmmlearn_model(K, V, pi, A, B)
        peer_em, _ = timed(lambda h=h: h.fit(X, L), n_peer)
        h = hmmlearn_model(K, V, pi, A, B)
        peer_score, _ = timed(lambda h=h: h.score(Xt, Lt), 1)
        for n in threads:
            m = HMMLanguageModel.from_parameters(pi, A, B, train.vocab, threads=n)
            m.em_step(train)                                       # warm-up (allocations)
            ours_em, _ = timed(lambda m=m: m.em_step(train), our_iters)
            m = HMMLanguageModel.from_parameters(pi, A, B, train.vocab, threads=n)
            m.token_logprobs(test)
            ours_score, _ = timed(lambda m=m: m.token_logprobs(test), 3)
            print(f"{K:>5} {n:>7} {ours_em:>9.3f} {peer_em:>12.3f} {peer_em / ours_em:>6.1f}x   "
                  f"{ours_score:>10.3f} {peer_score:>14.3f} {peer_score / ours_score:>6.1f}x   {load()}",
                  flush=True)


def quality(name, train, test, states, iters, peer, inits):
    """Test perplexity against K. The iteration count is chosen by early stopping on a held-out
    tenth of the training sentences, then the model is refitted on all of them for that many
    iterations (the test set is never used to choose anything)."""
    uni = lm.make("unigram").fit(train)
    print(f"\n## test perplexity on {name} (train {train.n_targets} targets, test {test.n_targets}, "
          f"V={len(train.vocab)}), at most {iters} EM iterations")
    print(f"unigram: {lm.perplexity(uni, test):.1f}")
    if peer:
        K, V = 16, len(train.vocab)
        pi, A, B = random_init(K, V, np.random.default_rng(0))
        h = hmmlearn_model(K, V, pi, A, B, n_iter=iters, emissionprob_prior=1.1)   # add-0.1 emissions
        t = time.perf_counter()
        h.fit(*as_hmmlearn(train))
        Xt, Lt = as_hmmlearn(test)
        ppl = np.exp(-h.score(Xt, Lt) / test.n_targets)
        secs = time.perf_counter() - t
        print(f"hmmlearn K=16 add-0.1, {h.monitor_.iter} iterations: {ppl:.1f} ({secs:.1f} s)")
    order = np.random.default_rng(0).permutation(len(train))
    held, rest = train.subset(order[: len(train) // 10]), train.subset(order[len(train) // 10:])
    print(f"{'K':>5} {'init':>9} {'iters':>5} {'train ll/token':>14} {'test ppl':>9} {'fit s':>7}   load")
    for K in states:
        for init in inits:
            t = time.perf_counter()
            params = dict(n_states=K, init=init, tol=-np.inf, progress=False)
            probe = HMMLanguageModel(n_iter=iters, **params).fit(rest, valid=held)
            best = int(np.argmax(probe.valid_history_)) + 1
            m = HMMLanguageModel(n_iter=best, **params).fit(train)
            secs = time.perf_counter() - t
            print(f"{K:>5} {init:>9} {best:>5} {m.loglik_history_[-1] / train.n_targets:>14.4f} "
                  f"{lm.perplexity(m, test):>9.1f} {secs:>7.1f}   {load()}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    p.add_argument("--states", default="16,64,128,256")
    p.add_argument("--threads", default="1", help="torch threads for ours, e.g. 1,2")
    p.add_argument("--our-iters", type=int, default=3)
    p.add_argument("--peer-iters", type=int, default=2, help="hmmlearn iterations below 128 states (1 above)")
    p.add_argument("--ppl-states", default="16,64,128,256")
    p.add_argument("--ppl-iters", type=int, default=30)
    p.add_argument("--ppl-datasets", default="ptb")
    p.add_argument("--inits", default="clusters", help="random,clusters")
    p.add_argument("--big", default="", help="also time fits with these many states (float32), e.g. 512,1024")
    p.add_argument("--big-transition-prior", default="", help="transition_prior for each --big size")
    p.add_argument("--skip-speed", action="store_true")
    args = p.parse_args()
    data = Path(args.data_dir)
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    print(f"{os.cpu_count()} CPUs; {load()}")
    train = lm.Corpus.from_file(data / DATASETS["ptb"][0])
    test = lm.Corpus.from_file(data / DATASETS["ptb"][1], vocab=train.vocab)
    if not args.skip_speed:
        speed(train, test, ints(args.states), ints(args.threads), args.our_iters, args.peer_iters)
    for name in filter(None, args.ppl_datasets.split(",")):
        tr = lm.Corpus.from_file(data / DATASETS[name][0])
        te = lm.Corpus.from_file(data / DATASETS[name][1], vocab=tr.vocab)
        quality(name, tr, te, ints(args.ppl_states), args.ppl_iters, name == "ptb", args.inits.split(","))
    priors = [float(x) for x in args.big_transition_prior.split(",") if x]
    for i, K in enumerate(ints(args.big)):
        tp = priors[i] if i < len(priors) else 0.1
        t = time.perf_counter()
        m = HMMLanguageModel(n_states=K, n_iter=5, tol=-np.inf, dtype="float32", transition_prior=tp,
                             threads=ints(args.threads)[-1], progress=False).fit(train)
        print(f"\n## {K} states, float32, transition_prior {tp}, clusters init + 5 EM iterations on "
              f"PTB-mini: {time.perf_counter() - t:.0f} s, test ppl {lm.perplexity(m, test):.1f}   {load()}",
              flush=True)

if __name__ == "__main__":
    main()
