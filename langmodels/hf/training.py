"""Training (or fine-tuning) an `HFCausalModel`'s network on a corpus.

Each sequence is trained as its piece sequence, start piece to end-of-text piece: the cross-entropy
of those pieces is exactly the word-level negative log-likelihood the model reports (the
word-boundary factors cancel along a sentence; see langmodels.hf).
"""

from __future__ import annotations

import sys

import numpy as np

from ..corpus import Corpus
from ..vocabulary import EOS_ID


def train_causal_lm(model, corpus: Corpus, valid: Corpus | None = None) -> list[float]:
    """`model.epochs` passes of AdamW over `corpus` in shuffled batches; returns each epoch's mean loss."""
    import torch
    from tqdm.auto import tqdm

    net = model.net_
    rows = [model._pieces(np.append(s, EOS_ID))[0][:model._max_pieces] for s in corpus.sequences()]
    opt = torch.optim.AdamW(net.parameters(), lr=model.lr)
    rng = np.random.default_rng(model.seed)
    quiet = not (model.progress and sys.stderr.isatty())
    losses = []
    net.train()
    for epoch in range(model.epochs):
        order, total, n = rng.permutation(len(rows)), 0.0, 0
        for b in tqdm(range(0, len(rows), model.batch_size), desc=f"epoch {epoch + 1}", disable=quiet):
            batch = [rows[i] for i in order[b:b + model.batch_size]]
            width = max(len(r) for r in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)  # -100: not a target
            for k, r in enumerate(batch):
                ids[k, :len(r)] = labels[k, :len(r)] = torch.as_tensor(r)
            loss = net(input_ids=ids.to(net.device), labels=labels.to(net.device)).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + loss.item() * len(batch), n + len(batch)
        losses.append(total / n)
    net.eval()
    model.train_losses_ = losses
    return losses
