"""What an `HFCausalModel` gives the one training loop (`langmodels.neural.training`).

Each sequence is trained as its piece sequence, start piece to end-of-text piece: the cross-entropy
of those pieces is exactly the word-level negative log-likelihood the model reports (the
word-boundary factors cancel along a sentence; see langmodels.hf). So a batch is the neural
family's sentence batch with pieces for words:

    x = <start> the ca t sat              y = the ca t sat <end>       (padding: IGNORE, not counted)
"""

from __future__ import annotations

import numpy as np
from torch import nn

from ..corpus import Corpus
from ..neural.batching import sentence_batches
from ..vocabulary import EOS_ID


class PieceLM(nn.Module):
    """A `transformers` causal LM behind the loop's forward(x, state) -> (logits, state).

    It holds the network as `net`, so the loop's checkpoints name its weights `net.<name>`.
    """

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, state=None):
        return self.net(input_ids=x).logits, None                               # (B, T, n_pieces)


def piece_batches(model, corpus: Corpus, rng: np.random.Generator) -> list:
    """The epoch's (x, y, reset) batches of piece ids, length-bucketed and shuffled by `rng`;
    a sequence longer than the network's window is cut to its first pieces."""
    pieces = []
    for seq in corpus.sequences():
        row = np.asarray(model._pieces(np.append(seq, EOS_ID))[0][:model._max_pieces + 1], np.int64)
        pieces.append((row[:-1], row[1:]))
    return [(x, y, True) for x, y in sentence_batches(pieces, model.batch_size, rng)]


class SequenceClassifierModule(nn.Module):
    """A `transformers` sequence classifier behind the loop's forward(x, state) -> (logits, state)
    (`langmodels.classify.hf.HFSequenceClassifier`): padding masked out of attention, logits
    (B, 1, C), one target per row. The network is `net`, so checkpoints name its weights `net.<name>`."""

    def __init__(self, net, pad_id: int):
        super().__init__()
        self.net, self.pad_id = net, pad_id

    def forward(self, x, state=None):
        return self.net(input_ids=x, attention_mask=(x != self.pad_id).long()).logits[:, None], None
