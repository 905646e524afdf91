"""Shared fixtures: small corpora the tests build themselves (no ../shared/data needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from langmodels import Corpus

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

TOY_TRAIN = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat saw a dog",
    "the dog saw the cat on the mat",
    "a dog sat",
    "the cat ran",
    "cats and dogs ran on the log",
    "the mat was red",
]
TOY_TEST = ["the cat sat on the log", "a bird sat on the mat", "dogs ran"]

# Per-model parameters that keep the contract suite fast; a family adds its entry when it joins.
FAST_PARAMS: dict[str, dict] = {
    "add-k": {"k": 0.5},
    "hmm": {"n_states": 4, "n_iter": 3, "seed": 0},
    "rnn": {"embed_dim": 8, "hidden_size": 8, "n_layers": 1, "epochs": 2, "batch_size": 4, "seed": 0,
            "device": "cpu", "progress": False},
    "lstm": {"embed_dim": 8, "hidden_size": 8, "n_layers": 1, "epochs": 2, "batch_size": 4, "seed": 0,
             "device": "cpu", "progress": False},
    "gru": {"embed_dim": 8, "hidden_size": 8, "n_layers": 1, "epochs": 2, "batch_size": 4, "seed": 0,
            "device": "cpu", "progress": False},
    "transformer": {"embed_dim": 8, "n_heads": 2, "n_layers": 1, "block_size": 16, "epochs": 2,
                    "batch_size": 4, "seed": 0, "device": "cpu", "progress": False},
    "interpolated": {"components": [["kneser-ney", {"order": 2}], ["unigram", {"k": 0.5}]]},
    "hf-causal": {"config": {"n_layer": 1, "n_embd": 16, "n_head": 2, "n_positions": 128},
                  "bpe_vocab_size": 300, "seed": 0, "progress": False},
}


@pytest.fixture(scope="session")
def toy_train() -> Corpus:
    return Corpus.from_texts(TOY_TRAIN, name="toy-train")


@pytest.fixture(scope="session")
def toy_test(toy_train) -> Corpus:
    return Corpus.from_texts(TOY_TEST, vocab=toy_train.vocab, name="toy-test")


def shared_data_or_skip(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present (benchmark corpora live beside the project, not in it)")
    return path
