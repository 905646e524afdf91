"""Batched, scaled forward-backward for the HMM language model, in torch (CPU or CUDA).

Sequences are sorted by length and cut into padded batches, so one time step of the whole
batch is one (B, K) @ (K, K) product. Each sequence is its tokens followed by `</s>`:

    tokens   x = [ w1  w2  w3  </s> PAD PAD ]      PAD = id V, an extra emission row of ones
    forward  a_t = normalise((a_{t-1} @ A) * B[:, x_t])      c_t = the normaliser = p(x_t | x_<t)
    backward b_t = A @ (B[:, x_{t+1}] * b_{t+1} / c_{t+1})    b_last = 1

A PAD column of ones makes c_t = 1 and b_t = 1 on padding (a normalised row times a stochastic
matrix sums to 1), so padding changes nothing and only the statistics need the mask.
`ln p(sequence) = sum_t ln c_t`; state posteriors are gamma_t = a_t * b_t (Rabiner's scaling).

This module imports torch; `langmodels.hmm` imports it only inside fit and scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..vocabulary import EOS_ID


@dataclass
class Batch:
    """Padded sequences (tokens + `</s>`), time-major: x is (T, B) with PAD = V after the end."""

    x: torch.Tensor          # (T, B) int64
    mask: torch.Tensor       # (T, B) bool, True on real tokens
    rows: np.ndarray         # (B,) which input sequence each column is


def make_batches(seqs: list[np.ndarray], pad: int, device, batch_size: int, max_cells: int,
                 n_states: int, eos: bool = True) -> list[Batch]:
    """Length-sorted padded batches of at most `batch_size` sequences and, where sequences are long,
    at most `max_cells` (T * B * K) cells, so the (T, B, K) work arrays stay bounded."""
    lengths = np.array([len(s) + eos for s in seqs], np.int64)
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        size = 1
        # grow while the batch's longest sequence still fits the budget
        while (start + size < len(order) and size < batch_size
               and lengths[order[start + size]] * (size + 1) * n_states <= max_cells):
            size += 1
        rows = order[start:start + size]
        T = int(lengths[rows[-1]])
        x = np.full((T, size), pad, np.int64)
        for j, r in enumerate(rows):
            n = len(seqs[r])
            x[:n, j] = seqs[r]
            if eos:
                x[n, j] = EOS_ID
        xt = torch.from_numpy(x).to(device)
        batches.append(Batch(xt, xt != pad, rows))
        start += size
    return batches


class Params:
    """The HMM's parameters as tensors, with the PAD emission row appended."""

    def __init__(self, startprob, transmat, emissionprob, device, dtype):
        def t(a):
            return torch.as_tensor(np.asarray(a), dtype=dtype).to(device)

        self.pi = t(startprob)                                     # (K,)
        self.A = t(transmat)                                       # (K, K)
        self.At = self.A.T.contiguous()
        K = self.A.shape[0]
        self.E = torch.cat([t(emissionprob).T, torch.ones(1, K, dtype=dtype, device=device)])  # (V+1, K)


class Workspace:
    """Work arrays reused across batches and iterations: writing into freshly allocated memory
    (page faults) made each time step about 1.5x slower on CPU."""

    def __init__(self):
        self._bufs: dict[str, torch.Tensor] = {}

    def take(self, name: str, shape, like: torch.Tensor) -> torch.Tensor:
        n = int(np.prod(shape))
        buf = self._bufs.get(name)
        if buf is None or buf.numel() < n or buf.dtype != like.dtype or buf.device != like.device:
            buf = self._bufs[name] = torch.empty(n, dtype=like.dtype, device=like.device)
        return buf[:n].view(*shape)


def forward(p: Params, x: torch.Tensor, guard: bool, ws: Workspace | None = None):
    """Scaled forward pass over a (T, B) batch: returns (obs (T,B,K), a (T,B,K), c (T,B)).

    With `guard`, a token of probability 0 (c_t = 0) gets ln c_t = -inf and the filter skips its
    update (keeps the predicted state distribution), so later tokens stay well defined.
    """
    ws = ws or Workspace()
    T, Bn = x.shape
    K = p.A.shape[0]
    obs = ws.take("obs", (T, Bn, K), p.E)
    torch.index_select(p.E, 0, x.reshape(-1), out=obs.view(T * Bn, K))   # obs_t = B[:, x_t]
    a = ws.take("a", (T, Bn, K), p.E)
    c = ws.take("c", (T, Bn), p.E)
    pred = p.pi.expand(Bn, -1)
    for t in range(T):
        # in place with out=: each step is small, so allocations would dominate
        if t:
            pred = torch.mm(a[t - 1], p.A, out=a[t])                   # (B, K) @ (K, K)
        if guard:
            f = pred * obs[t]
            torch.sum(f, 1, out=c[t])
            zero = (c[t] == 0).unsqueeze(1)
            a[t] = torch.where(zero, pred, f / torch.where(zero, 1.0, c[t].unsqueeze(1)))
        else:
            torch.mul(pred, obs[t], out=a[t])
            torch.sum(a[t], 1, out=c[t])
            a[t].div_(c[t].unsqueeze(1))
    return obs, a, c


def backward(p: Params, obs: torch.Tensor, c: torch.Tensor, ws: Workspace | None = None):
    """Scaled backward pass, overwriting `obs` with u_t = B[:, x_t] * b_t / c_t (u_0 unset).

    Returns (b, u): b_{t-1} = u_t @ A^T and xi_{t-1}(i, j) = a_{t-1}(i) A(i, j) u_t(j)."""
    ws = ws or Workspace()
    T, Bn, K = obs.shape
    u = obs.div_(c.unsqueeze(2))
    b = ws.take("b", (T, Bn, K), obs)
    b[T - 1] = 1.0
    for t in range(T - 1, 0, -1):
        u[t].mul_(b[t])
        torch.mm(u[t], p.At, out=b[t - 1])                             # (B, K) @ (K, K)
    return b, u


def e_step(p: Params, batches: list[Batch], ws: Workspace | None = None):
    """Expected counts under p: (log-likelihood, start (K,), trans (K,K), emit (V+1,K))."""
    ws = ws or Workspace()
    K = p.A.shape[0]
    start = torch.zeros(K, dtype=p.A.dtype, device=p.A.device)
    trans = torch.zeros(K, K, dtype=p.A.dtype, device=p.A.device)
    emit = torch.zeros_like(p.E)
    loglik = torch.zeros((), dtype=p.A.dtype, device=p.A.device)
    for batch in batches:
        x = batch.x
        obs, a, c = forward(p, x, guard=False, ws=ws)
        loglik += torch.log(c).masked_fill(~batch.mask, 0.0).sum()
        b, u = backward(p, obs, c, ws=ws)
        if x.shape[0] > 1:
            u1 = u[1:].mul_(batch.mask[1:].unsqueeze(2)).view(-1, K)  # only transitions into real tokens
            trans.addmm_(a[:-1].reshape(-1, K).T, u1)                 # (K, N) @ (N, K)
        gamma = a.mul_(b)                                              # a is not needed any more
        start += gamma[0].sum(0)
        emit.index_add_(0, x.reshape(-1), gamma.view(-1, K))         # PAD rows land in row V
    return float(loglik), start, trans * p.A, emit


def token_logprobs(p: Params, batches: list[Batch], starts: np.ndarray, n_out: int) -> np.ndarray:
    """ln p(x_t | x_<t) for every real position, written to out[starts[row] + t]."""
    out = np.empty(n_out)
    ws = Workspace()
    for batch in batches:
        _, _, c = forward(p, batch.x, guard=False, ws=ws)
        if bool((c == 0).any()):              # a token of probability 0: redo with the guard
            _, _, c = forward(p, batch.x, guard=True, ws=ws)
        T, Bn = batch.x.shape
        idx = starts[batch.rows][None, :] + np.arange(T)[:, None]           # (T, B)
        m = batch.mask.cpu().numpy()
        out[idx[m]] = torch.log(c).cpu().numpy()[m]
    return out


def log_likelihood(p: Params, batches: list[Batch]) -> float:
    """sum over the batches' sequences of ln p(sequence)."""
    ws, total = Workspace(), 0.0
    for batch in batches:
        _, _, c = forward(p, batch.x, guard=False, ws=ws)
        if bool((c == 0).any()):
            _, _, c = forward(p, batch.x, guard=True, ws=ws)
        total += float(torch.log(c).masked_fill(~batch.mask, 0.0).sum())
    return total


def posteriors(p: Params, batch: Batch) -> np.ndarray:
    """gamma (T, B, K): p(z_t = k | whole sequence), zero on padding."""
    obs, a, c = forward(p, batch.x, guard=True)
    b, _ = backward(p, obs, c)
    return (a * b * batch.mask.unsqueeze(2)).cpu().numpy()
