"""The adaptive softmax output layer (Grave et al. 2017), for the RNN and Transformer families.

The vocabulary's ids are sorted by descending training frequency (`langmodels.vocabulary`), so
`cutoffs` c_0 < c_1 < ... split them into a head cluster of the c_0 most frequent ids and tail
clusters [c_0, c_1), [c_1, c_2), ..., [c_last, V):

    p(w | h) = p_head(w | h)                                  w in the head cluster
    p(w | h) = p_head(tail i | h) x p_tail_i(w | h)           w in tail cluster i

The head is a softmax over c_0 words plus one entry per tail; tail i projects h to d / 4^(i+1)
dimensions before its own softmax, so rare words cost less. It is still an exact distribution
over the whole vocabulary. `<s>` (id 1, in the head) is masked to -inf in the head's logits:
its probability is 0 and the rest is normalised without it, in training as in scoring.

Training and the scoring of targets read only each target's own cluster (`nll`,
`target_logprobs`), never the (N, V) log-probabilities; `forward` gives those for full
distributions and generation. Two layers compute it (`_Clustered`): the
untied `AdaptiveSoftmax`, whose weights are those of `torch.nn.AdaptiveLogSoftmaxWithLoss` (same
names in a saved state_dict), and `TiedAdaptiveSoftmax` (`tie_weights=True`; Grave et al. 2017,
Baevski & Auli 2019), whose word rows are the input embedding's, each tail reading them through a
learned d x d projection.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidParameterError
from ..vocabulary import BOS_ID
from .batching import IGNORE

# Default cutoffs: the head holds the words covering 80% of the training tokens, the first tail
# those up to 95%, the second the rest (see `frequency_cutoffs`).
COVERAGE = (0.8, 0.95)
MIN_HEAD = 3   # the specials <unk>, <s>, </s> (ids 0-2) always in the head


def frequency_cutoffs(counts: np.ndarray) -> list[int]:
    """Default cutoffs for a vocabulary with these training counts (ids by descending frequency):
    the ranks where the cumulative count first reaches each of `COVERAGE`, kept increasing and
    inside (MIN_HEAD, V); a vocabulary without counts splits its ids at the same fractions."""
    V = len(counts)
    total = float(np.sum(counts))
    if total > 0:
        cum = np.cumsum(counts) / total
        ranks = [int(np.searchsorted(cum, q)) + 1 for q in COVERAGE]
    else:
        ranks = [int(q * V) for q in COVERAGE]
    cutoffs: list[int] = []
    for r in ranks:
        if max(MIN_HEAD, cutoffs[-1] if cutoffs else 0) < r < V:
            cutoffs.append(r)
    return cutoffs or [max(MIN_HEAD, V // 2)]


def check_cutoffs(cutoffs, vocab_size: int | None = None) -> None:
    """`cutoffs`: None or strictly increasing ints, the first at least 3, the last below V."""
    if cutoffs is None:
        return
    if (not isinstance(cutoffs, (list, tuple)) or not cutoffs
            or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in cutoffs)):
        raise InvalidParameterError(f"cutoffs must be None or a non-empty list of integers, got {cutoffs!r}")
    if any(b <= a for a, b in zip(cutoffs, cutoffs[1:])):
        raise InvalidParameterError(f"cutoffs must be strictly increasing, got {list(cutoffs)}")
    if cutoffs[0] < MIN_HEAD:
        raise InvalidParameterError(f"cutoffs[0] must be at least {MIN_HEAD} (the head cluster holds "
                                    f"<unk>, <s> and </s>), got {cutoffs[0]}")
    if vocab_size is not None and cutoffs[-1] >= vocab_size:
        raise InvalidParameterError(f"cutoffs must be below the vocabulary size {vocab_size} (each "
                                    f"tail cluster needs a word), got {list(cutoffs)}")


class _Clustered:
    """The exact clustered distribution and its training loss, from a subclass's `head_logits(x)`
    ((n, c_0 + tails): the head words, then one entry per tail cluster) and `tail_logits(i, x)`
    ((n, size of tail i)); `cutoffs` ends with V, `shortlist_size` is c_0, `n_classes` is V."""

    def head_logprobs(self, x):
        """(n, d) -> (n, c_0 + tails) log-softmax of the head, `<s>` excluded."""
        z = self.head_logits(x).index_fill(1, torch.tensor([BOS_ID], device=x.device), -torch.inf)
        return F.log_softmax(z.float(), dim=1)

    def forward(self, x):
        """(..., d) features -> (..., V) log-probabilities with `<s>` at -inf."""
        lead, x = x.shape[:-1], x.reshape(-1, x.shape[-1])
        head = self.head_logprobs(x)                                   # (n, c_0 + tails)
        parts = [head[:, :self.shortlist_size]]
        for i in range(len(self.cutoffs) - 1):
            parts.append(F.log_softmax(self.tail_logits(i, x).float(), dim=1)
                         + head[:, self.shortlist_size + i, None])
        return torch.cat(parts, dim=1).view(*lead, self.n_classes)   # (..., V)

    def log_prob(self, x):
        """The (n, V) log-probabilities (as `forward`; torch's own would not exclude `<s>`)."""
        return self(x)

    def nll(self, x, target):
        """Summed -ln p(target | x) over rows whose target is not IGNORE; x (N, d), target (N,)."""
        keep = target != IGNORE
        return -self.target_logprobs(x[keep], target[keep]).sum()

    def target_logprobs(self, x, target):
        """(N,) float32 ln p(target | x); x (N, d), target (N,) real ids. Each row reads the head
        and only its own target's tail cluster (training and scoring alike)."""
        edges = torch.tensor(self.cutoffs[:-1], device=target.device)
        cluster = torch.bucketize(target, edges, right=True)           # 0: head, i: tail i
        head = self.head_logprobs(x)
        column = torch.where(cluster == 0, target, self.shortlist_size + cluster - 1)
        logp = head.gather(1, column[:, None]).squeeze(1)              # (N,)
        # A cluster without targets still runs (on no rows), so every weight is in the graph, as
        # DistributedDataParallel requires.
        for i in range(len(self.cutoffs) - 1):
            rows = (cluster == i + 1).nonzero().squeeze(1)
            local = F.log_softmax(self.tail_logits(i, x[rows]).float(), dim=1)
            word = (target[rows] - self.cutoffs[i])[:, None]
            logp = logp.index_add(0, rows, local.gather(1, word).squeeze(1))
        return logp


class AdaptiveSoftmax(_Clustered, nn.AdaptiveLogSoftmaxWithLoss):
    """(..., d) features -> (..., V) log-probabilities with `<s>` at -inf; `nll` for training.
    Its own weights: torch's head (c_0 + tails rows) and tails (a d -> d / 4^(i+1) projection,
    then one row per word)."""

    def __init__(self, in_features: int, n_classes: int, cutoffs):
        super().__init__(in_features, n_classes, list(cutoffs), div_value=4.0, head_bias=False)

    def head_logits(self, x):
        return self.head(x)

    def tail_logits(self, i, x):
        return self.tail[i](x)


class TiedAdaptiveSoftmax(_Clustered, nn.Module):
    """The adaptive softmax tied to the input embedding E (V, d) (`tie_weights=True`): a word's
    output row is its embedding row, in whichever cluster it falls.

        head logits   = x . [E[0:c_0]; C]^T + b_head        C: one learned row per tail cluster
        tail i logits = (x P_i) . E[c_i:c_{i+1}]^T + b_i    P_i: a learned d x d projection

    P_i starts as the identity, so each tail's words start with the tied full softmax's logits.
    Its own weights are C (`cluster`), the P_i (`proj`, (tails, d, d)) and one bias per word then
    per tail cluster (`bias`, V + tails, the full softmax's bias plus the clusters'); `weight` is
    the embedding itself, as the tied full softmax's (`embed.weight` and `head.weight` in a
    state_dict, one parameter). Every tail keeps the embedding's width d: it costs d^2 + d x size
    per row that reads it, against d x V per row for the full softmax."""

    def __init__(self, embed: nn.Embedding, cutoffs):
        super().__init__()
        V, d = embed.weight.shape
        self.n_classes, self.shortlist_size, self.cutoffs = V, cutoffs[0], [*cutoffs, V]
        self.weight = embed.weight
        k = len(cutoffs)
        self.cluster = nn.Parameter(torch.empty(k, d).uniform_(-0.1, 0.1))
        self.proj = nn.Parameter(torch.eye(d).repeat(k, 1, 1))
        self.bias = nn.Parameter(torch.zeros(V + k))

    def head_logits(self, x):
        c0, V = self.shortlist_size, self.n_classes
        w = torch.cat([self.weight[:c0], self.cluster])
        return F.linear(x, w, torch.cat([self.bias[:c0], self.bias[V:]]))

    def tail_logits(self, i, x):
        lo, hi = self.cutoffs[i], self.cutoffs[i + 1]
        return F.linear(x @ self.proj[i], self.weight[lo:hi], self.bias[lo:hi])


def carry_over_adaptive(state: dict, index: np.ndarray, cutoffs: list[int], prefix: str = "head.") -> dict:
    """The adaptive head's entries of `state` (a base model's) for a new vocabulary with these
    `cutoffs`, `index[i]` the base id of new id i (`Vocabulary.index_in`). A word keeps its base
    row when it falls in the same cluster in both; otherwise it starts from the base's `<unk>`
    row (head) or the mean row of the base's same tail cluster. The cluster entries of the head
    and the tails' projections are copied. The base's cutoffs are read from its weights' shapes.
    A tied head (`TiedAdaptiveSoftmax`) has no word rows of its own: its words' rows and biases are
    the embedding's and `bias`'s, gathered by `carry_over` (a word keeps its row whichever cluster
    it moves to, as its input embedding does); its cluster rows and projections are copied."""
    k = len(cutoffs)
    if f"{prefix}proj" in state:   # tied: the word rows are the embedding's, already carried over
        n_tails = len(state[f"{prefix}proj"])
        if n_tails != k:
            raise InvalidParameterError(f"init has a tied adaptive softmax with {n_tails} tail clusters, "
                                        f"this model's cutoffs {cutoffs} give {k}: use cutoffs with as many")
        return dict(state)
    n_tails = sum(1 for name in state if name.startswith(f"{prefix}tail.") and name.endswith(".1.weight"))
    if n_tails != k:
        raise InvalidParameterError(f"init has an adaptive softmax with {n_tails} tail clusters, this "
                                    f"model's cutoffs {cutoffs} give {k}: use cutoffs with as many")
    head = state[f"{prefix}head.weight"]                              # (c_0 + k, d)
    tails = [state[f"{prefix}tail.{i}.1.weight"] for i in range(k)]  # (size_i, d / 4^(i+1))
    base_edges = np.cumsum([len(head) - k] + [len(t) for t in tails])   # base c_0, c_1, ..., V
    edges = [0, *cutoffs]
    base_cluster = np.searchsorted(base_edges, index, side="right")   # cluster of each base id
    out = dict(state)
    for c, rows in enumerate([head[:len(head) - k]] + tails):
        new_ids = np.arange(edges[c], cutoffs[c] if c < k else len(index))
        base, same = index[new_ids], base_cluster[new_ids] == c
        fallback = rows[0] if c == 0 else rows.mean(0)
        local = torch.from_numpy(np.where(same, base - (base_edges[c - 1] if c else 0), 0))
        new_rows = torch.where(torch.from_numpy(same)[:, None], rows.index_select(0, local), fallback)
        if c == 0:
            out[f"{prefix}head.weight"] = torch.cat([new_rows, head[len(head) - k:]])
        else:
            out[f"{prefix}tail.{c - 1}.1.weight"] = new_rows
    return out
