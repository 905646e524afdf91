"""What several test modules share: toy corpora, fast parameters, probe histories, a stub model.

Test modules import from here, never from one another (conftest.py holds only fixtures).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from langmodels.base import LanguageModel

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
    # masked models (tests/test_masked_contract.py)
    "bert": {"embed_dim": 8, "n_heads": 2, "n_layers": 1, "block_size": 16, "epochs": 2, "batch_size": 4,
             "seed": 0, "device": "cpu", "progress": False},
}


BERT_SPECIALS = {"unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                 "mask_token": "[MASK]"}


def tiny_bert_dir(path: Path) -> Path:
    """Save into `path` a BERT directory built offline: WordPiece of 40 pieces trained on TOY_TRAIN
    (dogs = dog ##s, red = r ##e ##d) and a randomly initialised 1-layer network."""
    import torch
    import transformers as tf
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tk = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.train_from_iterator(TOY_TRAIN, trainers.WordPieceTrainer(
        vocab_size=40, special_tokens=list(BERT_SPECIALS.values()), show_progress=False))
    tok = tf.PreTrainedTokenizerFast(tokenizer_object=tk, **BERT_SPECIALS)
    torch.manual_seed(0)
    net = tf.BertForMaskedLM(tf.BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                                           num_attention_heads=2, intermediate_size=32,
                                           max_position_embeddings=64, pad_token_id=tok.pad_token_id))
    tok.save_pretrained(path)
    net.save_pretrained(path)
    return path


def tiny_bert_classifier_dir(path: Path, texts: list[str]) -> Path:
    """Save into `path` a 1-layer BERT (hidden 16, random weights, no head) and a WordPiece
    tokenizer of 80 pieces trained on `texts` that writes [CLS] text [SEP], built offline."""
    import torch
    import transformers as tf
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tk = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=80, special_tokens=list(BERT_SPECIALS.values()), show_progress=False))
    tk.post_processor = processors.BertProcessing(("[SEP]", tk.token_to_id("[SEP]")),
                                                  ("[CLS]", tk.token_to_id("[CLS]")))
    tok = tf.PreTrainedTokenizerFast(tokenizer_object=tk, **BERT_SPECIALS)
    torch.manual_seed(0)
    net = tf.BertModel(tf.BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32,
                                     max_position_embeddings=64, pad_token_id=tok.pad_token_id))
    tok.save_pretrained(path)
    net.save_pretrained(path)
    return path


def shared_data_or_skip(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present (benchmark corpora live beside the project, not in it)")
    return path


def histories_for(vocab):
    """Eight histories that probe the edge cases of a model's context handling (toy vocabulary)."""
    v = vocab
    return [
        [],                                            # right after <s>
        [v["the"]],                                    # seen
        [v["the"], v["cat"], v["sat"]],                # seen, longer
        [v["mat"], v["a"], v["ran"]],                  # unseen combination
        [v.unk_id, v["cat"]],                          # <unk> in the history
        [v["dog"], v.unk_id],
        [v.eos_id],                                    # </s> as context
        [v["the"], v["cat"]] * 40,                     # longer than any order or window
    ]


# ids: 0 <unk>, 1 <s>, 2 </s>, 3 a, 4 b, 5 c
UNK, BOS, EOS, A, B, C = range(6)
TABLE = {  # p(next | last token); None = right after <s>
    None: {A: 0.55, B: 0.40, C: 0.04, EOS: 0.01},
    A: {B: 0.36, C: 0.34, EOS: 0.30},
    B: {EOS: 0.90, A: 0.05, C: 0.05},
    C: {EOS: 1.0},
    EOS: {EOS: 1.0},
    UNK: {EOS: 1.0},
}


class TableModel(LanguageModel):
    """A bigram model with the fixed table above; counts its calls to check caching."""

    has_incremental_state = True

    def _fit(self, corpus, valid=None):
        V = len(self.vocab_)
        self.rows_ = {}
        for last, dist in TABLE.items():
            row = np.full(V, -np.inf)
            for w, p in dist.items():
                row[w] = math.log(p)
            self.rows_[last] = row
        self.calls_ = {"next": 0, "advance": 0}

    def _next_logprobs(self, histories):
        self.calls_["next"] += 1
        return np.stack([self.rows_[int(h[-1]) if len(h) else None] for h in histories])

    def _start_state(self, histories):
        last = [int(h[-1]) if len(h) else None for h in histories]
        return last, np.stack([self.rows_[x] for x in last])

    def _advance(self, state, tokens):
        self.calls_["advance"] += 1
        last = [int(t) for t in tokens]
        return last, np.stack([self.rows_[x] for x in last])

    def _reorder_state(self, state, rows):
        return [state[r] for r in rows]
