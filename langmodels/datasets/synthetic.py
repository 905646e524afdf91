"""The oracle corpus: a synthetic language in which every sentence has an exact probability.

A sentence is a skeleton of slots from the grammar in `_structure.py` (number agreement across
relative clauses, nested parentheses: long-distance structure) whose content slots are filled
left to right by a word model that mixes a class bigram (latent word classes, as an HMM sees
them) with word-to-word collocations (as an n-gram sees them):

    p(w | slot, prev) = lam(prev) [w = colloc(prev)] + (1 - lam(prev)) T[class(prev), class(w)] E[w]

where class(w) is the word's class inside its category (classes partition the words, so the
class is read off the word), T is a sparse Dirichlet transition table over classes, E is a
Zipfian emission inside each class, and lam(prev) > 0 only for a word with a collocate of the
slot's category (adjective -> noun, noun -> intransitive verb, verb -> adverb). The word's number
form is fixed by the slot. A sentence has exactly one derivation, so

    ln p(sentence </s>) = ln p(skeleton choices) + sum over content slots of ln p(w | slot, prev)

Pseudo-words are made from syllables: nouns `nomu`/`nomus` (sg/pl), verbs `tetis`/`teti` (sg/pl),
adjectives `bube`, adverbs `vipuly`; frequent lemmas get shorter stems (Zipf's law of brevity).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..errors import InvalidParameterError
from ._structure import (
    ADJ,
    ADV,
    CATEGORIES,
    DETERMINERS,
    FUNCTION_WORDS,
    N_FUNC,
    NOUN,
    VI,
    VT,
    Grammar,
    RandomChoices,
)

_CONSONANTS, _VOWELS = "bdfgklmnprtvz", "aeiou"  # no 's' or 'y': plural and adverb endings stay unique
_COLLOCATIONS = ((ADJ, NOUN), (NOUN, VI), (VI, ADV))  # source category -> category of its collocate


class SyntheticLanguage:
    """A seeded generator of sentences with exact log-probabilities.

    >>> lang = SyntheticLanguage(seed=0)
    >>> sents, logp = lang.sample(3, rng=1)
    >>> bool(np.allclose(logp, [lang.logprob(s) for s in sents]))
    True

    Parameters: `lemmas` and `n_classes` per category (adjective, noun, transitive verb,
    intransitive verb, adverb); `zipf` exponent of word frequencies; `class_alpha` Dirichlet
    concentration of the class transitions (small = sparse); `colloc_fraction` of source words
    that have a collocate and `colloc_strength` (lam); the grammar's probabilities (see
    `_structure.py`); `max_adj`/`max_clauses` (None = unbounded) make the language finite.
    """

    def __init__(self, *, seed: int = 0, lemmas=(400, 600, 200, 200, 100), n_classes=(4, 8, 4, 4, 2),
                 zipf: float = 1.0, class_alpha: float = 0.3, colloc_fraction: float = 0.3,
                 colloc_strength: float = 0.6, det_probs=(0.45, 0.25, 0.08, 0.12, 0.10),
                 p_sg: float = 0.5, p_adj: float = 0.35, max_adj: int | None = None,
                 p_paren: float = 0.08, p_rc: float = 0.3, depth_decay: float = 0.5, max_depth: int = 4,
                 p_obj_rel: float = 0.5, p_transitive: float = 0.5, p_adv: float = 0.3,
                 p_and: float = 0.15, max_clauses: int | None = None):
        self.seed, self.lemmas, self.n_classes = seed, tuple(lemmas), tuple(n_classes)
        self.zipf, self.class_alpha = zipf, class_alpha
        self.colloc_fraction, self.colloc_strength = colloc_fraction, colloc_strength
        self.grammar = Grammar(det_probs, p_sg, p_adj, max_adj, p_paren, p_rc, depth_decay, max_depth,
                               p_obj_rel, p_transitive, p_adv, p_and, max_clauses)
        self._check()
        self._build_lexicon(np.random.default_rng([seed, 0]))

    # --- construction --------------------------------------------------------------------
    def _check(self):
        g = self.grammar
        if len(self.lemmas) != 5 or len(self.n_classes) != 5:
            raise InvalidParameterError(f"lemmas and n_classes need one entry per category {CATEGORIES}")
        for cat, n, k in zip(CATEGORIES, self.lemmas, self.n_classes):
            if not (isinstance(n, int) and isinstance(k, int) and 1 <= k <= n):
                raise InvalidParameterError(f"{cat}: need integers 1 <= n_classes <= lemmas, got {k}, {n}")
        probs = dict(p_sg=g.p_sg, p_adj=g.p_adj, p_paren=g.p_paren, p_rc=g.p_rc, depth_decay=g.depth_decay,
                     p_obj_rel=g.p_obj_rel, p_transitive=g.p_transitive, p_adv=g.p_adv, p_and=g.p_and,
                     colloc_fraction=self.colloc_fraction, colloc_strength=self.colloc_strength)
        for name, p in probs.items():
            if not 0.0 <= p <= 1.0:
                raise InvalidParameterError(f"{name} must be a probability in [0, 1], got {p!r}")
        if g.p_adj >= 1 and g.max_adj is None or g.p_and >= 1 and g.max_clauses is None:
            raise InvalidParameterError("p_adj and p_and must be < 1 unless max_adj / max_clauses bound them")
        for name, v in dict(max_adj=g.max_adj, max_depth=g.max_depth, max_clauses=g.max_clauses).items():
            if v is not None and not (isinstance(v, int) and v >= (1 if name == "max_clauses" else 0)):
                raise InvalidParameterError(f"{name} must be None or an integer >= "
                                            f"{1 if name == 'max_clauses' else 0}, got {v!r}")
        dp = np.asarray(g.det_probs)
        if dp.shape != (len(DETERMINERS),) or (dp < 0).any() or abs(dp.sum() - 1) > 1e-9:
            raise InvalidParameterError(f"det_probs: {len(DETERMINERS)} probabilities summing to 1 "
                                        f"for {[d for d, _ in DETERMINERS]}, got {g.det_probs}")
        if self.zipf < 0 or self.class_alpha <= 0:
            raise InvalidParameterError("zipf must be >= 0 and class_alpha > 0")

    def _stems(self, rng, n: int) -> list[str]:
        syllables = [c + v for c in _CONSONANTS for v in _VOWELS]
        stems: dict[str, None] = {}
        while len(stems) < n:
            k = 2 if len(stems) < len(syllables) ** 2 // 4 else 3
            stems.setdefault("".join(rng.choice(syllables, k)), None)
        return list(stems)

    def _build_lexicon(self, rng):
        """Words, their classes, emissions E, transitions T and collocations, all from `rng`."""
        n_lem = np.array(self.lemmas)
        self._lemma_offset = np.concatenate([[0], np.cumsum(n_lem)])
        class_offset = np.concatenate([[0], np.cumsum(self.n_classes)])
        stems = self._stems(rng, int(n_lem.sum()))
        words = list(FUNCTION_WORDS)
        forms, gclass, emit, weights = [], [], [], []
        for cat in range(5):
            s = sorted(stems[self._lemma_offset[cat]:self._lemma_offset[cat + 1]], key=len)
            pairs = {NOUN: [(x, x + "s") for x in s], VT: [(x + "s", x) for x in s],
                     VI: [(x + "s", x) for x in s], ADV: [(x + "ly",) * 2 for x in s]}.get(cat)
            pairs = pairs or [(x, x) for x in s]
            for sg, pl in pairs:
                forms.append((len(words), len(words) + (sg != pl)))
                words.extend([sg, pl] if sg != pl else [sg])
            w = np.arange(1, len(s) + 1, dtype=float) ** -self.zipf
            cls = rng.permutation(len(s)) % self.n_classes[cat]
            emit.append(w / np.bincount(cls, weights=w)[cls])
            gclass.append(class_offset[cat] + cls)
            weights.append(w / w.sum())
        if len(set(words)) != len(words):
            raise AssertionError("pseudo-words collide")  # impossible by construction; cheap to check
        self.words = words
        self._index = {w: i for i, w in enumerate(words)}
        self._form = np.array(forms, dtype=np.int64)            # (lemmas, 2): token id per number
        self._gclass = np.concatenate(gclass)                    # global class of each lemma
        self._emit = np.concatenate(emit)                        # E[w]: p(lemma | its class)
        bos = len(words)                                         # pseudo-token before the first word
        # Previous-token classes: function words 0..N_FUNC-1, <s> = N_FUNC, then content classes.
        self._pclass = np.empty(bos + 1, np.int64)
        self._pclass[:N_FUNC] = np.arange(N_FUNC)
        self._pclass[bos] = N_FUNC
        self._cat = np.full(bos + 1, -1, np.int64)               # category of each token, -1 function
        self._lemma = np.full(bos + 1, -1, np.int64)
        self._num = np.zeros(bos + 1, np.int64)                  # 0 also for one-form categories
        for cat in range(5):
            lo, hi = self._lemma_offset[cat], self._lemma_offset[cat + 1]
            for num in (1, 0):
                ids = self._form[lo:hi, num]
                self._pclass[ids] = N_FUNC + 1 + self._gclass[lo:hi]
                self._cat[ids], self._lemma[ids], self._num[ids] = cat, np.arange(hi - lo), num
        n_prev = N_FUNC + 1 + class_offset[-1]
        self._T = np.zeros((n_prev, class_offset[-1]))          # T[prev class, class]: a block per category
        self._T_cum = np.zeros_like(self._T)
        for cat in range(5):
            a, b = class_offset[cat], class_offset[cat + 1]
            self._T[:, a:b] = rng.dirichlet(np.full(b - a, self.class_alpha), size=n_prev)
            self._T_cum[:, a:b] = np.cumsum(self._T[:, a:b], axis=1)
        self._class_offset = class_offset
        self._build_emission_cdfs()
        # Collocations: token id -> (category of its collocate, lemma, lam); lam = 0 for none.
        self._col_cat = np.full(bos + 1, -1, np.int64)
        self._col_lemma = np.zeros(bos + 1, np.int64)
        self._col_lam = np.zeros(bos + 1)
        for src, tgt in _COLLOCATIONS:
            n = self.lemmas[src]
            has = rng.random(n) < self.colloc_fraction
            target = rng.choice(self.lemmas[tgt], size=n, p=weights[tgt])
            for num in (0, 1):
                ids = self._form[self._lemma_offset[src] + np.flatnonzero(has), num]
                self._col_cat[ids], self._col_lemma[ids] = tgt, target[has]
                self._col_lam[ids] = self.colloc_strength

    def _build_emission_cdfs(self):
        """Per category: lemmas sorted by class and cdf = class + cumulative E inside the class,
        so one searchsorted(cdf, class + u) draws a lemma for many rows of different classes."""
        self._cdf, self._order, self._cls_start, self._cls_end = [], [], [], []
        for cat in range(5):
            lo, hi = self._lemma_offset[cat], self._lemma_offset[cat + 1]
            cls = self._gclass[lo:hi] - self._class_offset[cat]
            order = np.lexsort((np.arange(hi - lo), cls))
            sorted_cls, e = cls[order], self._emit[lo:hi][order]
            starts = np.searchsorted(sorted_cls, np.arange(self.n_classes[cat]))
            ends = np.append(starts[1:], hi - lo)
            within = np.cumsum(e) - np.repeat(np.cumsum(e)[starts] - e[starts], ends - starts)
            within[ends - 1] = 1.0  # exact class boundary despite rounding
            self._cdf.append(sorted_cls + within)
            self._order.append(order)
            self._cls_start.append(starts)
            self._cls_end.append(ends)

    # --- the word model ------------------------------------------------------------------
    def _word_logprobs(self, cats, prev, lemmas) -> np.ndarray:
        """ln p(lemma | slot category, previous token) for arrays of slots (the formula above)."""
        g = self._lemma_offset[cats] + lemmas
        p = self._T[self._pclass[prev], self._gclass[g]] * self._emit[g]
        lam = np.where(self._col_cat[prev] == cats, self._col_lam[prev], 0.0)
        hit = self._col_lemma[prev] == lemmas
        with np.errstate(divide="ignore"):
            return np.log((1.0 - lam) * p + lam * hit)

    def _sample_lemmas(self, cat: int, prev, u) -> np.ndarray:
        """Draw lemmas of `cat` after tokens `prev` with uniforms u (rows, 3): class, word, colloc."""
        a, b = self._class_offset[cat], self._class_offset[cat + 1]
        cum = self._T_cum[self._pclass[prev], a:b]
        k = np.minimum((cum < u[:, :1]).sum(axis=1), b - a - 1)
        idx = np.searchsorted(self._cdf[cat], k + u[:, 1], side="right")
        idx = np.clip(idx, self._cls_start[cat][k], self._cls_end[cat][k] - 1)
        lemmas = self._order[cat][idx]
        use = (self._col_cat[prev] == cat) & (u[:, 2] < self._col_lam[prev])
        return np.where(use, self._col_lemma[prev], lemmas)

    def _fill(self, codes: np.ndarray, offsets: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        """Fill the content slots of flat slot strings left to right, all sentences at once."""
        tokens = np.where(codes < N_FUNC, codes, -1)
        logp = np.zeros(len(codes))
        lengths = np.diff(offsets)
        position = np.arange(len(codes)) - np.repeat(offsets[:-1], lengths)
        content = np.flatnonzero(codes >= N_FUNC)
        content = content[np.argsort(position[content], kind="stable")]
        bounds = np.searchsorted(position[content], np.arange(lengths.max(initial=0) + 1))
        bos = len(self.words)
        for t in range(len(bounds) - 1):  # one step per position; each step is vectorised
            pos = content[bounds[t] : bounds[t + 1]]
            if not len(pos):
                continue
            prev = np.where(position[pos] > 0, tokens[pos - 1], bos)
            cats, nums = (codes[pos] - N_FUNC) // 2, (codes[pos] - N_FUNC) % 2
            u = rng.random((len(pos), 3))
            lemmas = np.zeros(len(pos), np.int64)
            for cat in np.unique(cats):
                m = cats == cat
                lemmas[m] = self._sample_lemmas(cat, prev[m], u[m])
            tokens[pos] = self._form[self._lemma_offset[cats] + lemmas, nums]
            logp[pos] = self._word_logprobs(cats, prev, lemmas)
        return tokens, logp

    # --- public API ----------------------------------------------------------------------
    def sample_ids(self, n: int, rng=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`n` sentences as flat token ids (indices into `words`), offsets and ln p per sentence."""
        rng = np.random.default_rng([self.seed, 1] if rng is None else rng)
        chooser = RandomChoices(rng)
        codes, lengths, struct_logp = [], np.zeros(n, np.int64), np.zeros(n)
        for k in range(n):
            chooser.logp = 0.0
            s = self.grammar.sentence(chooser)
            codes.extend(s)
            lengths[k], struct_logp[k] = len(s), chooser.logp
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        tokens, word_logp = self._fill(np.array(codes, np.int64), offsets, rng)
        sentence_of = np.repeat(np.arange(n), lengths)
        return tokens, offsets, struct_logp + np.bincount(sentence_of, word_logp, minlength=n)

    def sample(self, n: int, rng=None) -> tuple[list[list[str]], np.ndarray]:
        """`n` sentences (token lists) and their exact ln p (the final `</s>` included).

        `rng`: a numpy Generator or a seed; None uses a stream fixed by the language's seed.
        """
        tokens, offsets, logp = self.sample_ids(n, rng)
        words = self.words
        flat = [words[i] for i in tokens.tolist()]
        return [flat[offsets[k] : offsets[k + 1]] for k in range(n)], logp

    def _codes(self, ids: np.ndarray) -> np.ndarray:
        cats = self._cat[ids]
        return np.where(cats < 0, ids, N_FUNC + 2 * cats + self._num[ids])

    def logprob(self, tokens) -> float:
        """Exact ln p(tokens </s>) by parsing; -inf for a string the language cannot produce."""
        ids = np.array([self._index.get(t, -1) for t in tokens], np.int64)
        if len(ids) == 0 or (ids < 0).any():
            return -math.inf
        cats, lemmas = self._cat[ids], self._lemma[ids]
        struct = self.grammar.parse_structure(self._codes(ids).tolist())
        if struct == -math.inf:
            return struct
        content = np.flatnonzero(cats >= 0)
        prev = np.where(content > 0, ids[content - 1], len(self.words))
        return struct + float(self._word_logprobs(cats[content], prev, lemmas[content]).sum())

    def agreement_pairs(self, n: int, rng=None, min_distance: int = 3):
        """`n` minimal pairs probing long-distance memory: a sentence whose main-clause verb is at
        least `min_distance` tokens after its subject noun (a relative clause or parenthesis in
        between), and the same sentence with that verb in the wrong number (probability 0).

        Returns (good, bad, distance): a model with long memory prefers good to bad; an n-gram
        of order <= distance cannot see the subject. (Linzen et al. 2016's agreement test.)
        """
        rng = np.random.default_rng([self.seed, 9] if rng is None else rng)
        good, bad, dist = [], [], []
        for _ in range(1000):
            tokens, offsets, _ = self.sample_ids(max(64, 4 * n), rng)
            for k in range(len(offsets) - 1):
                ids = tokens[offsets[k] : offsets[k + 1]]
                pairs = [(v - s, v) for s, v, depth in self.grammar.agreements(self._codes(ids).tolist())
                         if depth == 0 and v - s >= min_distance]
                if pairs:
                    d, v = pairs[0]
                    flipped = ids.copy()
                    g = self._lemma_offset[self._cat[ids[v]]] + self._lemma[ids[v]]
                    flipped[v] = self._form[g, 1 - self._num[ids[v]]]
                    good.append([self.words[i] for i in ids])
                    bad.append([self.words[i] for i in flipped])
                    dist.append(d)
                    if len(good) == n:
                        return good, bad, np.array(dist)
        raise ValueError(f"found only {len(good)} sentences with min_distance={min_distance}")

    def enumerate(self, limit: int = 1_000_000):
        """Yield (tokens, ln p) for every sentence of a finite configuration (for tests).

        Every derivation of the grammar times every filling of its content slots; the
        probabilities sum to 1 exactly when the generator's choices are normalised.
        """
        count = 0
        words = self.words
        for codes, struct_logp in self.grammar.enumerate_structures(limit):
            codes = np.array(codes, np.int64)
            slots = np.flatnonzero(codes >= N_FUNC)
            cats, nums = (codes[slots] - N_FUNC) // 2, (codes[slots] - N_FUNC) % 2
            # every filling at once: rows = fillings, columns = content slots
            lemmas = np.array(list(itertools.product(*(range(self.lemmas[c]) for c in cats))), np.int64)
            lemmas = lemmas.reshape(-1, len(slots))
            count += len(lemmas)
            if count > limit:
                raise ValueError(f"more than {limit} sentences; use a smaller configuration")
            ids = np.repeat(codes[None, :], len(lemmas), axis=0)
            ids[:, slots] = self._form[self._lemma_offset[cats] + lemmas, nums]
            prev = np.where(slots > 0, ids[:, np.maximum(slots - 1, 0)], len(words))
            word_logp = self._word_logprobs(np.broadcast_to(cats, lemmas.shape), prev, lemmas).sum(axis=1)
            for row, lp in zip(ids.tolist(), (struct_logp + word_logp).tolist()):
                yield [words[i] for i in row], lp
