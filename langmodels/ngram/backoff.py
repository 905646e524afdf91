"""The backoff form every n-gram model is queried in (the form an ARPA file stores).

    p(w | h) = p_k(h w)                  if the n-gram h w is stored,
             = bow(h) * p(w | h')        otherwise (h' = h without its first word; bow = 1 if h
                                          is not stored),

down to the unigrams, which hold every word. Interpolated models (Kneser-Ney, Witten-Bell, ...)
convert exactly: p_k(hw) is the interpolated probability and bow(h) the interpolation weight.
Add-k smoothing is the one exception ARPA cannot express: an unseen word after a seen context
gets bow(h) * uniform, so it runs in `uniform_backoff` mode (longest seen context, else uniform).

All look-ups are `searchsorted` over whole arrays: scoring a corpus is one pass per order.
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import BOS_ID
from .counts import compact_keys, lookup, search
from .hashing import HashIndex

#: Tables at least this long are probed through a hash index, built on first use (4 bytes a
#: slot, 2-4 slots an n-gram); below it a binary search over sorted queries stays in cache
#: and is as fast.
HASH_MIN = 1 << 22


class BackoffTables:
    """Per order k = 1..N: sorted keys (see `counts`), natural-log probabilities `logp[k-1]`,
    and for k < N natural-log backoff weights `logbow[k-1]` (0 where the n-gram is no context).
    """

    def __init__(self, keys, logp, logbow, V: int, uniform_backoff: bool = False):
        keys = [np.asarray(k, np.int64) for k in keys]
        self.logp = [np.ascontiguousarray(p, np.float64) for p in logp]
        self.logbow = [np.ascontiguousarray(b, np.float64) for b in logbow]
        self.V, self.order, self.uniform_backoff = int(V), len(keys), bool(uniform_backoff)
        if len(keys[0]) != V or (keys[0] != np.arange(V)).any():
            raise ValueError(f"the unigram table must hold all {V} words in id order")
        if len(self.logbow) != self.order - 1:
            raise ValueError(f"expected {self.order - 1} backoff arrays, got {len(self.logbow)}")
        for k in range(self.order):
            if len(self.logp[k]) != len(keys[k]):
                raise ValueError(f"order {k + 1}: {len(keys[k])} keys but {len(self.logp[k])} probabilities")
            if k < self.order - 1 and len(self.logbow[k]) != len(keys[k]):
                raise ValueError(f"order {k + 1}: {len(keys[k])} keys but {len(self.logbow[k])} backoffs")
            if k and len(keys[k]) and (np.diff(keys[k]) <= 0).any():
                raise ValueError(f"order {k + 1}: keys are not strictly increasing")
        self.keys = [compact_keys(k) for k in keys]
        self._hash: list[HashIndex | None] = [None] * self.order
        self.log_uniform = -np.log(V - 1)
        # Add-k asks "is this context ever continued?" at every position: one flag per entry.
        self._continued = None
        if self.uniform_backoff:
            self._continued = []
            for k in range(self.order - 1):
                flag = np.zeros(len(keys[k]), bool)
                flag[keys[k + 1] // self.V] = True
                self._continued.append(flag)

    def find(self, k: int, query: np.ndarray) -> np.ndarray:
        """Index in the order-k table of each query key (any shape), -1 where absent."""
        keys = self.keys[k - 1]
        if len(keys) < HASH_MIN:
            return lookup(keys, query)
        if self._hash[k - 1] is None:
            self._hash[k - 1] = HashIndex(keys)
        return self._hash[k - 1].find(query)

    def stream_nodes(self, tokens: np.ndarray) -> list[np.ndarray]:
        """nodes[k-1][t] = index in the order-k table of the window of length k ending at t, or -1.

        One look-up per order over the whole stream; a window reaching across a sentence boundary
        contains `</s> <s>`, which no table holds, so it is -1 without extra bookkeeping.
        """
        nodes = [np.where(tokens < self.V, tokens, -1)]
        for k in range(2, self.order + 1):
            prev = np.full(len(tokens), -1, np.int64)
            prev[1:] = nodes[-1][:-1]
            nodes.append(self.find(k, np.where(prev >= 0, prev * self.V + tokens, -1)))
        return nodes

    @property
    def n_ngrams(self) -> list[int]:
        return [len(k) for k in self.keys]

    def nbytes(self) -> int:
        arrays = self.keys + self.logp + self.logbow + (self._continued or [])
        return int(sum(a.nbytes for a in arrays) + sum(h.nbytes for h in self._hash if h is not None))

    def successors(self, k: int, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[lo, hi): the order k+1 entries extending order-k entries `ctx` (one sorted run each)."""
        ctx = np.asarray(ctx, np.int64)
        return search(self.keys[k], ctx * self.V), search(self.keys[k], (ctx + 1) * self.V)

    def has_successors(self, k: int, ctx: np.ndarray) -> np.ndarray:
        """For order-k entries `ctx` (>= 0), whether some order k+1 n-gram extends them."""
        if self._continued is not None:
            return self._continued[k - 1][ctx]
        lo, hi = self.successors(k, ctx)
        return hi > lo

    # --- scoring a stream ------------------------------------------------------------------
    def score_stream(self, tokens: np.ndarray) -> np.ndarray:
        """ln p(tokens[t] | the window before t) for every position of a window stream."""
        if self.uniform_backoff:
            return self._score_uniform(self.stream_nodes(tokens), tokens)
        # Climb the orders: p_k(w|h) = p_k(hw) if hw is stored, else bow(h) + p_{k-1}(w|h'), where
        # h is the length k-1 context. Only positions whose h is stored change (bow = 0 elsewhere),
        # a set that shrinks with k. Bigrams run on the whole stream, as slices.
        n, V = len(tokens), self.V
        out = self.logp[0][tokens]
        if self.order == 1:
            return out
        node = self.find(2, tokens[:-1] * V + tokens[1:])
        after_first = out[1:]
        after_first += self.logbow[0][tokens[:-1]]
        hit = np.flatnonzero(node >= 0)
        ctx = node[hit]
        after_first[hit] = self.logp[1][ctx]
        pos = hit + 2                          # where the stored bigram is the context
        for k in range(3, self.order + 1):
            if len(pos) and pos[-1] == n:      # a context ending the stream predicts nothing
                pos, ctx = pos[:-1], ctx[:-1]
            node = self.find(k, ctx * V + tokens[pos])
            out[pos] += self.logbow[k - 2][ctx]     # then overwritten where hw is stored (MLE: -inf)
            hit = np.flatnonzero(node >= 0)
            pos, ctx = pos[hit], node[hit]
            out[pos] = self.logp[k - 1][ctx]
            pos = pos + 1
        return out

    def _score_uniform(self, nodes, tokens):
        out = self.logp[0][tokens].copy()
        for k in range(2, self.order + 1):
            ctx = _shift(nodes[k - 2])
            ok = ctx >= 0
            ok[ok] = self.has_successors(k - 1, ctx[ok])
            node = nodes[k - 1][ok]
            seen = node >= 0
            out[ok] = np.where(seen, self.logp[k - 1][np.maximum(node, 0)],
                               self.logbow[k - 2][ctx[ok]] + self.log_uniform)
        return out

    # --- next-token distributions ------------------------------------------------------------
    def context_nodes(self, contexts: np.ndarray) -> list[np.ndarray]:
        """For a (B, N-1) matrix of context ids (-1 = before `<s>`), the table index of the last
        j tokens for j = 1..N-1 (-1 where not stored)."""
        B, L = contexts.shape
        nodes = [np.where(contexts >= 0, contexts, -1)]
        for k in range(2, L + 1):
            prev = np.full((B, L), -1, np.int64)
            prev[:, 1:] = nodes[-1][:, :-1]
            q = np.where((prev >= 0) & (contexts >= 0), prev * self.V + contexts, -1)
            nodes.append(self.find(k, q))
        return [n[:, -1] for n in nodes]

    def next_logprobs(self, contexts: np.ndarray) -> np.ndarray:
        """(B, V) ln p(. | context) for a (B, N-1) context matrix."""
        B = len(contexts)
        ctx = self.context_nodes(contexts) if self.order > 1 else []
        rows = np.broadcast_to(self.logp[0], (B, self.V)).copy()
        for k in range(2, self.order + 1):
            c = ctx[k - 2]
            valid = c >= 0
            if self.uniform_backoff:
                valid[valid] = self.has_successors(k - 1, c[valid])
                rows[valid] = (self.logbow[k - 2][c[valid]] + self.log_uniform)[:, None]
            else:
                rows[valid] += self.logbow[k - 2][c[valid]][:, None]
            self._overwrite_successors(rows, k, np.flatnonzero(valid), c[valid])
        rows[:, BOS_ID] = -np.inf
        return rows

    def _overwrite_successors(self, rows, k, which, ctx):
        lo, hi = self.successors(k - 1, ctx)
        lens = hi - lo
        if lens.sum() == 0:
            return
        b = np.repeat(which, lens)
        e = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(lo, lens)
        rows[b, self.keys[k - 1][e] % self.V] = self.logp[k - 1][e]


def _shift(a: np.ndarray) -> np.ndarray:
    out = np.full(len(a), -1, np.int64)
    out[1:] = a[:-1]
    return out


def context_matrix(histories, order: int) -> np.ndarray:
    """(B, order-1) matrix of the last order-1 tokens of `<s>` + history, -1 padded on the left."""
    L = order - 1
    out = np.full((len(histories), L), -1, np.int64)
    if L == 0:
        return out
    for i, h in enumerate(histories):
        tail = np.concatenate([[BOS_ID], h])[-L:]
        out[i, L - len(tail):] = tail
    return out
