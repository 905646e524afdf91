"""The sentence skeleton of the synthetic language: a small probabilistic grammar over *slots*.

A slot is either a function word (a determiner, "that", "and", "(", ")") or a content slot
`(category, number)` that the word model of `synthetic.py` fills with a word. The grammar:

    S      -> CL ("and" CL)*                                   another clause with p_and
    CL     -> NP[n] VP[n]                                       the verb agrees with its subject
    NP[n]  -> DET ADJ* NOUN[n] ["(" CL ")"] [RC[n]]             number n chosen by DET, else p_sg
    RC[n]  -> "that" NP[m] VT[m]   (object relative, p_obj_rel) the head is the object ...
            | "that" VT[n] NP[m]                                ... or the subject of the clause
    VP[n]  -> (VT[n] NP[m] | VI[n]) [ADV]                       transitive with p_transitive

Embeddings (parentheses, relative clauses) at depth d happen with p * depth_decay**d, and never
at d >= max_depth. Every choice is revealed by the string, because the words of different
categories (and numbers) are disjoint and each option begins differently: another adjective or
the noun, whose form shows the number; "(" or "that" right after the noun (nothing that may
follow a noun phrase begins with either); a determiner (object relative) or a verb (subject
relative) after "that"; VT or VI; ADV or not (relative clauses have none, so an adverb belongs
to the verb phrase being closed). Hence a sentence has exactly one derivation, and
ln p(sentence) = sum of ln p(choice) over the choices made. `parse_structure`
recovers the choices from a slot string; `enumerate_structures` lists every derivation of a
finite configuration by replaying the sampler with scripted choices (an odometer over choices).
"""

from __future__ import annotations

import math

SG, PL = 0, 1
ADJ, NOUN, VT, VI, ADV = range(5)
CATEGORIES = ("adj", "noun", "vt", "vi", "adv")
# Determiners and the number they impose on their noun (None: either, chosen with p_sg).
DETERMINERS = (("the", None), ("a", SG), ("this", SG), ("some", PL), ("these", PL))
FUNCTION_WORDS = tuple(d for d, _ in DETERMINERS) + ("that", "and", "(", ")")
THAT, AND, LPAR, RPAR = (FUNCTION_WORDS.index(w) for w in ("that", "and", "(", ")"))
N_FUNC = len(FUNCTION_WORDS)
END = -1  # what the parser sees past the last slot


def content_code(cat: int, num: int = SG) -> int:
    """Slot code of a content slot; codes below N_FUNC are function words themselves."""
    return N_FUNC + 2 * cat + num


def _log(p: float) -> float:
    return math.log(p) if p > 0 else -math.inf


class RandomChoices:
    """Makes the grammar's choices at random, adding ln p(choice) to `logp`."""

    def __init__(self, rng):
        self._rng, self._buf, self._i = rng, [], 0
        self.logp = 0.0

    def _uniform(self) -> float:
        if self._i == len(self._buf):  # draw uniforms in bulk: one numpy call per 64k choices
            self._buf, self._i = self._rng.random(1 << 16).tolist(), 0
        self._i += 1
        return self._buf[self._i - 1]

    def flip(self, p: float) -> bool:
        if p <= 0.0:
            return False
        if p >= 1.0:
            return True
        i = self._i
        if i == len(self._buf):
            self._uniform()
            i = 0
        self._i = i + 1
        if self._buf[i] < p:  # the hot path of sampling: kept free of calls
            self.logp += math.log(p)
            return True
        self.logp += math.log1p(-p)
        return False

    def choose(self, probs) -> int:
        u, acc, last = self._uniform(), 0.0, 0
        for i, p in enumerate(probs):
            if p > 0:
                acc += p
                last = i
                if u < acc:
                    break
        self.logp += math.log(probs[last])
        return last


class ScriptedChoices:
    """Follows `script` (option indices), then takes the first possible option; records a trace."""

    def __init__(self, script):
        self.script, self.trace, self.logp = script, [], 0.0

    def choose(self, probs) -> int:
        feasible = [i for i, p in enumerate(probs) if p > 0]
        k = len(self.trace)
        i = self.script[k] if k < len(self.script) else feasible[0]
        self.trace.append((i, feasible))
        self.logp += math.log(probs[i])
        return i

    def flip(self, p: float) -> bool:
        return self.choose((1.0 - p, p)) == 1


class Grammar:
    """The structural parameters and the three ways of using them: sample, parse, enumerate."""

    def __init__(self, det_probs, p_sg, p_adj, max_adj, p_paren, p_rc, depth_decay, max_depth,
                 p_obj_rel, p_transitive, p_adv, p_and, max_clauses):
        self.det_probs = tuple(float(p) for p in det_probs)
        self.p_sg, self.p_adj, self.max_adj = p_sg, p_adj, max_adj
        self.p_paren, self.p_rc, self.depth_decay, self.max_depth = p_paren, p_rc, depth_decay, max_depth
        self.p_obj_rel, self.p_transitive, self.p_adv = p_obj_rel, p_transitive, p_adv
        self.p_and, self.max_clauses = p_and, max_clauses
        self._embed_cache: dict[int, tuple[float, float]] = {}

    # --- probabilities that depend on where we are ---------------------------------------
    def _p_embed(self, p: float, depth: int) -> float:
        return p * self.depth_decay**depth if depth < self.max_depth else 0.0

    def _p_embeds(self, depth: int) -> tuple[float, float]:
        """(p of a parenthesis, p of a relative clause) after a noun at this depth."""
        cached = self._embed_cache.get(depth)
        if cached is None:
            cached = self._embed_cache[depth] = (self._p_embed(self.p_paren, depth),
                                                 self._p_embed(self.p_rc, depth))
        return cached

    def _p_more_adj(self, n_adj: int) -> float:
        return self.p_adj if self.max_adj is None or n_adj < self.max_adj else 0.0

    def _p_more_clauses(self, n_clauses: int) -> float:
        return self.p_and if self.max_clauses is None or n_clauses < self.max_clauses else 0.0

    # --- generation: `ch` makes the choices (RandomChoices or ScriptedChoices) -------------
    def sentence(self, ch) -> list[int]:
        out: list[int] = []
        n = 0
        while True:
            self._clause(ch, out, 0)
            n += 1
            if not ch.flip(self._p_more_clauses(n)):
                return out
            out.append(AND)

    def _clause(self, ch, out, depth):
        num = self._np(ch, out, depth)
        self._vp(ch, out, num, depth)

    def _np(self, ch, out, depth) -> int:
        d = ch.choose(self.det_probs)
        out.append(d)
        n_adj = 0
        while ch.flip(self._p_more_adj(n_adj)):
            out.append(content_code(ADJ))
            n_adj += 1
        num = DETERMINERS[d][1]
        if num is None:
            num = PL if ch.flip(1.0 - self.p_sg) else SG
        out.append(content_code(NOUN, num))
        p_paren, p_rc = self._p_embeds(depth)
        if ch.flip(p_paren):
            out.append(LPAR)
            self._clause(ch, out, depth + 1)
            out.append(RPAR)
        if ch.flip(p_rc):
            out.append(THAT)
            if ch.flip(self.p_obj_rel):
                m = self._np(ch, out, depth + 1)
                out.append(content_code(VT, m))
            else:
                out.append(content_code(VT, num))
                self._np(ch, out, depth + 1)
        return num

    def _vp(self, ch, out, num, depth):
        if ch.flip(self.p_transitive):
            out.append(content_code(VT, num))
            self._np(ch, out, depth)
        else:
            out.append(content_code(VI, num))
        if ch.flip(self.p_adv):
            out.append(content_code(ADV))

    # --- enumeration -----------------------------------------------------------------------
    def enumerate_structures(self, limit: int = 1_000_000):
        """Yield (slot codes, ln p) for every derivation; needs max_adj and max_clauses set."""
        if (self.max_adj is None and self.p_adj > 0) or (self.max_clauses is None and self.p_and > 0):
            raise ValueError("enumeration needs a finite language: set max_adj and max_clauses")
        script: list[int] = []
        for _ in range(limit):
            ch = ScriptedChoices(script)
            yield self.sentence(ch), ch.logp
            for j in range(len(ch.trace) - 1, -1, -1):  # advance the odometer, last choice first
                i, feasible = ch.trace[j]
                later = [f for f in feasible if f > i]
                if later:
                    script = [t[0] for t in ch.trace[:j]] + [later[0]]
                    break
            else:
                return
        raise ValueError(f"more than {limit} derivations; use a smaller configuration")

    # --- parsing ---------------------------------------------------------------------------
    def parse_structure(self, codes) -> float:
        """ln p of the choices that produce this slot string (-inf if the grammar cannot)."""
        parser = _Parser(self, list(codes))
        try:
            parser.sentence()
        except _NoParse:
            return -math.inf
        return parser.logp

    def agreements(self, codes) -> list[tuple[int, int, int]]:
        """(subject noun index, verb index, depth) of every agreeing pair in a valid slot string."""
        parser = _Parser(self, list(codes))
        parser.sentence()
        return parser.agreements


class _NoParse(Exception):
    pass


class _Parser:
    """Recursive descent mirroring Grammar's generator; one token of look-ahead decides."""

    def __init__(self, g: Grammar, codes: list[int]):
        self.g, self.codes, self.i, self.logp = g, codes, 0, 0.0
        self.agreements: list[tuple[int, int, int]] = []  # (noun index, verb index, depth)

    def peek(self) -> int:
        return self.codes[self.i] if self.i < len(self.codes) else END

    def expect(self, code: int) -> None:
        if self.peek() != code:
            raise _NoParse
        self.i += 1

    def decide(self, p: float, taken: bool) -> None:
        self.logp += _log(p) if taken else _log(1.0 - p)
        if self.logp == -math.inf:
            raise _NoParse

    def sentence(self):
        n = 0
        while True:
            self.clause(0)
            n += 1
            more = self.peek() == AND
            self.decide(self.g._p_more_clauses(n), more)
            if not more:
                break
            self.i += 1
        if self.i != len(self.codes):
            raise _NoParse

    def clause(self, depth):
        num = self.np(depth)
        self.agreements.append((self.noun, self.i, depth))
        self.vp(num, depth)

    def np(self, depth) -> int:
        g, d = self.g, self.peek()
        if not 0 <= d < len(DETERMINERS):
            raise _NoParse
        self.i += 1
        self.logp += _log(g.det_probs[d])
        n_adj = 0
        while True:
            more = self.peek() == content_code(ADJ)
            self.decide(g._p_more_adj(n_adj), more)
            if not more:
                break
            self.i += 1
            n_adj += 1
        c = self.peek()
        if c not in (content_code(NOUN, SG), content_code(NOUN, PL)):
            raise _NoParse
        self.noun = noun = self.i
        self.i += 1
        num = (c - N_FUNC) % 2
        forced = DETERMINERS[d][1]
        if forced is None:
            self.decide(1.0 - g.p_sg, num == PL)
        elif forced != num:
            raise _NoParse
        paren = self.peek() == LPAR
        self.decide(g._p_embed(g.p_paren, depth), paren)
        if paren:
            self.i += 1
            self.clause(depth + 1)
            self.expect(RPAR)
        rc = self.peek() == THAT
        self.decide(g._p_embed(g.p_rc, depth), rc)
        if rc:
            self.i += 1
            obj_rel = 0 <= self.peek() < len(DETERMINERS)
            self.decide(g.p_obj_rel, obj_rel)
            if obj_rel:
                m = self.np(depth + 1)
                self.agreements.append((self.noun, self.i, depth + 1))
                self.expect(content_code(VT, m))
            else:
                self.agreements.append((noun, self.i, depth + 1))
                self.expect(content_code(VT, num))
                self.np(depth + 1)
        self.noun = noun  # this phrase's head, not a noun nested inside it
        return num

    def vp(self, num, depth):
        transitive = self.peek() == content_code(VT, num)
        if not transitive and self.peek() != content_code(VI, num):
            raise _NoParse
        self.decide(self.g.p_transitive, transitive)
        self.i += 1
        if transitive:
            self.np(depth)
        adv = self.peek() == content_code(ADV)
        self.decide(self.g.p_adv, adv)
        if adv:
            self.i += 1
