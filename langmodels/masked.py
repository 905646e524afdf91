"""The `MaskedLanguageModel` contract: BERT-style models, which see both sides of a position.

A masked LM has no next-token distribution, so it does not obey the `LanguageModel` contract
and offers no perplexity. It answers one question instead, `masked_logprobs(sequences,
positions)`: the natural-log distribution over the shared vocabulary at a masked position given
every other token of the sequence. A sequence is read as

    <s> w1 ... wn </s>          positions 0 .. n-1 are the words, position n is `</s>`

so `</s>` is a target like everywhere else, and `<s>` is context only (never predicted: its
log-probability is -inf in every row).

Derived from that question:

    pseudo_log_likelihood(corpus)   per counted target, ln p(w_i | every other token), w_i alone
                                    masked (Salazar et al., 2020, "Masked Language Model Scoring")
    pseudo_perplexity(corpus)       exp(-mean PLL): NOT comparable with a causal perplexity (the
                                    PLLs of a sentence are not a factorisation of its probability)
    fill_mask(texts)                the top words at each `<mask>` of a text

Families implement `_fit` and `_masked_logprobs` (a batch of sequences with their masked
positions, scored together: one forward pass serves many masked copies), and may override
`_pseudo_log_likelihood`. Fitting, parameters and save / load are `langmodels.base.Estimator`'s,
shared with the causal models; `langmodels.load` returns either kind.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np

from .base import Estimator
from .corpus import Corpus
from .tokenize import get_tokenizer
from .vocabulary import BOS_ID, EOS_ID

#: How `fill_mask` texts mark the positions to fill.
MASK = "<mask>"
#: Masked copies scored per call of `_masked_logprobs` when computing pseudo-log-likelihoods
#: (at most about this many floats of log-probabilities are held at a time).
PLL_FLOATS = 1 << 23


class MaskedLanguageModel(Estimator):
    """Base class of masked (bidirectional) language models; see the module docstring.

    Good calls::

        bert = make("bert", embed_dim=64, n_layers=2).fit(train)
        bert.masked_logprobs([[5, 9, 7]], [1])            # (1, V): the word between 5 and 7
        bert.pseudo_perplexity(test)                       # exp(-mean PLL), own scale
        bert.fill_mask(["the <mask> sat on the mat"])     # [[[("cat", 0.41), ...]]]

    Bad calls::

        bert.token_logprobs(test)       # AttributeError: no causal distribution to score with
        bert.masked_logprobs([[5, 9]], [3])   # ValueError: positions run 0 .. len (the </s> slot)
    """

    # --- the query -------------------------------------------------------------------------
    def masked_logprobs(self, sequences: Sequence[Sequence[int]],
                        positions: Sequence[int | Sequence[int]]) -> np.ndarray:
        """ln p(token at each masked position | the rest of `<s>` + sequence + `</s>`).

        `positions[i]` is one position of `sequences[i]`, or several masked together; position
        `len(sequences[i])` is the `</s>` slot. Returns (number of masked positions, V), one row
        per masked position in order; each row sums to 1 and gives `<s>` -inf. The ids at
        masked positions are ignored.
        """
        self.check_is_fitted()
        seqs, masks = self._check_masked(sequences, positions)
        if not seqs:
            return np.zeros((0, len(self.vocab_)))
        return self._masked_logprobs(seqs, masks)

    def _check_masked(self, sequences, positions) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if isinstance(sequences, np.ndarray) and sequences.ndim == 1:
            raise ValueError("sequences is a list of id sequences; wrap a single sequence in a list")
        if len(sequences) != len(positions):
            raise ValueError(f"{len(sequences)} sequences but {len(positions)} positions entries")
        V = len(self.vocab_)
        seqs, masks = [], []
        for seq, pos in zip(sequences, positions):
            a = np.asarray(seq, dtype=np.int64).reshape(-1)
            if len(a) and (a.min() < 0 or a.max() >= V):
                raise ValueError(f"sequence {a.tolist()[:10]} has an id outside 0..{V - 1}")
            if (a == BOS_ID).any():
                raise ValueError(f"sequences are the tokens between <s> and </s>: they must not "
                                 f"contain <s> (id {BOS_ID})")
            p = np.unique(np.asarray(pos, dtype=np.int64).reshape(-1))
            if len(p) == 0 or p.min() < 0 or p.max() > len(a):
                raise ValueError(f"positions {np.asarray(pos).tolist()} must lie in 0..{len(a)} for a "
                                 f"sequence of {len(a)} tokens (position {len(a)} is </s>)")
            seqs.append(a)
            masks.append(p)
        return seqs, masks

    @abstractmethod
    def _masked_logprobs(self, sequences: list[np.ndarray], masks: list[np.ndarray]) -> np.ndarray:
        """(sum of len(masks), V) float64 log-probabilities for validated sequences, each mask a
        sorted array of positions in 0..len(sequence) masked together."""

    # --- derived scores ----------------------------------------------------------------------
    def pseudo_log_likelihood(self, corpus: Corpus) -> np.ndarray:
        """ln p(w_i | all other tokens of its sequence) for every counted target of `corpus`, in
        `corpus.targets()` order, each target masked alone; `</s>` included."""
        self.check_is_fitted()
        if not isinstance(corpus, Corpus):
            raise TypeError(f"pseudo_log_likelihood expects a langmodels.Corpus, got {type(corpus).__name__}")
        corpus.check_vocab(self.vocab_)
        return self._pseudo_log_likelihood(corpus)

    def pseudo_perplexity(self, corpus: Corpus) -> float:
        """exp(-mean pseudo-log-likelihood) over the counted targets. It is on its own scale:
        never compare it with a causal model's perplexity."""
        return float(np.exp(-np.mean(self.pseudo_log_likelihood(corpus))))

    def _pseudo_log_likelihood(self, corpus: Corpus) -> np.ndarray:
        out = np.empty(corpus.n_targets)
        for lp, targets, where in self._masked_chunks(corpus, PLL_FLOATS):
            out[where] = lp[np.arange(len(targets)), targets]
        return out

    def masked_target_distributions(self, corpus: Corpus, max_floats: int = 4_000_000):
        """Yield (lp, targets) chunks covering every counted target of `corpus` once: lp (n, V)
        is the distribution at each target with it alone masked (both sides visible). What
        ranking metrics read for a masked model (`target_distributions` for a causal one)."""
        self.check_is_fitted()
        corpus.check_vocab(self.vocab_)
        for lp, targets, _ in self._masked_chunks(corpus, max(1, int(max_floats))):
            yield lp, targets

    def _masked_chunks(self, corpus: Corpus, max_floats: int):
        """(lp, targets, target index) for every single-position masked copy of every sequence,
        a chunk of about `max_floats` log-probabilities at a time."""
        per_call = max(1, max_floats // len(self.vocab_))
        seqs, masks, targets, where = [], [], [], []
        pos = 0
        for seq in corpus.sequences():
            full = np.append(seq, EOS_ID)
            for p in range(len(full)):
                seqs.append(seq)
                masks.append(np.array([p]))
                targets.append(full[p])
                where.append(pos + p)
                if len(seqs) == per_call:
                    yield self._masked_logprobs(seqs, masks), np.array(targets), np.array(where)
                    seqs, masks, targets, where = [], [], [], []
            pos += len(full)
        if seqs:
            yield self._masked_logprobs(seqs, masks), np.array(targets), np.array(where)

    def fill_mask(self, texts: Sequence[str], top_k: int = 5, mask: str = MASK) -> list[list[list[tuple]]]:
        """The `top_k` most likely words at each `mask` of each text: for text i and its j-th
        mask, `result[i][j]` is a list of (word, probability), best first. Every mask of a text
        is masked at once; the text is split by the tokenizer the model was fitted with, and
        words outside the vocabulary read as `<unk>`."""
        self.check_is_fitted()
        if isinstance(texts, str):
            raise TypeError("fill_mask expects a list of texts; wrap a single text in a list")
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        split = get_tokenizer(self.tokenizer_name_)
        seqs, masks = [], []
        for text in texts:
            parts = text.split(mask)
            if len(parts) < 2:
                raise ValueError(f"text {text[:60]!r} has no {mask}")
            tokens, where = [], []
            for k, part in enumerate(parts):
                tokens += split(part)
                if k < len(parts) - 1:
                    where.append(len(tokens))
                    tokens.append(self.vocab_.tokens[EOS_ID])   # a placeholder: masked positions are ignored
            seqs.append(self.vocab_.encode(tokens))
            masks.append(where)
        lp = self.masked_logprobs(seqs, masks)
        k = min(top_k, len(self.vocab_) - 1)
        best = np.argsort(-lp, axis=1, kind="stable")[:, :k]
        out, row = [], 0
        for where in masks:
            out.append([[(self.vocab_.tokens[v], float(np.exp(lp[row + j, v]))) for v in best[row + j]]
                        for j in range(len(where))])
            row += len(where)
        return out
