"""Text generation for every model, through `start_state`/`advance` (so model caches are used).

The parameters keep the Hugging Face `generate` names and meanings:

    greedy        w_t = argmax_w  s(w)                 s = ln p(w | <s> prompt w_<t), after penalties
    sampling      w_t ~ softmax(s / temperature), restricted to the top_k tokens and to the smallest
                  set of most likely tokens whose probability reaches top_p
    beam search   keep the num_beams best partial sequences by sum of s; a finished sequence scores
                  sum(s) / len ** length_penalty (len counts generated tokens, </s> included)

One difference from `transformers`: `top_k` defaults to None (no cut), not 50, so that
`do_sample=True` alone is plain ancestral sampling from the model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_float, check_int
from .errors import InvalidParameterError
from .tokenize import get_detokenizer, get_tokenizer
from .vocabulary import BOS_ID, EOS_ID


@dataclass
class Generation:
    """One generated continuation.

    `tokens` are the new ids and end with `</s>` when `stop_reason == "eos"`; `text` is their
    detokenised form without `</s>`; `logprobs[i]` is the model's own ln p of `tokens[i]`
    (before temperature, top-k/top-p or penalties); `score` is their sum, or the beam score.
    """

    prompt: list[int]
    tokens: list[int]
    text: str
    logprobs: np.ndarray = field(repr=False)
    stop_reason: str  # "eos" or "max_new_tokens"
    score: float

    def to_dict(self) -> dict:
        return {"prompt": self.prompt, "tokens": self.tokens, "text": self.text,
                "logprobs": self.logprobs.tolist(), "stop_reason": self.stop_reason, "score": self.score}


def generate(
    model,
    prompts,
    *,
    max_new_tokens: int | Sequence[int] = 20,
    min_new_tokens: int = 0,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    num_beams: int = 1,
    repetition_penalty: float = 1.0,
    length_penalty: float = 1.0,
    num_return_sequences: int = 1,
    seed: int | None = None,
    tokenizer: str | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> list[Generation]:
    """Continue each prompt (the text after `<s>`); returns `num_return_sequences` results per
    prompt, prompt by prompt.

    `prompts` is a string, a list of strings or a list of id sequences. Strings are split, and
    the output joined, with `tokenizer` (default: the model's own, the one its training corpus
    used); a prompt most of whose tokens are not in the vocabulary (so read as `<unk>`) gets a
    warning naming them. Generation stops at `</s>` or after `max_new_tokens` tokens (an int, or
    one per prompt); `</s>` is not allowed before `min_new_tokens` tokens (where the model allows
    anything else), since greedy decoding on one-sentence-a-line text often ends at once.
    `<s>` is never emitted.
    `repetition_penalty` multiplies the (negative) log-probability of every token already in the
    prompt or the continuation (CTRL's penalty, as in `transformers`). `seed` makes sampling
    reproducible. Without `do_sample`, `temperature`, `top_k` and `top_p` are ignored, with a
    warning (as in `transformers`).
    `num_beams > 1` runs beam search (finished beams score sum / len ** `length_penalty`).
    `batch_size` prompts are decoded together; finished rows leave the batch.

    >>> import langmodels as lm
    >>> m = lm.make("unigram").fit(lm.Corpus.from_texts(["a a b"]))
    >>> [g.text for g in lm.generate(m, ["b"], max_new_tokens=3)]
    ['a a a']
    """
    model.check_is_fitted()
    tokenizer = model.tokenizer_name_ if tokenizer is None else tokenizer
    ids = _prompt_ids(model, prompts, tokenizer)
    limits = _limits(max_new_tokens, len(ids))
    min_new_tokens = check_int("min_new_tokens", min_new_tokens, low=0)
    _check_options(do_sample, temperature, top_k, top_p, num_beams,
                   repetition_penalty, num_return_sequences, seed, batch_size)
    decode = _decoder(model.vocab_, tokenizer)
    options = dict(do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p,
                   repetition_penalty=repetition_penalty, min_new_tokens=min_new_tokens)
    rng = np.random.default_rng(seed)
    out: list[Generation] = []
    chunks = range(0, len(ids), batch_size)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="generate", unit="batch")
    for start in chunks:
        chunk, lim = ids[start:start + batch_size], limits[start:start + batch_size]
        if num_beams > 1:
            results = _beam_search(model, chunk, lim, num_beams, length_penalty, num_return_sequences,
                                   repetition_penalty, min_new_tokens)
        else:
            rows = [p for p in chunk for _ in range(num_return_sequences)]
            results = _decode_rows(model, rows, np.repeat(lim, num_return_sequences), rng, **options)
        for prompt, tokens, lps, score in results:
            reason = "eos" if tokens and tokens[-1] == EOS_ID else "max_new_tokens"
            out.append(Generation(prompt.tolist(), tokens, decode(tokens), np.asarray(lps, np.float64),
                                  reason, float(score)))
    return out


# --- inputs -------------------------------------------------------------------------------
def _limits(max_new_tokens, n: int) -> np.ndarray:
    if isinstance(max_new_tokens, (Sequence, np.ndarray)):
        if len(max_new_tokens) != n:
            raise InvalidParameterError(f"max_new_tokens has {len(max_new_tokens)} values for {n} prompts; "
                                        "give one int or one per prompt")
        return np.array([check_int("max_new_tokens", m, low=0) for m in max_new_tokens], np.int64)
    return np.full(n, check_int("max_new_tokens", max_new_tokens, low=0), np.int64)


def _check_options(do_sample, temperature, top_k, top_p, num_beams,
                   repetition_penalty, num_return_sequences, seed, batch_size):
    if do_sample:
        check_float("temperature", temperature, low=0.0, low_open=True)
        if top_k is not None:
            check_int("top_k", top_k, low=0)  # 0 means no cut, as in transformers
        check_float("top_p", top_p, low=0.0, high=1.0, low_open=True)
    check_int("num_beams", num_beams, low=1)
    check_float("repetition_penalty", repetition_penalty, low=0.0, low_open=True)
    check_int("num_return_sequences", num_return_sequences, low=1)
    check_int("batch_size", batch_size, low=1)
    if seed is not None:
        check_int("seed", seed)
    if num_beams > 1 and do_sample:
        raise InvalidParameterError("beam sampling (num_beams > 1 with do_sample=True) is not "
                                    "supported; use one or the other")
    if num_beams > 1 and num_return_sequences > num_beams:
        raise InvalidParameterError(f"num_return_sequences ({num_return_sequences}) must be <= "
                                    f"num_beams ({num_beams})")
    if num_beams == 1 and not do_sample and num_return_sequences > 1:
        raise InvalidParameterError("greedy decoding returns one sequence per prompt; set "
                                    "do_sample=True or num_beams >= num_return_sequences")
    unused = {"temperature": temperature != 1.0, "top_k": top_k is not None, "top_p": top_p != 1.0}
    if not do_sample and any(unused.values()):
        given = ", ".join(f"{name}={value!r}" for name, value in
                          (("temperature", temperature), ("top_k", top_k), ("top_p", top_p)) if unused[name])
        warnings.warn(f"{given}: sampling options, ignored because do_sample is False; set "
                      "do_sample=True to sample, or leave them out", UserWarning, stacklevel=3)


def _prompt_ids(model, prompts, tokenizer: str) -> list[np.ndarray]:
    if isinstance(prompts, str):
        prompts = [prompts]
    if isinstance(prompts, np.ndarray) and prompts.ndim == 1:
        prompts = [prompts]
    prompts = list(prompts)
    if prompts and all(isinstance(p, (int, np.integer)) for p in prompts):
        raise ValueError("prompts is a list of prompts; wrap a single id sequence in a list")
    split = get_tokenizer(tokenizer)
    seqs = []
    for p in prompts:
        if isinstance(p, str):
            tokens = split(p)
            _warn_if_mostly_unknown(p, tokens, model.vocab_, tokenizer)
            p = model.vocab_.encode(tokens)
        seqs.append(p)
    return model.check_histories(seqs)  # ids in range, no <s>


def _warn_if_mostly_unknown(prompt: str, tokens: list[str], vocab, tokenizer: str) -> None:
    # A prompt read as mostly <unk> conditions the model on almost nothing: say so, not silently.
    unknown = [t for t in tokens if t not in vocab]
    if len(unknown) * 2 > len(tokens):
        warnings.warn(f"prompt {prompt!r}: {len(unknown)} of its {len(tokens)} tokens ({tokenizer} "
                      f"tokenizer) are not in the model's vocabulary and read as <unk>: "
                      f"{', '.join(map(repr, dict.fromkeys(unknown)))}", UserWarning, stacklevel=4)


def _decoder(vocab, tokenizer: str):
    detok = get_detokenizer(tokenizer)

    def decode(tokens: list[int]) -> str:
        words = tokens[:-1] if tokens and tokens[-1] == EOS_ID else tokens
        return detok(vocab.decode(words))

    return decode


# --- scores -> choices ----------------------------------------------------------------------
def _no_bos(lp: np.ndarray) -> np.ndarray:
    # The contract gives <s> probability 0; enforce it here too, so that no model can emit it.
    if np.isfinite(lp[:, BOS_ID]).any():
        lp = lp.copy()
        lp[:, BOS_ID] = -np.inf
    return lp


def _no_eos(s: np.ndarray) -> np.ndarray:
    """`</s>` masked (for min_new_tokens), except in a row where nothing else is possible."""
    masked = s.copy()
    masked[:, EOS_ID] = -np.inf
    stuck = ~np.isfinite(masked).any(axis=1)
    masked[stuck, EOS_ID] = s[stuck, EOS_ID]
    return masked


def _penalise(lp: np.ndarray, seen: np.ndarray, penalty: float) -> np.ndarray:
    # Log-probabilities are <= 0, so CTRL's "multiply negative scores" always applies.
    return lp if penalty == 1.0 else np.where(seen, lp * penalty, lp)


def _warp(lp: np.ndarray, temperature: float, top_k: int | None, top_p: float) -> np.ndarray:
    """Temperature, then top-k, then top-p (transformers' order); rows stay unnormalised."""
    s = lp / temperature if temperature != 1.0 else lp
    V = s.shape[1]
    if top_k and top_k < V:
        kth = -np.partition(-s, top_k - 1, axis=1)[:, top_k - 1:top_k]
        s = np.where(s < kth, -np.inf, s)  # ties with the k-th score are kept, as in transformers
    if top_p < 1.0:
        order = np.argsort(-s, axis=1, kind="stable")
        srt = np.take_along_axis(s, order, axis=1)
        p = np.exp(srt - srt[:, :1])
        p /= p.sum(axis=1, keepdims=True)
        before = np.cumsum(p, axis=1) - p  # mass of the tokens ranked above each one
        drop = np.zeros_like(s, dtype=bool)
        np.put_along_axis(drop, order, before >= top_p, axis=1)  # the best token is always kept
        s = np.where(drop, -np.inf, s)
    return s


def _sample(s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # float32 halves the memory traffic of this hot loop; sampling needs no more precision.
    p = np.exp((s - s.max(axis=1, keepdims=True)).astype(np.float32))
    cdf = np.cumsum(p, axis=1)
    total = cdf[:, -1]
    u = np.minimum(rng.random(len(s)).astype(np.float32) * total, np.nextafter(total, np.float32(0)))
    # The first index whose cdf exceeds u (u < total, so one exists): zero-probability tokens never qualify.
    return (cdf <= u[:, None]).sum(axis=1)


def _decode_rows(model, rows, limits, rng, *, do_sample, temperature, top_k, top_p,
                 repetition_penalty, min_new_tokens):
    """Greedy or sampled continuation of every row at once; finished rows leave the batch."""
    R, V = len(rows), len(model.vocab_)
    max_new_tokens = int(limits.max()) if R else 0
    tokens = np.full((R, max_new_tokens), -1, np.int64)
    logps = np.zeros((R, max_new_tokens))
    lengths = np.zeros(R, np.int64)
    seen = _seen_matrix(rows, V) if repetition_penalty != 1.0 else None
    alive = np.nonzero(limits > 0)[0]
    if len(alive):
        state, lp = model.start_state([rows[r] for r in alive])
        for t in range(max_new_tokens):
            lp = _no_bos(lp)
            s = _penalise(lp, seen[alive], repetition_penalty) if seen is not None else lp
            if t < min_new_tokens:
                s = _no_eos(s)
            if do_sample:
                chosen = _sample(_warp(s, temperature, top_k, top_p), rng)
            else:
                chosen = np.argmax(s, axis=1)  # ties go to the lowest id
            tokens[alive, t] = chosen
            logps[alive, t] = lp[np.arange(len(alive)), chosen]
            lengths[alive] = t + 1
            if seen is not None:
                seen[alive, chosen] = True
            keep = np.nonzero((chosen != EOS_ID) & (limits[alive] > t + 1))[0]
            if len(keep) == 0:
                break
            if len(keep) < len(alive):
                state = model.reorder_state(state, keep)
                alive = alive[keep]
            state, lp = model.advance(state, chosen[keep])
    return [(rows[r], tokens[r, :lengths[r]].tolist(), logps[r, :lengths[r]], logps[r, :lengths[r]].sum())
            for r in range(R)]


def _seen_matrix(rows: Sequence[np.ndarray], V: int) -> np.ndarray:
    seen = np.zeros((len(rows), V), bool)
    for r, h in enumerate(rows):
        seen[r, h] = True
    return seen


# --- beam search ------------------------------------------------------------------------------
@dataclass
class _Beam:
    tokens: list[int]
    logps: list[float]     # the model's ln p of each token
    score: float           # running sum of (penalised) scores


def _beam_search(model, prompts, limits, num_beams, length_penalty, num_return, penalty, min_new_tokens):
    """Beam search over every prompt at once: the model scores all live beams in one call."""
    V = len(model.vocab_)
    live = [[_Beam([], [], 0.0)] for _ in prompts]   # one beam per prompt until the first step
    done: list[list[tuple[float, _Beam]]] = [[] for _ in prompts]
    active = [g for g in range(len(prompts)) if limits[g] > 0]
    seen = _seen_matrix([prompts[g] for g in active], V) if penalty != 1.0 else None
    if active:
        state, lp = model.start_state([prompts[g] for g in active])
    for t in range(int(limits.max()) if active else 0):
        lp = _no_bos(lp)
        s = _penalise(lp, seen, penalty) if seen is not None else lp
        if t < min_new_tokens:
            s = _no_eos(s)
        src, new_tokens, next_active, row = [], [], [], 0
        for g in active:
            beams = live[g]
            rows = np.arange(row, row + len(beams))
            row += len(beams)
            total = np.array([b.score for b in beams])[:, None] + s[rows]   # (beams, V)
            flat = total.ravel()
            n_cand = min(2 * num_beams, flat.size)
            cand = np.argpartition(-flat, n_cand - 1)[:n_cand]
            cand = cand[np.lexsort((cand, -flat[cand]))]   # best first, ties by lower index
            kept = []
            for rank, c in enumerate(cand):
                if not np.isfinite(flat[c]) or len(kept) == num_beams:
                    break
                b, w = divmod(int(c), V)
                beam = _Beam(beams[b].tokens + [w], beams[b].logps + [float(lp[rows[b], w])], float(flat[c]))
                if w == EOS_ID:
                    if rank < num_beams:   # transformers ignores </s> ranked below num_beams
                        _add_finished(done[g], beam, num_beams, length_penalty)
                else:
                    kept.append((rows[b], beam))
            live[g] = [beam for _, beam in kept]
            if live[g] and _beams_done(done[g], live[g], num_beams, length_penalty, t + 1):
                live[g] = []
            if live[g] and t + 1 < limits[g]:
                next_active.append(g)
                src += [r for r, _ in kept]
                new_tokens += [beam.tokens[-1] for _, beam in kept]
        active = next_active
        if not active:
            break
        state = model.reorder_state(state, src)
        if seen is not None:
            seen = seen[src]
            seen[np.arange(len(src)), new_tokens] = True
        state, lp = model.advance(state, new_tokens)
    results = []
    for g, prompt in enumerate(prompts):
        for beam in live[g]:   # unfinished beams compete at max_new_tokens
            _add_finished(done[g], beam, num_beams, length_penalty)
        if not done[g]:
            done[g].append((0.0, _Beam([], [], 0.0)))
        for score, beam in sorted(done[g], key=lambda x: -x[0])[:num_return]:
            results.append((prompt, beam.tokens, beam.logps, score))
    return results


def _normalised(score: float, length: int, length_penalty: float) -> float:
    return score / max(length, 1) ** length_penalty


def _add_finished(done, beam, num_beams, length_penalty):
    done.append((_normalised(beam.score, len(beam.tokens), length_penalty), beam))
    if len(done) > num_beams:
        done.remove(min(done, key=lambda x: x[0]))


def _beams_done(done, live, num_beams, length_penalty, cur_len) -> bool:
    """transformers' rule (early_stopping=False): stop once no live beam, at its current
    length, would beat the worst kept hypothesis (exact when length_penalty == 0)."""
    if len(done) < num_beams:
        return False
    best = max(b.score for b in live)
    return _normalised(best, cur_len, length_penalty) <= min(x[0] for x in done)
