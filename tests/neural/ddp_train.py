"""Run under torchrun by test_training.py: train tiny models with DDP, rank 0 saves them.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/neural/ddp_train.py OUT
"""

import os
import sys

import torch

from langmodels import Corpus, make

TEXTS = ["a b c d e f a b", "b c a", "d e f a b c d e f a", "c c", "e f a", "a a b b c c d"]
# Same global batch as a single process; no dropout, so no per-rank random numbers.
MODELS = {
    "lstm": {"embed_dim": 8, "hidden_size": 8, "n_layers": 2, "dropout": 0.0, "epochs": 2,
             "batch_size": 4, "patience": None, "seed": 0, "device": "cpu", "progress": False},
    "transformer": {"embed_dim": 8, "n_heads": 2, "n_layers": 1, "block_size": 8, "dropout": 0.0,
                    "context": "stream", "bptt": 4, "warmup": 2, "epochs": 2, "batch_size": 2,
                    "patience": None, "seed": 0, "device": "cpu", "progress": False},
    # masked: every rank draws the same global batch and masks from rng(seed, epoch), then takes its rows
    "bert": {"embed_dim": 8, "n_heads": 2, "n_layers": 1, "block_size": 8, "dropout": 0.0, "warmup": 2,
             "epochs": 2, "batch_size": 2, "patience": None, "seed": 0, "device": "cpu", "progress": False},
}


def main(out):
    torch.set_num_threads(1)
    train = Corpus.from_texts(TEXTS)
    valid = Corpus.from_texts(TEXTS[:2], vocab=train.vocab)
    for name, params in MODELS.items():
        model = make(name, **params).fit(train, valid)
        if int(os.environ.get("RANK", 0)) == 0:
            model.save(os.path.join(out, name))
    torch.distributed.destroy_process_group()   # fit leaves the group up for its caller


if __name__ == "__main__":
    main(sys.argv[1])
