"""The small Zipf-like corpus and tiny models the adaptive-softmax tests share."""

import numpy as np

from langmodels import make

# 30 words, so that default cutoffs give a head and two tails.
RNG = np.random.default_rng(0)
WORDS = [f"w{i}" for i in range(30)]
ZIPF = 1 / np.arange(1, 31) / np.sum(1 / np.arange(1, 31))
TEXTS = [" ".join(RNG.choice(WORDS, size=RNG.integers(2, 10), p=ZIPF)) for _ in range(60)]
FAMILIES = ["rnn", "lstm", "gru", "transformer"]
TINY = {"embed_dim": 16, "hidden_size": 16, "n_layers": 1, "epochs": 1, "batch_size": 4, "seed": 0,
        "device": "cpu", "progress": False, "patience": None, "softmax": "adaptive"}
EXTRA = {"transformer": {"n_heads": 2, "block_size": 6}}   # sequences longer than the window


def tiny_adaptive(name, **params):
    """A tiny `name` model with an adaptive softmax (`tie_weights` among `params`)."""
    return make(name, **{**TINY, **EXTRA.get(name, {}), **params})


def histories(vocab):
    """Contexts to check: seen ones, a rare word, an unseen one (<unk>, id 0), a long repetition."""
    return [[], [vocab["w0"]], [vocab["w29"], vocab["w1"]], [vocab["w3"]] * 12, [0, 2, 5], [0, 0]]
