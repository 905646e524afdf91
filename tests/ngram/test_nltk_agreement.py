"""Agreement with nltk.lm where both define the same thing.

Conventions aligned: NLTK pads order-n sentences with n-1 `<s>` (and n-1 `</s>`) and counts
`<s>` as a vocabulary word. We give NLTK a vocabulary without `<s>` (so its padding maps to
`<UNK>`, which the toy text never produces) and compare on contexts seen in training: there
NLTK's Laplace/Lidstone denominator c(h) + k|V| and ours, c(h) + k(V - 1), are the same sum,
and NLTK's "<s> <s> w" counts equal our "<s> w". On unseen contexts NLTK's Laplace is uniform,
while ours uses the longest seen suffix (documented), so those are not compared.
"""

from __future__ import annotations

import numpy as np
import pytest

from langmodels import make
from tests.stubs import TOY_TRAIN

nltk_lm = pytest.importorskip("nltk.lm")
from nltk.lm.preprocessing import pad_both_ends  # noqa: E402
from nltk.util import everygrams  # noqa: E402


def nltk_model(cls, order, **kw):
    sents = [s.split() for s in TOY_TRAIN]
    model = cls(order=order, **kw) if kw else cls(order)
    vocab = [w for s in sents for w in s] + ["</s>"]
    text = [list(everygrams(list(pad_both_ends(s, n=order)), max_len=order)) for s in sents]
    model.fit(text, vocabulary_text=vocab)
    return model


def seen_context_cases(order):
    """(history words, next word) along the training sentences: every context is seen."""
    cases = []
    for s in TOY_TRAIN:
        words = s.split() + ["</s>"]
        for t, w in enumerate(words):
            cases.append((words[max(0, t - order + 1):t], w))
    return cases


@pytest.mark.parametrize("name, cls, kw", [
    ("laplace", "Laplace", {}),
    ("add-k", "Lidstone", {"gamma": 0.5}),
    ("mle", "MLE", {}),
])
@pytest.mark.parametrize("order", [2, 3])
def test_agrees_with_nltk_on_seen_contexts(name, cls, kw, order, toy_train):
    theirs = nltk_model(getattr(nltk_lm, cls), order, **kw)
    params = {"order": order} | ({"k": kw["gamma"]} if kw else {})
    ours = make(name, **params).fit(toy_train)
    assert len(theirs.vocab) == len(toy_train.vocab) - 1          # <UNK>, </s>, words
    v = toy_train.vocab
    for history, word in seen_context_cases(order):
        # NLTK's context: padded with <s> (looked up as <UNK>) to order - 1 words.
        context = ["<s>"] * (order - 1 - len(history)) + history
        expected = theirs.score(word, context)
        got = np.exp(ours.next_logprobs([[v[w] for w in history]])[0, v[word]])
        assert got == pytest.approx(expected, rel=1e-12), (history, word)
