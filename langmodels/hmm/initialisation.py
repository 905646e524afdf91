"""Starting points for Baum-Welch: random Dirichlet draws, or a class-bigram model from word clusters.

`clusters` groups words by the words around them (k-means on an SVD of left/right neighbour
counts), gives cluster k's state the cluster's words as emissions and the cluster bigram counts as
transitions, then mixes in a little of the unigram and uniform distributions so that EM can still
move any word to any state (EM never revives a probability that is exactly 0).
"""

from __future__ import annotations

import numpy as np

from ..corpus import Corpus
from ..vocabulary import BOS_ID


def random_init(K: int, V: int, rng: np.random.Generator):
    """startprob ~ Dir(1), each transition row ~ Dir(1), each emission row ~ Dir(1) over all but `<s>`."""
    startprob = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.ones(K), size=K)
    emission = np.zeros((K, V))
    emission[:, np.arange(V) != BOS_ID] = rng.dirichlet(np.ones(V - 1), size=K)
    return startprob, transmat, emission


def cluster_init(corpus: Corpus, K: int, rng: np.random.Generator, mix: float = 0.1, dims: int = 64):
    """(startprob, transmat, emission) of the class-bigram model of a k-means word clustering."""
    from scipy import sparse
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD

    V = len(corpus.vocab)
    seq_start = np.zeros(corpus.n_targets, bool)
    seq_start[corpus.offsets[:-1] + np.arange(len(corpus))] = True
    tgt = corpus.targets().astype(np.int64)
    prev = np.where(seq_start, BOS_ID, np.roll(tgt, 1))           # the token before each target
    counts = np.bincount(tgt, minlength=V).astype(np.float64)
    ones = np.ones(len(tgt))
    left = sparse.csr_matrix((ones, (tgt, prev)), shape=(V, V))      # word x previous word
    right = sparse.csr_matrix((ones, (prev, tgt)), shape=(V, V))     # word x next word
    feats = sparse.hstack([left, right]).tocsr()
    feats = sparse.diags(1.0 / np.maximum(np.asarray(feats.sum(1)).ravel(), 1.0)) @ feats
    seen = np.flatnonzero(counts > 0)
    n_clusters = min(K, len(seen))
    svd = TruncatedSVD(min(dims, max(1, min(feats.shape) - 1)), random_state=int(rng.integers(2**31)))
    z = svd.fit_transform(feats[seen]) if len(seen) > 2 else np.eye(len(seen))
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    km = KMeans(n_clusters, n_init=1, random_state=int(rng.integers(2**31)))
    labels = km.fit_predict(z, sample_weight=np.sqrt(counts[seen]))
    word_state = np.full(V, -1)
    word_state[seen] = labels

    emission = np.zeros((K, V))
    np.add.at(emission, (labels, seen), counts[seen])
    unigram = counts / counts.sum()
    uniform = np.where(np.arange(V) == BOS_ID, 0.0, 1.0 / (V - 1))
    rowsum = emission.sum(axis=1, keepdims=True)
    emission = np.where(rowsum > 0, emission / np.maximum(rowsum, 1e-300), unigram)
    emission = emission * (1 - mix) + mix * (0.5 * unigram + 0.5 * uniform)
    emission[:, BOS_ID] = 0.0
    emission = _normalise(emission)

    # class bigrams; a state with no cluster (K > distinct words) starts from uniform rows
    zs, zt = word_state[prev], word_state[tgt]
    trans = np.ones((K, K))
    ok = ~seq_start
    np.add.at(trans, (zs[ok], zt[ok]), 1.0)
    startprob = np.bincount(zt[seq_start], minlength=K) + 1.0
    jitter = rng.dirichlet(np.ones(K), size=K + 1)                   # breaks ties between empty states
    transmat = _normalise(_normalise(trans) * (1 - mix) + mix * jitter[:K])
    startprob = _normalise(startprob / startprob.sum() * (1 - mix) + mix * jitter[K])
    return startprob, transmat, emission


def _normalise(a: np.ndarray) -> np.ndarray:
    return a / a.sum(axis=-1, keepdims=True)
